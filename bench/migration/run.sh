#!/usr/bin/env bash
# Migration benchmarks (issues 4 and 14), printed side by side from one run on
# the same data: Elasticsearch 7.10 (source) -> OpenSearch 2.19 (target), both
# local, sharing one fs repository directory. Each method uses its own
# repository location (no incremental reuse) and its own restored names:
#   (1) raw API calls with the engines' defaults (repository without
#       throttles: 40 MB/s per node for snapshots; restore as snapshotted):
#       PUT _snapshot/r/s?wait_for_completion=true, then
#       POST _snapshot/r/s/_restore?wait_for_completion=true (renamed);
#   (2) the same raw API calls with essnap's settings: repository
#       max_snapshot_bytes_per_sec and max_restore_bytes_per_sec "0"
#       (unthrottled), restore index_settings {"index.number_of_replicas":0};
#   (3) the migration workflow end to end (state machine in
#       aws-local-stepfunctions, every step a real bootstrap under the Lambda
#       emulator, real Wait seconds, in-invocation polls);
#   (4) the disk's write rate on the repository's file system
#       (dd bs=1M oflag=direct), the physical limit for a snapshot.
# Targets (issue 14): workflow <= 1.05 x (2); (1) / workflow >= 1.5 at 2M
# documents; snapshot MB/s as a fraction of (4).
# BENCH_ELASTICDUMP=1 adds issue 4's elasticdump run (slow).
# Usage: bench/migration/run.sh   (BENCH_DOCS=500000 BENCH_INDICES=5)
# Ports: BENCH_SOURCE_PORT, BENCH_TARGET_PORT, BENCH_WORKFLOW_PORT (16 from there).
# Not part of make test. Stops the engines it started.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "$0")/../lib.sh"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/bench}
DOCS=${BENCH_DOCS:-500000}
NIDX=${BENCH_INDICES:-5}
SRC_PORT=${BENCH_SOURCE_PORT:-9225}
TGT_PORT=${BENCH_TARGET_PORT:-9226}
DUMP=${BENCH_ELASTICDUMP:-0}

peers install
if [[ $DUMP == 1 ]]; then
  install_elasticdump
fi
start_engines "elasticsearch:bench-source:$SRC_PORT" "opensearch:bench-target:$TGT_PORT"
SRC=$(peers url bench-source)
TGT=$(peers url bench-target)

log "filling the source with $DOCS log documents in $NIDX indices"
per=$((DOCS / NIDX))
for i in $(seq 1 "$NIDX"); do
  idx=$(printf 'logs-2026.11.%02d' "$i")
  fill_index "$SRC" "$idx" "$per" iso # dynamic mappings, the day from the name
  curl -fsS -XPOST "$SRC/$idx/_refresh" >/dev/null
  curl -fsS -XPUT "$SRC/$idx/_settings" -H 'Content-Type: application/json' -d '{"index":{"refresh_interval":"1s"}}' >/dev/null
done
curl -fsS -XPOST "$SRC/logs-*/_forcemerge?max_num_segments=5" >/dev/null
curl -fsS "$SRC/_cat/indices/logs-*?v&s=index&h=index,docs.count,store.size" >&2
total_docs=$(doc_count "$SRC/logs-*")
store=$(curl -fsS "$SRC/_cat/indices/logs-*?h=store.size&bytes=b" | awk '{s+=$1} END {print s}')

# (4) the disk's write rate where the repository lives, direct I/O (no page cache).
mkdir -p "$ESSNAP_RUN/repo"
log "disk write rate: dd bs=1M count=1024 oflag=direct on $ESSNAP_RUN/repo"
dd_out=$(dd if=/dev/zero of="$ESSNAP_RUN/repo/dd-test" bs=1M count=1024 oflag=direct conv=fsync 2>&1 | tail -1)
rm -f "$ESSNAP_RUN/repo/dd-test"
disk_mbs=$(python3 - "$dd_out" <<'PY'
import re, sys
m = re.search(r"(\d+) bytes.*?, ([\d.]+) s,", sys.argv[1])
print(f"{int(m.group(1)) / float(m.group(2)) / 1e6:.1f}")
PY
)
log "dd: $dd_out"

# raw API calls: $1 name, $2 repository settings (JSON members), $3 restore extras.
raw_run() {
  local name=$1 settings=$2 extra=$3 loc t0 t1 t2
  loc=$ESSNAP_RUN/repo/$name-$(date +%s%N)
  curl -fsS -XPUT "$SRC/_snapshot/$name" -H 'Content-Type: application/json' -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$loc\"$settings}}" >/dev/null
  curl -fsS -XPUT "$TGT/_snapshot/$name" -H 'Content-Type: application/json' -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$loc\",\"readonly\":true$settings}}" >/dev/null
  t0=$(now)
  curl -fsS -XPUT "$SRC/_snapshot/$name/s1?wait_for_completion=true" -H 'Content-Type: application/json' -d '{"indices":"logs-*","include_global_state":false}' | grep -q '"state":"SUCCESS"'
  t1=$(now)
  curl -fsS -XPOST "$TGT/_snapshot/$name/s1/_restore?wait_for_completion=true" -H 'Content-Type: application/json' \
    -d "{\"indices\":\"logs-*\",\"rename_pattern\":\"(.+)\",\"rename_replacement\":\"\$1-$name\",\"include_global_state\":false$extra}" >/dev/null
  t2=$(now)
  echo "$(secs "$t0" "$t1") $(secs "$t1" "$t2") $(secs "$t0" "$t2")"
}
log "(1) raw API calls, engine defaults: snapshot, then restore renamed -rawd"
read -r rawd_snap rawd_restore rawd_total <<<"$(raw_run rawd "" "")"
log "(1) snapshot $rawd_snap s, restore $rawd_restore s"
log "(2) raw API calls, essnap's settings (throttles 0, restore without replicas): renamed -raws"
read -r raws_snap raws_restore raws_total <<<"$(raw_run raws ',"max_snapshot_bytes_per_sec":"0","max_restore_bytes_per_sec":"0"' ',"index_settings":{"index.number_of_replicas":0}')"
log "(2) snapshot $raws_snap s, restore $raws_restore s"

# (3) the workflow, own repository location, real Wait seconds.
log "(3) migration workflow (push, rename -wf)"
cat >"$ESSNAP_RUN/bench-input.json" <<JSON
{"source": {"endpoint": "$SRC", "unsigned": true}, "target": {"endpoint": "$TGT", "unsigned": true},
 "repository": {"repository": "wf", "type": "fs", "location": "$ESSNAP_RUN/repo/wf-$(date +%s)"},
 "indices": ["logs-*"], "strategy": "push", "rename_suffix": "-wf",
 "poll": {"initial_seconds": 1, "max_seconds": 1, "snapshot_deadline_seconds": 3600, "restore_deadline_seconds": 3600}}
JSON
WORKFLOW_PORT=${BENCH_WORKFLOW_PORT:-9560} bash scripts/workflow.sh "$ESSNAP_RUN/bench-input.json" >"$ESSNAP_RUN/bench-execution.jsonl"
wf=$(python3 - "$ESSNAP_RUN/bench-execution.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [l for l in lines if l.get("event") == "result"][-1]
assert r["status"] == "SUCCEEDED", r
out = r["output"]
rep = out["report"]
d = rep["durations_seconds"]
checks = sum(1 for e in lines if e.get("event") == "state_entered" and e.get("state") in ("CheckSnapshot", "CheckRestore"))
waits = sum(1 for e in lines if e.get("event") == "state_entered" and e.get("state", "").startswith("Wait"))
print("%.2f %.2f %.2f %d %.2f %d %d" % (r["seconds"], d.get("snapshot", 0), d.get("restore_and_verify", 0),
      rep["totals"]["target_docs"], out.get("replicas", {}).get("seconds", 0), checks, waits))
PY
)
read -r wf_total wf_snap wf_restore wf_docs wf_replicas wf_checks wf_waits <<<"$wf"
log "(3) workflow $wf"

dump_total=0 dump_docs=0
if [[ $DUMP == 1 ]]; then
  log "elasticdump (mapping + data, --limit 10000) index by index"
  t0=$(now)
  for i in $(seq 1 "$NIDX"); do
    idx=$(printf 'logs-2026.11.%02d' "$i")
    "$ELASTICDUMP" --quiet --input="$SRC/$idx" --output="$TGT/$idx-dump" --type=mapping >/dev/null
    "$ELASTICDUMP" --quiet --input="$SRC/$idx" --output="$TGT/$idx-dump" --type=data --limit=10000 >/dev/null
  done
  t1=$(now)
  dump_total=$(secs "$t0" "$t1")
  curl -fsS -XPOST "$TGT/*-dump/_refresh" >/dev/null
  dump_docs=$(doc_count "$TGT/*-dump")
fi
count() { curl -fsS -XPOST "$TGT/*-$1/_refresh" >/dev/null; doc_count "$TGT/*-$1"; }
rawd_docs=$(count rawd); raws_docs=$(count raws)

python3 - <<PY
rawd, raws, wf, dump, disk, store = $rawd_total, $raws_total, $wf_total, $dump_total, $disk_mbs, $store
mbs = lambda s: store / 1e6 / s if s > 0 else 0
print()
print("Migration benchmark: Elasticsearch 7.10 -> OpenSearch 2.19 on 127.0.0.1, $total_docs documents in $NIDX indices, %.0f MB on the source" % (store / 1e6))
print(f"{'method':<58}{'seconds':>9}{'snapshot MB/s':>15}{'docs on target':>16}")
print(f"{'(1) raw API, engine defaults: snapshot':<58}{$rawd_snap:>9.2f}{mbs($rawd_snap):>15.1f}")
print(f"{'    restore':<58}{$rawd_restore:>9.2f}")
print(f"{'    total':<58}{rawd:>9.2f}{'':>15}{$rawd_docs:>16}")
print(f"{'(2) raw API, essnap settings (throttles 0, 0 replicas): snapshot':<58}{$raws_snap:>9.2f}{mbs($raws_snap):>15.1f}")
print(f"{'    restore':<58}{$raws_restore:>9.2f}")
print(f"{'    total':<58}{raws:>9.2f}{'':>15}{$raws_docs:>16}")
print(f"{'(3) workflow end to end (Lambda tasks, polls, verify, replicas)':<58}{wf:>9.2f}{'':>15}{$wf_docs:>16}")
print(f"{'    of which snapshot (engine times)':<58}{$wf_snap:>9.2f}{mbs($wf_snap):>15.1f}")
print(f"{'    of which restore + verify':<58}{$wf_restore:>9.2f}")
print(f"{'    of which replica step':<58}{$wf_replicas:>9.2f}")
print(f"{'    check-progress invocations / Wait states entered':<58}{'$wf_checks / $wf_waits':>9}")
print(f"{'(4) disk write rate (dd bs=1M oflag=direct), MB/s':<58}{disk:>9.1f}")
if dump:
    print(f"{'elasticdump (mapping + data)':<58}{dump:>9.2f}{'':>15}{$dump_docs:>16}")
print()
print(f"workflow / raw API with essnap settings = {wf / raws:.2f}x  (target <= 1.05x): {'MET' if wf / raws <= 1.05 else 'NOT MET'}")
print(f"raw API with defaults / workflow        = {rawd / wf:.2f}x  (target >= 1.5x at 2M documents): {'MET' if rawd / wf >= 1.5 else 'NOT MET'}")
for name, s in (("raw defaults", $rawd_snap), ("raw essnap settings", $raws_snap), ("workflow", $wf_snap)):
    print(f"snapshot {name}: {mbs(s):.1f} MB/s = {mbs(s) / disk:.2f} of the disk write rate ({disk:.0f} MB/s)")
if dump:
    print(f"elasticdump / workflow = {dump / wf:.1f}x")
PY
