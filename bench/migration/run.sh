#!/usr/bin/env bash
# Migration benchmarks (issue 4), printed side by side from one run on the same
# data: Elasticsearch 7.10 (source) -> OpenSearch 2.19 (target), both local,
# sharing one fs repository directory.
#   (a) the migration workflow end to end (state machine in
#       aws-local-stepfunctions, every step a real bootstrap under the Lambda
#       emulator, real Wait seconds) vs the raw API calls it wraps:
#       PUT _snapshot/r/s?wait_for_completion=true, then
#       POST _snapshot/r/s/_restore?wait_for_completion=true (renamed).
#       Target: workflow <= 1.15 x raw.
#   (b) elasticdump (npm) copying the same indices between the same engines
#       vs the workflow. Target: elasticdump >= 10 x the workflow.
# Usage: bench/migration/run.sh   (BENCH_DOCS=500000 BENCH_INDICES=5)
# Not part of make test. Stops the engines it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/bench}
DOCS=${BENCH_DOCS:-500000}
NIDX=${BENCH_INDICES:-5}
SRC_PORT=${BENCH_SOURCE_PORT:-9225}
TGT_PORT=${BENCH_TARGET_PORT:-9226}
log() { printf '[bench] %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

bash scripts/peers.sh install
[[ -x bench/migration/node_modules/.bin/elasticdump ]] || (cd bench/migration && npm ci --no-audit --no-fund --loglevel=error >&2)
cleanup() { bash scripts/peers.sh stop bench-source || true; bash scripts/peers.sh stop bench-target || true; }
trap cleanup EXIT
bash scripts/peers.sh start elasticsearch bench-source "$SRC_PORT"
bash scripts/peers.sh start opensearch bench-target "$TGT_PORT"
SRC=$(bash scripts/peers.sh url bench-source)
TGT=$(bash scripts/peers.sh url bench-target)

log "filling the source with $DOCS log documents in $NIDX indices"
per=$((DOCS / NIDX))
for i in $(seq 1 "$NIDX"); do
  idx=$(printf 'logs-2026.11.%02d' "$i")
  curl -fsS -XPUT "$SRC/$idx" -H 'Content-Type: application/json' \
    -d '{"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1"}}' >/dev/null
  python3 - "$idx" "$per" <<'PY' | split -l 20000 - "$ESSNAP_RUN/bulk-"
import json, random, sys
idx, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(idx)
levels = ["info", "warn", "error", "debug"]
for i in range(n):
    print(json.dumps({"index": {"_id": f"{idx}-{i}"}}))
    print(json.dumps({"@timestamp": f"2026-11-{idx[-2:]}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
        "level": levels[i % 4], "host": f"web-{rnd.randint(1, 40)}", "status": rnd.choice([200, 200, 200, 301, 404, 500]),
        "bytes": rnd.randint(100, 50000), "message": f"GET /api/v1/items/{rnd.randint(1, 100000)} served in {rnd.randint(1, 900)} ms"}))
PY
  for f in "$ESSNAP_RUN"/bulk-*; do
    curl -fsS -XPOST "$SRC/$idx/_bulk" -H 'Content-Type: application/x-ndjson' --data-binary @"$f" | grep -q '"errors":false' || { log "bulk into $idx failed"; exit 1; }
    rm -f "$f"
  done
  curl -fsS -XPOST "$SRC/$idx/_refresh" >/dev/null
  curl -fsS -XPUT "$SRC/$idx/_settings" -H 'Content-Type: application/json' -d '{"index":{"refresh_interval":"1s"}}' >/dev/null
done
curl -fsS -XPOST "$SRC/logs-*/_forcemerge?max_num_segments=5" >/dev/null
curl -fsS "$SRC/_cat/indices/logs-*?v&s=index&h=index,docs.count,store.size" >&2
total_docs=$(curl -fsS "$SRC/logs-*/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
store=$(curl -fsS "$SRC/_cat/indices/logs-*?h=store.size&bytes=b" | awk '{s+=$1} END {print s}')

# (a1) raw API calls, own repository location (no incremental reuse).
log "raw API calls: snapshot, then restore renamed -raw (wait_for_completion=true)"
rawloc=$ESSNAP_RUN/repo/raw-$(date +%s)
curl -fsS -XPUT "$SRC/_snapshot/raw" -H 'Content-Type: application/json' -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$rawloc\"}}" >/dev/null
curl -fsS -XPUT "$TGT/_snapshot/raw" -H 'Content-Type: application/json' -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$rawloc\",\"readonly\":true}}" >/dev/null
t0=$(now)
curl -fsS -XPUT "$SRC/_snapshot/raw/s1?wait_for_completion=true" -H 'Content-Type: application/json' -d '{"indices":"logs-*","include_global_state":false}' | grep -q '"state":"SUCCESS"'
t1=$(now)
curl -fsS -XPOST "$TGT/_snapshot/raw/s1/_restore?wait_for_completion=true" -H 'Content-Type: application/json' \
  -d '{"indices":"logs-*","rename_pattern":"(.+)","rename_replacement":"$1-raw","include_global_state":false}' >/dev/null
t2=$(now)
raw_snap=$(secs "$t0" "$t1"); raw_restore=$(secs "$t1" "$t2"); raw_total=$(secs "$t0" "$t2")

# (a2) the workflow, own repository location, real Wait seconds.
log "migration workflow (push, rename -wf)"
cat >"$ESSNAP_RUN/bench-input.json" <<JSON
{"source": {"endpoint": "$SRC", "unsigned": true}, "target": {"endpoint": "$TGT", "unsigned": true},
 "repository": {"repository": "wf", "type": "fs", "location": "$ESSNAP_RUN/repo/wf-$(date +%s)"},
 "indices": ["logs-*"], "strategy": "push", "rename_suffix": "-wf",
 "poll": {"initial_seconds": 1, "max_seconds": 1, "snapshot_deadline_seconds": 3600, "restore_deadline_seconds": 3600}}
JSON
WORKFLOW_PORT=${BENCH_WORKFLOW_PORT:-9560} bash scripts/workflow.sh "$ESSNAP_RUN/bench-input.json" >"$ESSNAP_RUN/bench-execution.jsonl"
wf=$(python3 - "$ESSNAP_RUN/bench-execution.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert r["status"] == "SUCCEEDED", r
rep = r["output"]["report"]
d = rep["durations_seconds"]
print("%.2f %.2f %.2f %d" % (r["seconds"], d.get("snapshot", 0), d.get("restore_and_verify", 0), rep["totals"]["target_docs"]))
PY
)
read -r wf_total wf_snap wf_restore wf_docs <<<"$wf"

# (b) elasticdump, mapping then data, index by index, renamed -dump.
log "elasticdump (mapping + data, --limit 10000) index by index"
ed=bench/migration/node_modules/.bin/elasticdump
t0=$(now)
for i in $(seq 1 "$NIDX"); do
  idx=$(printf 'logs-2026.11.%02d' "$i")
  "$ed" --quiet --input="$SRC/$idx" --output="$TGT/$idx-dump" --type=mapping >/dev/null
  "$ed" --quiet --input="$SRC/$idx" --output="$TGT/$idx-dump" --type=data --limit=10000 >/dev/null
done
t1=$(now)
dump_total=$(secs "$t0" "$t1")
curl -fsS -XPOST "$TGT/*-dump/_refresh" >/dev/null
dump_docs=$(curl -fsS "$TGT/*-dump/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
raw_docs=$(curl -fsS "$TGT/*-raw/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')

python3 - <<PY
raw, wf, dump = $raw_total, $wf_total, $dump_total
print()
print("Migration benchmark: Elasticsearch 7.10 -> OpenSearch 2.19 on 127.0.0.1, $total_docs documents in $NIDX indices, $store bytes on the source")
print(f"{'method':<44}{'seconds':>10}{'documents on target':>22}")
print(f"{'raw API: snapshot (wait_for_completion)':<44}{$raw_snap:>10.2f}")
print(f"{'raw API: restore (wait_for_completion)':<44}{$raw_restore:>10.2f}")
print(f"{'raw API total':<44}{raw:>10.2f}{$raw_docs:>22}")
print(f"{'workflow end to end (9 Lambda tasks, polls)':<44}{wf:>10.2f}{$wf_docs:>22}")
print(f"{'  of which snapshot (engine times)':<44}{$wf_snap:>10.2f}")
print(f"{'  of which restore + verify':<44}{$wf_restore:>10.2f}")
print(f"{'elasticdump (mapping + data)':<44}{dump:>10.2f}{$dump_docs:>22}")
print()
print(f"(a) workflow / raw API      = {wf / raw:.2f}x  (target <= 1.15x): {'MET' if wf / raw <= 1.15 else 'NOT MET'}")
print(f"(b) elasticdump / workflow  = {dump / wf:.1f}x  (target >= 10x): {'MET' if dump / wf >= 10 else 'NOT MET'}")
PY
