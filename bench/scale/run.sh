#!/usr/bin/env bash
# Scale benchmark (issue 20): one migration of thousands of daily indices
# through the state machine, on both paths: Elasticsearch 7.10 ->
# OpenSearch 2.19 by snapshot (push), and Elasticsearch 7.10 ->
# OpenSearch 3.5 by reindex (push). For each it prints the wall time, the
# engines' own time for the copy (snapshot + restore recovery span; the
# reindex tasks' span from the ledger), the overhead per index beyond the
# copy ((wall - engine) / indices; goals: <= 50 ms by snapshot, <= 150 ms by
# reindex), Lambda invocations and state transitions per 1,000 indices, and
# the largest state input (<= 8 KB).
# Environment:
#   BENCH_INDICES=5000        daily indices (names of 27 characters and more)
#   BENCH_DOCS_PER_INDEX=10
#   BENCH_PATHS="snapshot reindex"
#   BENCH_SOURCE_PORT=9251 BENCH_SNAPSHOT_PORT=9252 BENCH_REINDEX_PORT=9253
#   BENCH_WORKFLOW_PORT=9700 (16 ports from there)
#   ESSNAP_RUN (default .cache/bench-scale)
# Small check: BENCH_INDICES=200 bash bench/scale/run.sh
# Not part of make test. Stops the engines it started.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "$0")/../lib.sh"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/bench-scale}
N=${BENCH_INDICES:-5000}
PER=${BENCH_DOCS_PER_INDEX:-10}
PATHS=${BENCH_PATHS:-snapshot reindex}
SRC_PORT=${BENCH_SOURCE_PORT:-9251}
SNAP_PORT=${BENCH_SNAPSHOT_PORT:-9252}
REIX_PORT=${BENCH_REINDEX_PORT:-9253}
WF_PORT=${BENCH_WORKFLOW_PORT:-9700}
PREFIX=bench-scale-application-logs-
cmd="$(env | grep '^BENCH_' | sort | tr '\n' ' ' || true)bash bench/scale/run.sh"

peers install
mkdir -p "$ESSNAP_RUN"
start_engines "elasticsearch:bench-ssource:$SRC_PORT" "opensearch:bench-starget:$SNAP_PORT" "opensearch3:bench-rtarget3:$REIX_PORT"
SRC=$(peers url bench-ssource)
for u in "$SRC" "$(peers url bench-starget)" "$(peers url bench-rtarget3)"; do
  curl -fsS -XPUT "$u/_cluster/settings" -H 'Content-Type: application/json' -d '{"persistent":{"cluster.max_shards_per_node":20000}}' >/dev/null
done

log "filling the source with $N daily indices of $PER documents"
curl -fsS -XPUT "$SRC/_template/bench-scale" -H 'Content-Type: application/json' \
  -d '{"index_patterns":["'"$PREFIX"'*"],"settings":{"number_of_shards":1,"number_of_replicas":0,"translog.durability":"async"},"mappings":{"properties":{"@timestamp":{"type":"date"},"n":{"type":"long"}}}}' >/dev/null
t0=$(now)
python3 - "$N" "$PER" "$PREFIX" <<'PY' | split -l 4000 - "$ESSNAP_RUN/scale-bulk-"
import datetime, json, sys
n, per, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
day = datetime.date(2012, 1, 1)
for i in range(n):
    name = prefix + (day + datetime.timedelta(days=i)).strftime("%Y.%m.%d")
    for d in range(per):
        print(json.dumps({"index": {"_index": name, "_id": f"d{d}"}}))
        print(json.dumps({"n": d, "@timestamp": (day + datetime.timedelta(days=i)).isoformat(), "message": f"event {d} of {name}"}))
PY
for f in "$ESSNAP_RUN"/scale-bulk-*; do
  curl -fsS -XPOST "$SRC/_bulk" -H 'Content-Type: application/x-ndjson' --data-binary @"$f" | grep -q '"errors":false' || die "bulk into the source failed"
  rm -f "$f"
done
curl -fsS -XPOST "$SRC/$PREFIX*/_refresh" >/dev/null
log "source filled in $(secs "$t0" "$(now)") s: $(doc_count "$SRC/$PREFIX*") documents"

results=()
for path in $PATHS; do
  case $path in
    snapshot) TGT=$(peers url bench-starget); method=auto ;;
    reindex) TGT=$(peers url bench-rtarget3); method=auto ;;
    *) die "BENCH_PATHS: unknown path $path" ;;
  esac
  loc="$ESSNAP_RUN/repo/scale-$path-$(date +%s)"
  cat >"$ESSNAP_RUN/scale-input-$path.json" <<JSON
{"source": {"endpoint": "$SRC", "unsigned": true}, "target": {"endpoint": "$TGT", "unsigned": true},
 "repository": {"repository": "bench-scale", "type": "fs", "location": "$loc"},
 "indices": ["$PREFIX*"], "strategy": "push", "method": "$method", "check_seconds": 20,
 "poll": {"initial_seconds": 1, "max_seconds": 2, "snapshot_deadline_seconds": 7200, "restore_deadline_seconds": 7200}}
JSON
  log "($path) workflow: $N indices, push, to $TGT"
  rc=0
  WORKFLOW_PORT=$WF_PORT bash scripts/workflow.sh "$ESSNAP_RUN/scale-input-$path.json" --wait-ms 500 >"$ESSNAP_RUN/scale-execution-$path.jsonl" || rc=$?
  [[ $rc == 0 ]] || { tail -3 "$ESSNAP_RUN/scale-execution-$path.jsonl" | cut -c1-2000 >&2; die "the $path workflow failed"; }
  results+=("$(python3 - "$ESSNAP_RUN/scale-execution-$path.jsonl" "$TGT" "$path" "$N" "$PREFIX" <<'PY'
import json, sys, urllib.request
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tgt, path, n, prefix = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
res = [l for l in lines if l.get("event") == "result"][-1]
out = res["output"]
wall = res["seconds"]
def get(url):
    return json.load(urllib.request.urlopen(tgt + url))
if path == "snapshot":
    snap = out["snapshot"]
    snap_s = (snap["end_time_in_millis"] - snap["start_time_in_millis"]) / 1000
    rec = get("/%s*/_recovery?filter_path=*.shards.start_time_in_millis,*.shards.stop_time_in_millis" % prefix)
    starts = [s["start_time_in_millis"] for r in rec.values() for s in r["shards"]]
    stops = [s["stop_time_in_millis"] for r in rec.values() for s in r["shards"]]
    engine = snap_s + (max(stops) - min(starts)) / 1000
else:
    rows, after = [], None
    while True:
        body = {"size": 1000, "sort": [{"source": "asc"}], "query": {"bool": {"filter": [{"term": {"kind": "index"}}, {"term": {"migration": out["migration"]}}]}}}
        if after:
            body["search_after"] = [after]
        req = urllib.request.Request(tgt + "/.essnap-ledger/_search", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        hits = json.load(urllib.request.urlopen(req))["hits"]["hits"]
        if not hits:
            break
        rows += [h["_source"] for h in hits]
        after = hits[-1]["_source"].get("source")
    parts = [p for r in rows for p in (r.get("item") or {}).get("parts", [])]
    engine = (max(p["end_ms"] for p in parts) - min(p["start_ms"] for p in parts)) / 1000
tasks = sum(1 for e in lines if e.get("event") == "state_entered" and e["state"] in (
    "Preflight", "Metadata", "RegisterSourceRepository", "RegisterTargetRepository", "TakeSnapshot", "CheckSnapshot",
    "RestorePush", "RestorePull", "CheckRestore", "Reindex", "Verify", "SetReplicas", "Cleanup"))
tasks += sum(1 for e in lines if e.get("event") == "state_retried")
transitions = sum(1 for e in lines if e.get("event") == "state_entered")
maxstate = max((e.get("input_bytes", 0) for e in lines), default=0)
over = (wall - engine) / n * 1000
print("%s %.1f %.1f %.1f %.1f %.1f %d %d" % (path, wall, engine, over, tasks / n * 1000, transitions / n * 1000, maxstate, len(json.dumps(out))))
PY
)")
done

echo
echo "Scale: $N daily indices of $PER documents, Elasticsearch 7.10 -> OpenSearch 2.19 (snapshot) / 3.5 (reindex), push, on 127.0.0.1"
echo
echo "| path | wall s | engine copy s | overhead per index ms | goal | invocations / 1,000 indices | transitions / 1,000 indices | largest state input B | output B |"
echo "|---|---:|---:|---:|---|---:|---:|---:|---:|"
for r in "${results[@]}"; do
  read -r path wall engine over inv tr maxs outb <<<"$r"
  goal=50; [[ $path == reindex ]] && goal=150
  met=$(python3 -c "print('met' if $over <= $goal else 'NOT MET')")
  echo "| $path | $wall | $engine | $over | <= $goal ms: $met | $inv | $tr | $maxs | $outb |"
done
echo
echo "Command: \`$cmd\`"
