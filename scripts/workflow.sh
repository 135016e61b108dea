#!/usr/bin/env bash
# Runs the migration state machine (statemachine/migration.asl.json) locally:
# builds every function's bootstrap, runs each under the Lambda Runtime
# Interface Emulator on its own 127.0.0.1 port, and executes the definition
# with aws-local-stepfunctions (test/workflow/run.mjs), whose Task states call
# those bootstraps. Stops everything it started.
# Usage: scripts/workflow.sh INPUT.json [run.mjs options, e.g. --switch auto --wait-ms 500]
# Prints run.mjs's JSON lines; exits with its status (0 = SUCCEEDED, 1 = FAILED).
# Environment: WORKFLOW_PORT (first port, default 9500), ESSNAP_RUN (logs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[[ $# -ge 1 && -f $1 ]] || { sed -n '2,10p' "$0" >&2; exit 2; }
input=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
RUN=${ESSNAP_RUN:-$ROOT/.cache/run}
BIN=$RUN/workflow-bin
LOGS=$RUN/workflow-logs
RIE=$ROOT/.cache/bin/aws-lambda-rie
mkdir -p "$BIN" "$LOGS"
[[ -x $RIE ]] || { echo "workflow.sh: $RIE missing: run scripts/peers.sh install" >&2; exit 2; }
if [[ ! -d $ROOT/test/workflow/node_modules/aws-local-stepfunctions ]]; then
  (cd "$ROOT/test/workflow" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# Logical name in the definition (${NameFunctionArn}) -> functions/<dir>.
declare -A dirs=([RegisterRepo]=register-repo [TakeSnapshot]=take-snapshot [Restore]=restore
  [CheckProgress]=check-progress [Preflight]=preflight [Verify]=verify [MigrateMetadata]=migrate-metadata [Reindex]=reindex)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
port=${WORKFLOW_PORT:-9500}
fnargs=()
for name in "${!dirs[@]}"; do
  d=${dirs[$name]}
  (cd "$ROOT" && CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -o "$BIN/$d/bootstrap" "./functions/$d")
  env -i PATH="$PATH" AWS_LAMBDA_FUNCTION_TIMEOUT=300 AWS_LAMBDA_FUNCTION_NAME="$d" \
    "$RIE" --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$((port + 1))" \
    "$BIN/$d/bootstrap" >"$LOGS/$d.log" 2>&1 &
  pids+=($!)
  fnargs+=(--function "$name=http://127.0.0.1:$port")
  port=$((port + 2))
done
for a in "${fnargs[@]}"; do
  [[ $a == --function ]] && continue
  hp=${a#*//}
  for _ in $(seq 1 100); do (echo >/dev/tcp/${hp%:*}/${hp#*:}) 2>/dev/null && break; sleep 0.05; done
done
set +e
node "$ROOT/test/workflow/run.mjs" --definition "$ROOT/statemachine/migration.asl.json" --input "$input" "${fnargs[@]}" "$@"
rc=$?
set -e
exit $rc
