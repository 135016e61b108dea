# shellcheck shell=bash
# Sourced by every bench script (bench/size.sh, bench/*/run.sh): what they
# share, so each keeps only its own method. Sourcing it sets ROOT (the
# repository), GO and CACHE (ESSNAP_CACHE or .cache) and changes to ROOT: the
# scripts name everything from there. The caller has set -euo pipefail and
# may set LOG_TAG (default bench) before logging.
# Engines: start_engines registers them for stop_engines at exit, so a run
# that fails half-way leaves no JVM behind; scripts/peers.sh does the work.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit
GO=${GO:-go}
# shellcheck disable=SC2034 # for the scripts that source this file
CACHE=${ESSNAP_CACHE:-$ROOT/.cache}
# issue 4's elasticdump, installed by npm ci in bench/migration when asked for.
ELASTICDUMP=bench/migration/node_modules/.bin/elasticdump
STOP_AT_EXIT=()

# log MESSAGE...: one progress line on stderr, [LOG_TAG] first (stdout is the figures).
log() { printf '[%s] %s\n' "${LOG_TAG:-bench}" "$*" >&2; }

# die MESSAGE...: logs FAILED: MESSAGE and exits 1.
die() { log "FAILED: $*"; exit 1; }

# now: the current time in seconds, with nanoseconds, for secs.
now() { date +%s.%N; }

# secs T0 T1: seconds from T0 to T1 (two now values), 2 decimals.
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# json_get KEY...: reads one JSON document on stdin and prints the value at
# KEY/KEY/... (e.g. json_get version number).
json_get() {
  python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1:]: v = v[k]
print(v)' "$@"
}

# doc_count URL: the documents _count finds at URL (an index or a pattern).
doc_count() { curl -fsS "$1/_count" | json_get count; }

# peers ARGS...: scripts/peers.sh ARGS (install, start, stop, url).
peers() { bash scripts/peers.sh "$@"; }

# stop_engines: stops every engine start_engines registered (the EXIT trap).
stop_engines() {
  local name
  for name in "${STOP_AT_EXIT[@]}"; do peers stop "$name" || true; done
}

# start_engines ENGINE:NAME:PORT...: starts each engine as NAME on
# 127.0.0.1:PORT, one after another; all of them, started or not yet, are
# stopped when the script exits.
start_engines() {
  local spec engine name port
  for spec in "$@"; do STOP_AT_EXIT+=("$(cut -d: -f2 <<<"$spec")"); done
  trap stop_engines EXIT
  for spec in "$@"; do
    IFS=: read -r engine name port <<<"$spec"
    peers start "$engine" "$name" "$port"
  done
}

# check_port PORT NAME KNOB: exits 2 when something other than our engine NAME
# answers on 127.0.0.1:PORT (starting there would talk to a stranger), naming
# the environment variable KNOB that moves the port.
check_port() {
  local port=$1 name=$2 knob=$3
  if curl -fsS -m 2 "http://127.0.0.1:$port" >/dev/null 2>&1 &&
    ! { [[ -f $ESSNAP_RUN/$name/pid ]] && kill -0 "$(cat "$ESSNAP_RUN/$name/pid")" 2>/dev/null; }; then
    log "127.0.0.1:$port is taken by another process; set $knob to a free port"
    exit 2
  fi
}

# install_elasticdump: npm ci in bench/migration unless ELASTICDUMP is there.
install_elasticdump() {
  [[ -x $ELASTICDUMP ]] || (cd bench/migration && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# fill_index URL INDEX COUNT TIMES [MAPPINGS]: creates INDEX (1 shard, no
# replicas, refresh off; MAPPINGS as its mappings if given) and loads COUNT
# log documents by _bulk, 10,000 a request, through files in ESSNAP_RUN.
# TIMES: iso (@timestamp strings on 2026-11-DD, DD the name's last two
# characters) or millis:K (epoch millis, 4 a second from 2026-11-01 plus K
# days). The same INDEX and COUNT give the same documents every run. Refresh
# stays off: the caller turns it back on when it is done.
fill_index() {
  local url=$1 idx=$2 n=$3 times=$4 mappings=${5:-} f
  curl -fsS -XPUT "$url/$idx" -H 'Content-Type: application/json' \
    -d '{"settings":{"number_of_shards":1,"number_of_replicas":0,"refresh_interval":"-1"}'"${mappings:+,\"mappings\":$mappings}}" >/dev/null
  python3 - "$idx" "$n" "$times" <<'PY' | split -l 20000 - "$ESSNAP_RUN/bulk-"
import json, random, sys
idx, n, times = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(idx)
levels = ["info", "warn", "error", "debug"]
if times == "iso":
    stamp = lambda i: f"2026-11-{idx[-2:]}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z"
else:
    base = 1793491200000 + int(times.split(":")[1]) * 86400000  # 2026-11-01T00:00:00Z plus a day per index
    stamp = lambda i: base + i * 250 + rnd.randint(0, 249)
for i in range(n):
    print(json.dumps({"index": {"_id": f"{idx}-{i}"}}))
    # stamp first: with millis it draws from rnd before the other fields.
    print(json.dumps({"@timestamp": stamp(i),
        "level": levels[i % 4], "host": f"web-{rnd.randint(1, 40)}", "status": rnd.choice([200, 200, 200, 301, 404, 500]),
        "bytes": rnd.randint(100, 50000), "message": f"GET /api/v1/items/{rnd.randint(1, 100000)} served in {rnd.randint(1, 900)} ms"}))
PY
  for f in "$ESSNAP_RUN"/bulk-*; do
    [[ -f $f ]] || continue # no documents: no files, the glob stays as written
    curl -fsS -XPOST "$url/$idx/_bulk" -H 'Content-Type: application/x-ndjson' --data-binary @"$f" | grep -q '"errors":false' || die "bulk into $idx failed"
    rm -f "$f"
  done
}

# lambda_build_flags: sets LAMBDA_ENV and LAMBDA_FLAGS to the Makefile's,
# verbatim, and the array flags to LAMBDA_FLAGS's words (as the shell reads them).
lambda_build_flags() {
  local mk
  # shellcheck disable=SC2016 # $(...) is make's, not the shell's
  mapfile -t mk < <(printf 'bench-print-flags:\n\t@:$(info $(LAMBDA_ENV))$(info $(LAMBDA_FLAGS))\n' |
    make -s --no-print-directory -f Makefile -f - bench-print-flags)
  # shellcheck disable=SC2034 # for the scripts that source this file
  LAMBDA_ENV=${mk[0]}
  LAMBDA_FLAGS=${mk[1]}
  # shellcheck disable=SC2034 # for the scripts that source this file
  flags=()
  eval "flags=($LAMBDA_FLAGS)"
}
