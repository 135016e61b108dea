#!/usr/bin/env bash
# Lambda init-time benchmark (issue 3 target: <= 20 ms median from process
# start to ready for the first event, under the Runtime Interface Emulator),
# side by side with the equivalent Python function. Not a test: it prints
# figures. Method: bench/init/harness/main.go and docs/benchmarks.md.
#
# Installs what it needs under .cache/ on a fresh machine: aws-lambda-rie (the
# same Go module as scripts/peers.sh) and a venv with awslambdaric, boto3 and
# elasticsearch 7 (pinned). Builds every functions/<name> with the Makefile's
# LAMBDA_FLAGS for the host architecture (GOARCH=$(go env GOHOSTARCH): the
# bootstraps run here; on an arm64 host they are the Lambda artifacts).
#
# Usage: bash bench/init/run.sh [harness flags, e.g. -n 50 -v -attempts 5]   (or: make bench-lambda)
# Exit status 1 when a Go function misses the target or a subject has no
# successful cold start. On a loaded machine, cold starts that fail (refused
# connection, 502) are retried with a fresh emulator (-attempts, default 3);
# those that fail every attempt are reported and left out, not fatal.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "$0")/../lib.sh"
OUT=$CACHE/bench/init
VENV=$CACHE/bench-venv
RIE=${ESSNAP_RIE:-$CACHE/bin/aws-lambda-rie}
RIE_VERSION=${RIE_VERSION:-latest}
PY_REQS=(awslambdaric==4.2.2 boto3==1.44.8 elasticsearch==7.17.13)
LOG_TAG=bench-init

if [[ ! -x $RIE ]]; then
  log "installing aws-lambda-rie ($RIE_VERSION)"
  GOBIN=$(dirname "$RIE") "$GO" install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
fi

stamp="${PY_REQS[*]} $(python3 --version 2>&1)"
if [[ ! -x $VENV/bin/python || $(cat "$VENV/.essnap-bench" 2>/dev/null) != "$stamp" ]]; then
  log "creating $VENV (${PY_REQS[*]})"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_REQS[@]}"
  echo "$stamp" >"$VENV/.essnap-bench"
fi

# The Makefile's LAMBDA_FLAGS, verbatim (LAMBDA_ENV is not used: the host's
# architecture, below).
lambda_build_flags
arch=$("$GO" env GOHOSTARCH)

rm -rf "$OUT"
mkdir -p "$OUT"
"$GO" build -o "$OUT/harness" ./bench/init/harness
subjects=()
for dir in functions/*/; do
  fn=$(basename "$dir")
  GOOS=linux GOARCH=$arch CGO_ENABLED=0 "$GO" build "${flags[@]}" -o "$OUT/$fn/bootstrap" "./functions/$fn"
  subjects+=(-subject "go/$fn=$OUT/$fn/bootstrap")
done
subjects+=(-subject "python=$VENV/bin/python -m awslambdaric handler.handler")

echo "Lambda init time ($("$GO" version | cut -d' ' -f3), GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build $LAMBDA_FLAGS;"
echo "  $("$VENV/bin/python" --version), ${PY_REQS[*]}; $(nproc) CPUs, $(uname -sr))"
exec "$OUT/harness" -rie "$RIE" -dir "$ROOT/bench/init/python" "${subjects[@]}" "$@"
