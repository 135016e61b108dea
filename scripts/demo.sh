#!/usr/bin/env bash
# Local demo of the migration operators face next, on real engines, through
# the real Lambda path: starts Elasticsearch 7.10 (the old domain) and
# OpenSearch 3.5 (the new one) on loopback; fills the source with sample log
# indices, one of them large; then runs statemachine/migration.asl.json in
# aws-local-stepfunctions, whose Task states call every function's bootstrap
# under the Lambda Runtime Interface Emulator (scripts/workflow.sh). OpenSearch
# 3.5 reads no index Elasticsearch created, so the pre-flight picks reindex
# for every index: the target creates each index from the source's
# definition and copies the documents with its own remote reindex, several
# tasks at once, the large index split by @timestamp; then verify, replicas,
# and the report with the method and rate per index. Stops everything it
# started.
# Usage: make demo   (DEMO_STRATEGY=pull for the pull cut-over;
#        DEMO_TARGET=opensearch for OpenSearch 2.19, which reads these
#        indices, so they go by snapshot through the shared repository)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/demo}
SRC_PORT=${DEMO_SOURCE_PORT:-9292}
TGT_PORT=${DEMO_TARGET_PORT:-9291}
STRATEGY=${DEMO_STRATEGY:-push}
TARGET_KIND=${DEMO_TARGET:-opensearch3}
case $TARGET_KIND in opensearch3) TARGET_NAME="OpenSearch 3.5" ;; opensearch) TARGET_NAME="OpenSearch 2.19" ;;
  *) echo "DEMO_TARGET=$TARGET_KIND: use opensearch3 (default) or opensearch" >&2; exit 2 ;; esac
say() { printf '\n\033[1m>> %s\033[0m\n' "$*"; }

bash scripts/peers.sh install
cleanup() { bash scripts/peers.sh stop demo-elasticsearch || true; bash scripts/peers.sh stop demo-opensearch || true; }
trap cleanup EXIT
bash scripts/peers.sh start elasticsearch demo-elasticsearch "$SRC_PORT"
bash scripts/peers.sh start "$TARGET_KIND" demo-opensearch "$TGT_PORT"
SRC=$(bash scripts/peers.sh url demo-elasticsearch)
TGT=$(bash scripts/peers.sh url demo-opensearch)

say "sample logs on the source $SRC (Elasticsearch 7.10)"
for day in 2026.11.21 2026.11.22 2026.11.23; do
  n=2000; [[ $day == 2026.11.23 ]] && n=30000
  curl -fsS -XDELETE "$SRC/logs-$day" >/dev/null 2>&1 || true
  curl -fsS -XPUT "$SRC/logs-$day" -H 'Content-Type: application/json' -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null
  python3 - "$day" "$n" >"$ESSNAP_RUN/bulk.ndjson" <<'PY'
import datetime, json, sys
day, n = sys.argv[1], int(sys.argv[2])
start = datetime.datetime.strptime(day, "%Y.%m.%d").replace(tzinfo=datetime.timezone.utc)
for i in range(n):
    ts = start + datetime.timedelta(seconds=i * 86400 // n)
    print(json.dumps({"index": {"_id": f"{day}-{i}"}}))
    print(json.dumps({"@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "level": ["info", "warn", "error"][i % 3], "message": f"request {i} served"}))
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
  "split_docs": 10000,
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
python3 - "$ESSNAP_RUN/execution.jsonl" "$TGT" <<'PY'
import json, sys, urllib.request
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
out = res["output"]
r = out["report"]
# The per-index rows are in the ledger on the target (docs/migration.md#the-ledger).
q = "%s/.essnap-ledger/_search?q=kind:index%%20AND%%20migration:%s&sort=source:asc&size=1000" % (sys.argv[2], out["migration"])
rows = [h["_source"] for h in json.load(urllib.request.urlopen(q))["hits"]["hits"]]
def created(v):
    # Version ids: major*1000000 + minor*10000 + patch*100 + build; OpenSearch sets bit 27.
    name = "opensearch" if v & (1 << 27) else "elasticsearch"
    v &= ~(1 << 27)
    return "%s %d.%d.%d" % (name, v // 1000000, v // 10000 % 100, v // 100 % 100)
def rate(row):
    parts = (row.get("item") or {}).get("parts") or []
    docs = sum(p.get("created", 0) for p in parts)
    span = (max((p.get("end_ms", 0) for p in parts), default=0) - min((p.get("start_ms", 0) for p in parts), default=0)) / 1000
    return ("%d" % len(parts)) if parts else "-", ("%.0f" % (docs / span)) if parts and span > 0 else "-"
print("\nReport (%s, %s -> %s; snapshot %s; migration %s):" % (r["strategy"], out["preflight"]["source_engine"]["number"], out["preflight"]["target_engine"]["number"], r["snapshot"] or "none", out["migration"]))
print("  %-18s %-18s %-9s %-26s %8s %8s %10s %6s %9s  %s" % ("source index", "created by", "method", "target index", "source", "target", "bytes", "parts", "docs/s", "ok"))
for i in rows:
    v = i.get("verdict") or {}
    parts, dps = rate(i)
    print("  %-18s %-18s %-9s %-26s %8d %8d %10d %6s %9s  %s" % (i["source"], created(i.get("created_version_id", 0)), i["method"], i["target"], v.get("source_docs", 0), v.get("target_docs", 0), v.get("target_bytes", 0),
        parts, dps, "yes" if v.get("ok") else "NO: " + v.get("problem", "")))
rt = (out["reindex"].get("report") or {}).get("total")
if rt:
    print("  reindex: %d documents in %.2f s (%.0f documents/s, %.2f MB/s), %d parts, %d starts" % (rt["documents"], rt["seconds"], rt["docs_per_second"], rt["mb_per_second"], rt["parts"], rt["attempts"]))
t = r["totals"]
print("  totals: %d indices, %d source documents, %d target documents, %d bytes on the target" % (t["indices"], t["source_docs"], t["target_docs"], t["target_bytes"]))
print("  durations (s):", ", ".join("%s %.2f" % kv for kv in sorted(r["durations_seconds"].items())))
print("  compared:", r["compared"])
PY
[[ $rc == 0 ]] || { echo "workflow failed (exit $rc); emulator logs in $ESSNAP_RUN/workflow-logs"; exit 1; }
say "target $TGT ($TARGET_NAME) after the migration"
curl -fsS "$TGT/_cat/indices/logs-*?v&s=index&h=index,health,docs.count,store.size"
say "demo finished: Elasticsearch 7.10 -> $TARGET_NAME migrated and verified through the state machine"
