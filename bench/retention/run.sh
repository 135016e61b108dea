#!/usr/bin/env bash
# Retention benchmark (issue 5 target: on real Elasticsearch 7.10 with >= 200
# snapshots, essnap's retention at least 5x faster wall time than Curator's
# delete_snapshots with the same age filter), side by side in one run. Not a
# test: it prints figures. Method: bench/retention/main.go and
# docs/benchmarks.md ("Retention").
#
# On a fresh machine it installs what it needs: Curator 5.8 from Debian
# (apt-get install elasticsearch-curator, as root) and Elasticsearch 7.10.2
# through scripts/peers.sh (Maven Central). It starts a dedicated engine
# (name bench-es, 127.0.0.1:$BENCH_PORT, its own run directory under
# .cache/bench/retention, so it never touches the test engines) and stops it
# at the end.
#
# Usage: bash bench/retention/run.sh [flags of main.go, e.g. -rounds 3 -v]
#        (or: make bench-retention)
# Environment: BENCH_PORT (default 9271; transport port +100).
# Exit status 1 when a target is missed or the tools deleted different sets.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "$0")/../lib.sh"
OUT=$CACHE/bench/retention
PORT=${BENCH_PORT:-9271}
NAME=bench-es
export ESSNAP_CACHE=$CACHE
export ESSNAP_RUN=$OUT/run # peers.sh: this engine's data and path.repo
LOG_TAG=bench-retention

# Curator 5.8 from Debian.
if ! dpkg-query -W -f='${Status}' elasticsearch-curator 2>/dev/null | grep -q 'install ok installed'; then
  log "installing Curator: apt-get update && apt-get install -y elasticsearch-curator"
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq elasticsearch-curator >/dev/null
fi
CURATOR=$(command -v curator)
# The interpreter Debian's curator script runs with (a pyenv or venv python3
# earlier on PATH does not see /usr/lib/python3/dist-packages).
CURATOR_PY=$(sed -n '1s/^#! *//p' "$CURATOR")
log "$("$CURATOR" --version 2>&1 | tail -1), python3-elasticsearch $("$CURATOR_PY" -c 'import elasticsearch; print(elasticsearch.__versionstr__)')"

check_port "$PORT" "$NAME" BENCH_PORT
start_engines "elasticsearch:$NAME:$PORT"

rm -rf "$OUT/work" "$ESSNAP_RUN/repo/bench-retention" # earlier runs' files
mkdir -p "$OUT/work" "$ESSNAP_RUN/repo/bench-retention"
"$GO" build -o "$OUT/bench-retention" ./bench/retention
"$OUT/bench-retention" \
  -url "http://127.0.0.1:$PORT" \
  -repo-root "$ESSNAP_RUN/repo/bench-retention" \
  -work "$OUT/work" \
  -curator "$CURATOR_PY $ROOT/bench/retention/curator_shim.py" \
  -plain-curator "$CURATOR" \
  -json "$OUT/result.json" \
  "$@"
