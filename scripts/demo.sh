#!/usr/bin/env bash
# Local demo of the migration workflow on real engines, through the real
# Lambda path: starts Elasticsearch 7.10 (the old domain) and OpenSearch 2.19
# (the new one) on loopback, sharing one fs repository directory as two
# domains share one S3 bucket; fills the source with sample log indices; then
# runs statemachine/migration.asl.json in aws-local-stepfunctions, whose Task
# states call every function's bootstrap under the Lambda Runtime Interface
# Emulator (scripts/workflow.sh): pre-flight, register the repository
# (readonly on the target), snapshot, poll, restore renamed (push cut-over),
# poll, verify; and prints the report. Stops everything it started.
# Usage: make demo   (DEMO_STRATEGY=pull for the pull cut-over)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/demo}
SRC_PORT=${DEMO_SOURCE_PORT:-9292}
TGT_PORT=${DEMO_TARGET_PORT:-9291}
STRATEGY=${DEMO_STRATEGY:-push}
say() { printf '\n\033[1m>> %s\033[0m\n' "$*"; }

bash scripts/peers.sh install
cleanup() { bash scripts/peers.sh stop demo-elasticsearch || true; bash scripts/peers.sh stop demo-opensearch || true; }
trap cleanup EXIT
bash scripts/peers.sh start elasticsearch demo-elasticsearch "$SRC_PORT"
bash scripts/peers.sh start opensearch demo-opensearch "$TGT_PORT"
SRC=$(bash scripts/peers.sh url demo-elasticsearch)
TGT=$(bash scripts/peers.sh url demo-opensearch)

say "sample logs on the source $SRC (Elasticsearch 7.10)"
for day in 2026.11.21 2026.11.22 2026.11.23; do
  curl -fsS -XDELETE "$SRC/logs-$day" >/dev/null 2>&1 || true
  curl -fsS -XPUT "$SRC/logs-$day" -H 'Content-Type: application/json' -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null
  python3 - "$day" >"$ESSNAP_RUN/bulk.ndjson" <<'PY'
import json, sys
day = sys.argv[1]
for i in range(2000):
    print(json.dumps({"index": {"_id": f"{day}-{i}"}}))
    print(json.dumps({"@timestamp": day.replace(".", "-") + "T00:00:00Z", "level": ["info", "warn", "error"][i % 3], "message": f"request {i} served"}))
PY
  curl -fsS -XPOST "$SRC/logs-$day/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary @"$ESSNAP_RUN/bulk.ndjson" >/dev/null
done
curl -fsS "$SRC/_cat/indices/logs-*?v&s=index&h=index,docs.count,store.size"

cat >"$ESSNAP_RUN/migration-input.json" <<JSON
{
  "source": {"endpoint": "$SRC", "unsigned": true},
  "target": {"endpoint": "$TGT", "unsigned": true},
  "repository": {"repository": "migration", "type": "fs", "location": "$ESSNAP_RUN/repo/migration-$(date +%s)"},
  "indices": ["logs-*"],
  "strategy": "$STRATEGY",
  "rename_suffix": "-restored",
  "poll": {"initial_seconds": 1, "max_seconds": 10, "snapshot_deadline_seconds": 3600, "restore_deadline_seconds": 3600}
}
JSON
say "state machine input ($ESSNAP_RUN/migration-input.json)"
cat "$ESSNAP_RUN/migration-input.json"

say "running statemachine/migration.asl.json (aws-local-stepfunctions -> bootstraps under the Lambda emulator)"
set +e
bash scripts/workflow.sh "$ESSNAP_RUN/migration-input.json" --switch auto --wait-ms 500 >"$ESSNAP_RUN/execution.jsonl"
rc=$?
set -e
python3 - "$ESSNAP_RUN/execution.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for e in lines:
    if e["event"] == "state_entered":
        print(f'  {e["t"]:7.2f}s  {e["state"]}')
    elif e["event"] in ("state_retried", "state_failed", "switch_requested"):
        print("          ", json.dumps(e)[:300])
res = lines[-1] if lines else {}
if res.get("status") != "SUCCEEDED":
    print("\nFAILED:", res.get("error"), res.get("cause"))
    sys.exit(1)
r = res["output"]["report"]
print("\nReport (%s, snapshot %s):" % (r["strategy"], r["snapshot"]))
print("  %-28s %-36s %10s %10s %10s  %s" % ("source index", "target index", "source", "target", "bytes", "ok"))
for i in r["indices"]:
    print("  %-28s %-36s %10d %10d %10d  %s" % (i["source"], i["target"], i["source_docs"], i["target_docs"], i["target_bytes"], "yes" if i["ok"] else "NO: " + i.get("problem", "")))
t = r["totals"]
print("  totals: %d indices, %d source documents, %d target documents, %d bytes restored" % (t["indices"], t["source_docs"], t["target_docs"], t["target_bytes"]))
print("  durations (s):", ", ".join("%s %.2f" % kv for kv in sorted(r["durations_seconds"].items())))
print("  compared:", r["compared"])
PY
[[ $rc == 0 ]] || { echo "workflow failed (exit $rc); emulator logs in $ESSNAP_RUN/workflow-logs"; exit 1; }
say "target $TGT (OpenSearch 2.19) after the migration"
curl -fsS "$TGT/_cat/indices/logs-*?v&s=index&h=index,health,docs.count,store.size"
say "demo finished: Elasticsearch 7.10 -> OpenSearch migrated and verified through the state machine"
