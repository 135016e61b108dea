#!/usr/bin/env bash
# Reindex-path benchmark (issue 12), printed side by side from one run on the
# same data: Elasticsearch 7.10 (source) -> OpenSearch 3.5 (target), both
# local. OpenSearch 3.x cannot read indices created by 7.x, so these indices
# go by the target's remote reindex. Each method writes its own target names:
#   (1) essnap's reindex path: the migration workflow end to end with
#       "method":"reindex" (state machine in aws-local-stepfunctions, every
#       step a real bootstrap under the Lambda emulator): translated target
#       indices, max_concurrent remote reindex tasks, large indices split by
#       @timestamp into parts of split_docs, verify. Names: IDX-essnap.
#       Recorded: the execution's wall time (run.mjs's result seconds, from
#       the first state to the result), the reindex step's own total.seconds
#       from the workflow's output, and scripts/workflow.sh's wall time
#       (which also builds the 8 bootstraps and starts their emulators).
#   (2) plain sequential remote reindex, what an operator would type: per
#       index, one after another, POST $TGT/_reindex?wait_for_completion=true
#       {"source":{"remote":{"host":SRC},"index":IDX},"dest":{"index":IDX-plain}}
#       (no pre-created index, the engine's default batch size).
#   (3) elasticdump --type=data --limit=BENCH_DUMP_LIMIT per index, one after
#       another (slow, about 13k documents/s). Names: IDX-dump.
# Every method must copy every document (target counts are checked per index).
# Goals: elasticdump / essnap >= 10x, sequential / essnap >= 1.5x (essnap
# taken as the execution's wall time, all steps included).
# Data: BENCH_DOCS log documents (@timestamp as epoch millis, mapped date),
# half in logs-big, the rest shared by BENCH_INDICES-1 logs-small-N indices;
# 1 shard, 0 replicas each.
# Usage: bench/reindex/run.sh
#   BENCH_DOCS=1000000 BENCH_INDICES=5         data (1 big + 4 small indices)
#   BENCH_MAX_CONCURRENT=4 BENCH_BATCH_SIZE=5000 BENCH_SPLIT_DOCS=250000
#                                              essnap's reindex input
#   BENCH_ELASTICDUMP=0                        skips elasticdump (default 1)
#   BENCH_DUMP_LIMIT=1000                      elasticdump --limit
#   BENCH_DUMP_DOCS=N                          elasticdump only on the smallest
#       indices holding at most N documents (at least one index), its figures
#       taken from those; default: all indices
#   BENCH_SOURCE_PORT=9231 BENCH_TARGET_PORT=9232 BENCH_WORKFLOW_PORT=9600
#       (the workflow uses 16 ports from there: 8 functions, 2 each)
#   ESSNAP_RUN (default .cache/bench-reindex): engines' data, logs, inputs.
# Small check: BENCH_DOCS=20000 bash bench/reindex/run.sh
# Prints a markdown table for docs/benchmarks.md on stdout (progress on
# stderr). Not part of make test. Stops the engines it started.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "$0")/../lib.sh"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/bench-reindex}
DOCS=${BENCH_DOCS:-1000000}
NIDX=${BENCH_INDICES:-5}
SRC_PORT=${BENCH_SOURCE_PORT:-9231}
TGT_PORT=${BENCH_TARGET_PORT:-9232}
WF_PORT=${BENCH_WORKFLOW_PORT:-9600}
MAXC=${BENCH_MAX_CONCURRENT:-4}
BATCH=${BENCH_BATCH_SIZE:-5000}
SPLIT=${BENCH_SPLIT_DOCS:-250000}
DUMP=${BENCH_ELASTICDUMP:-1}
DUMP_LIMIT=${BENCH_DUMP_LIMIT:-1000}
DUMP_DOCS=${BENCH_DUMP_DOCS:-$DOCS}
(( NIDX >= 2 )) || die "BENCH_INDICES must be at least 2 (one big index and the small ones)"
# The exact command, for the table's footnote.
cmd="$(env | grep '^BENCH_' | sort | tr '\n' ' ' || true)bash bench/reindex/run.sh"

peers install
if [[ $DUMP == 1 ]]; then
  install_elasticdump
fi
mkdir -p "$ESSNAP_RUN"
start_engines "elasticsearch:bench-rsource:$SRC_PORT" "opensearch3:bench-rtarget:$TGT_PORT"
SRC=$(peers url bench-rsource)
TGT=$(peers url bench-rtarget)
src_version=$(curl -fsS "$SRC" | json_get version number)
tgt_version=$(curl -fsS "$TGT" | json_get version number)

# Indices and their sizes: logs-big holds half, the small ones share the rest
# (the last takes the remainder, so the total is exactly BENCH_DOCS).
big=$((DOCS / 2))
rest=$((DOCS - big))
nsmall=$((NIDX - 1))
names=(logs-big) sizes=("$big")
for i in $(seq 1 "$nsmall"); do
  n=$((rest / nsmall)); (( i == nsmall )) && n=$((rest - (nsmall - 1) * (rest / nsmall)))
  names+=("logs-small-$i") sizes+=("$n")
done

# Explicit mappings (@timestamp a date from epoch millis), a day per index.
mappings='{"properties":{"@timestamp":{"type":"date"},"level":{"type":"keyword"},"host":{"type":"keyword"},
  "status":{"type":"integer"},"bytes":{"type":"long"},"message":{"type":"text"}}}'
log "filling the source with $DOCS log documents: ${names[*]} (${sizes[*]})"
for k in "${!names[@]}"; do
  idx=${names[$k]}
  fill_index "$SRC" "$idx" "${sizes[$k]}" "millis:$k" "$mappings"
  curl -fsS -XPUT "$SRC/$idx/_settings" -H 'Content-Type: application/json' -d '{"index":{"refresh_interval":"1s"}}' >/dev/null
done
curl -fsS -XPOST "$SRC/logs-*/_refresh" >/dev/null
curl -fsS -XPOST "$SRC/logs-*/_forcemerge?max_num_segments=5" >/dev/null
# The engines cache store statistics for 10 s (index.store.stats_refresh_interval):
# read the sizes after that, or a just-filled index shows 208 bytes.
sleep 11
curl -fsS "$SRC/_cat/indices/logs-*?v&s=index&h=index,docs.count,pri.store.size" >&2
# Warm-up, so no method pays for cold JVMs: one plain remote reindex of the
# smallest index (every method's code path on both engines), then removed.
log "warm-up: a remote reindex of ${names[-1]} into warmup-copy, deleted afterwards"
curl -fsS -XPOST "$TGT/_reindex?wait_for_completion=true" -H 'Content-Type: application/json' \
  -d "{\"source\":{\"remote\":{\"host\":\"$SRC\"},\"index\":\"${names[-1]}\"},\"dest\":{\"index\":\"warmup-copy\"}}" >/dev/null
curl -fsS -XDELETE "$TGT/warmup-copy" >/dev/null
# Source figures per index: documents and primary store bytes.
declare -A src_docs src_bytes
while read -r idx b; do src_bytes[$idx]=$b; done < <(curl -fsS "$SRC/_cat/indices/logs-*?bytes=b&h=index,pri.store.size")
for idx in "${names[@]}"; do
  src_docs[$idx]=$(doc_count "$SRC/$idx")
  [[ -n ${src_bytes[$idx]:-} ]] || die "no store size for $idx on the source"
done
total_docs=0 total_bytes=0
for idx in "${names[@]}"; do total_docs=$((total_docs + ${src_docs[$idx]})); total_bytes=$((total_bytes + ${src_bytes[$idx]})); done
(( total_docs == DOCS )) || die "the source holds $total_docs documents, expected $DOCS"

# check_copy SUFFIX INDEX...: refreshes the target copies IDX-SUFFIX and fails
# unless each holds as many documents as its source index.
check_copy() {
  local suffix=$1 idx n; shift
  curl -fsS -XPOST "$TGT/*-$suffix/_refresh" >/dev/null
  for idx in "$@"; do
    n=$(doc_count "$TGT/$idx-$suffix") || die "$suffix: no $idx-$suffix on the target"
    [[ $n == "${src_docs[$idx]}" ]] || die "$suffix: $idx-$suffix holds $n documents, the source ${src_docs[$idx]}"
  done
  log "$suffix: every document copied ($*)"
}

# (1) essnap's reindex path: the workflow end to end.
log "(1) essnap reindex path: migration workflow, method reindex (max_concurrent $MAXC, batch_size $BATCH, split_docs $SPLIT)"
cat >"$ESSNAP_RUN/bench-input.json" <<JSON
{"source": {"endpoint": "$SRC", "unsigned": true}, "target": {"endpoint": "$TGT", "unsigned": true},
 "indices": ["logs-*"], "strategy": "push", "rename_suffix": "-essnap", "method": "reindex",
 "max_concurrent": $MAXC, "batch_size": $BATCH, "split_docs": $SPLIT,
 "poll": {"initial_seconds": 1, "max_seconds": 4, "snapshot_deadline_seconds": 3600, "restore_deadline_seconds": 3600}}
JSON
t0=$(now)
rc=0
WORKFLOW_PORT=$WF_PORT bash scripts/workflow.sh "$ESSNAP_RUN/bench-input.json" --switch auto --wait-ms 200 >"$ESSNAP_RUN/bench-execution.jsonl" || rc=$?
t1=$(now)
wf_wall=$(secs "$t0" "$t1")
if ! wf=$(python3 - "$ESSNAP_RUN/bench-execution.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rs = [l for l in lines if l.get("event") == "result"]
if not rs or rs[-1].get("status") != "SUCCEEDED":
    print("workflow did not succeed: " + (json.dumps(rs[-1])[:4000] if rs else "no result line"), file=sys.stderr)
    sys.exit(1)
out = rs[-1]["output"]
t = out["reindex"]["report"]["total"]
print("%.2f %.2f %d %.0f %.2f %d %d %d" % (rs[-1].get("seconds", 0), t["seconds"], t["documents"], t["docs_per_second"],
      t["mb_per_second"], out["methods"].get("reindex", 0), out["methods"].get("snapshot", 0), t["parts"]))
PY
); then
  log "workflow exit status $rc; last lines of $ESSNAP_RUN/bench-execution.jsonl:"
  tail -5 "$ESSNAP_RUN/bench-execution.jsonl" | cut -c1-3000 >&2
  log "last lines of the reindex function's log ($ESSNAP_RUN/workflow-logs/reindex.log):"
  tail -20 "$ESSNAP_RUN/workflow-logs/reindex.log" >&2 || true
  die "essnap's reindex path"
fi
read -r wf_runmjs wf_step wf_docs wf_step_dps wf_step_mbs wf_nreindex wf_nsnap wf_parts <<<"$wf"
(( wf_nsnap == 0 && wf_nreindex == NIDX )) || die "essnap: methods reindex $wf_nreindex, snapshot $wf_nsnap; expected $NIDX by reindex"
check_copy essnap "${names[@]}"
log "(1) workflow $wf_wall s wall (run.mjs $wf_runmjs s), reindex step $wf_step s, $wf_docs documents, $wf_parts parts"

# (2) plain sequential remote reindex, index by index.
log "(2) plain sequential remote reindex, one index after another (-plain)"
t0=$(now)
for idx in "${names[@]}"; do
  curl -fsS --max-time 86400 -XPOST "$TGT/_reindex?wait_for_completion=true" -H 'Content-Type: application/json' \
    -d "{\"source\":{\"remote\":{\"host\":\"$SRC\"},\"index\":\"$idx\"},\"dest\":{\"index\":\"$idx-plain\"}}" >"$ESSNAP_RUN/plain-$idx.json" \
    || die "plain reindex of $idx: $(cat "$ESSNAP_RUN/plain-$idx.json" 2>/dev/null)"
  python3 - "$ESSNAP_RUN/plain-$idx.json" <<'PY' || die "plain reindex of $idx: $(cut -c1-2000 "$ESSNAP_RUN/plain-$idx.json")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(1 if r.get("failures") or r.get("timed_out") else 0)
PY
done
t1=$(now)
plain=$(secs "$t0" "$t1")
check_copy plain "${names[@]}"
log "(2) $plain s"

# (3) elasticdump, index by index (smallest first when BENCH_DUMP_DOCS caps it).
dump=0 dump_docs=0 dump_bytes=0 dump_names=()
if [[ $DUMP == 1 ]]; then
  for k in $(for j in "${!names[@]}"; do echo "${sizes[$j]} $j"; done | sort -n | awk '{print $2}'); do
    idx=${names[$k]}
    (( ${#dump_names[@]} == 0 || dump_docs + ${src_docs[$idx]} <= DUMP_DOCS )) || continue
    dump_names+=("$idx"); dump_docs=$((dump_docs + ${src_docs[$idx]})); dump_bytes=$((dump_bytes + ${src_bytes[$idx]}))
  done
  log "(3) elasticdump --type=data --limit=$DUMP_LIMIT, one index after another (-dump): ${dump_names[*]} ($dump_docs documents)"
  t0=$(now)
  for idx in "${dump_names[@]}"; do
    "$ELASTICDUMP" --quiet --input="$SRC/$idx" --output="$TGT/$idx-dump" --type=data --limit="$DUMP_LIMIT" >/dev/null || die "elasticdump of $idx"
  done
  t1=$(now)
  dump=$(secs "$t0" "$t1")
  check_copy dump "${dump_names[@]}"
  log "(3) $dump s"
fi

python3 - <<PY
wf, step, plain, dump = $wf_runmjs, $wf_step, $plain, $dump
docs, mb = $total_docs, $total_bytes / 1e6
ddocs, dmb = $dump_docs, $dump_bytes / 1e6
dps = lambda d, s: d / s if s > 0 else 0
print()
print("Reindex path: Elasticsearch $src_version -> OpenSearch $tgt_version on 127.0.0.1, %d documents in $NIDX indices "
      "(logs-big %d), %.1f MB of primary store on the source; essnap max_concurrent $MAXC, batch_size $BATCH, split_docs $SPLIT ($wf_parts parts)."
      % (docs, ${src_docs[logs-big]}, mb))
print()
print("| method | documents | seconds | documents/s | MB/s |")
print("|---|---:|---:|---:|---:|")
print(f"| (1) essnap reindex path, workflow execution end to end | {docs} | {wf:.2f} | {dps(docs, wf):,.0f} | {mb / wf:.1f} |")
print(f"| &nbsp;&nbsp;of which the reindex step (its report's total) | $wf_docs | {step:.2f} | {$wf_step_dps:,.0f} | {$wf_step_mbs:.1f} |")
print(f"| &nbsp;&nbsp;scripts/workflow.sh wall time, with building and starting the 8 functions | | {$wf_wall:.2f} | | |")
print(f"| (2) sequential remote reindex, one index at a time | {docs} | {plain:.2f} | {dps(docs, plain):,.0f} | {mb / plain:.1f} |")
if dump:
    part = "" if ddocs == docs else f" ({len('${dump_names[*]}'.split())} smallest indices)"
    print(f"| (3) elasticdump --limit $DUMP_LIMIT{part} | {ddocs} | {dump:.2f} | {dps(ddocs, dump):,.0f} | {dmb / dump:.1f} |")
print()
# Ratios as time for the same documents: elasticdump's from its documents/s
# when it ran on part of the data.
r_plain, r_plain_step = plain / wf, plain / step
print(f"sequential / essnap = {r_plain:.2f}x (reindex step alone {r_plain_step:.2f}x); goal >= 1.5x: {'MET' if r_plain >= 1.5 else 'NOT MET'}")
if dump:
    r_dump = dps(docs, wf) / dps(ddocs, dump)
    r_dump_step = dps(docs, step) / dps(ddocs, dump)
    print(f"elasticdump / essnap = {r_dump:.1f}x (reindex step alone {r_dump_step:.1f}x); goal >= 10x: {'MET' if r_dump >= 10 else 'NOT MET'}")
else:
    print("elasticdump / essnap: not run (BENCH_ELASTICDUMP=0)")
print()
print("Every method copied every document (target counts checked per index).")
print("Command: \`$cmd\`")
PY
