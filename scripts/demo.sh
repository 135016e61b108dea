#!/usr/bin/env bash
# Local demo on a real engine, through the real Lambda path: starts
# OpenSearch 2.19 on loopback, fills it with sample log indices, then runs
# each function's bootstrap under the Lambda Runtime Interface Emulator and
# invokes it with the AWS CLI and the sample events in events/:
# register-repo -> take-snapshot -> check-progress -> restore (renamed) ->
# check-progress, and compares document counts. Usage: make demo
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/demo}
PORT=${DEMO_PORT:-9221}
say() { printf '\n\033[1m>> %s\033[0m\n' "$*"; }

bash scripts/peers.sh install
BIN=$ESSNAP_RUN/bin
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash scripts/peers.sh stop demo-opensearch; }
trap cleanup EXIT
bash scripts/peers.sh start opensearch demo-opensearch "$PORT"
URL=$(bash scripts/peers.sh url demo-opensearch)

say "sample logs on $URL"
for day in 2026.11.21 2026.11.22 2026.11.23; do
  curl -fsS -XPUT "$URL/logs-$day" -H 'Content-Type: application/json' -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null
  python3 - "$day" >"$ESSNAP_RUN/bulk.ndjson" <<'PY'
import json, sys
day = sys.argv[1]
for i in range(2000):
    print(json.dumps({"index": {"_id": f"{day}-{i}"}}))
    print(json.dumps({"@timestamp": day.replace(".", "-") + "T00:00:00Z", "level": ["info", "warn", "error"][i % 3], "message": f"request {i} served"}))
PY
  curl -fsS -XPOST "$URL/logs-$day/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary @"$ESSNAP_RUN/bulk.ndjson" >/dev/null
done
curl -fsS "$URL/_cat/indices/logs-*?v&s=index&h=index,docs.count,store.size"

say "building the functions"
port=9400
declare -A endpoint
for fn in register-repo take-snapshot restore check-progress; do
  CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -o "$BIN/$fn/bootstrap" "./functions/$fn"
  env -i PATH="$PATH" AWS_LAMBDA_FUNCTION_TIMEOUT=120 AWS_LAMBDA_FUNCTION_NAME="$fn" \
    ESSNAP_ENDPOINT="$URL" ESSNAP_UNSIGNED=true ESSNAP_REPOSITORY=essnap ESSNAP_REPOSITORY_TYPE=fs \
    ESSNAP_FS_LOCATION="$ESSNAP_RUN/repo/demo-$(date +%s)" \
    "$ROOT/.cache/bin/aws-lambda-rie" --runtime-interface-emulator-address "127.0.0.1:$port" \
    --runtime-api-address "127.0.0.1:$((port + 1))" "$BIN/$fn/bootstrap" >"$ESSNAP_RUN/$fn.log" 2>&1 &
  pids+=($!)
  endpoint[$fn]="http://127.0.0.1:$port"
  port=$((port + 2))
done
sleep 1

invoke() { # function payload-file-or-json
  local payload=$2
  [[ -f $payload ]] || { printf '%s' "$payload" >"$ESSNAP_RUN/payload.json"; payload=$ESSNAP_RUN/payload.json; }
  AWS_EC2_METADATA_DISABLED=true aws lambda invoke --endpoint-url "${endpoint[$1]}" --function-name function \
    --no-sign-request --region us-east-1 --payload "file://$payload" "$ESSNAP_RUN/out.json" >/dev/null
  cat "$ESSNAP_RUN/out.json"
}
field() { python3 -c "import json,sys; d=json.load(open('$ESSNAP_RUN/out.json')); print($1)"; }
wait_done() { # payload
  for _ in $(seq 1 150); do
    invoke check-progress "$1" >/dev/null
    [[ $(field "d.get('done', False)") == True ]] && { invoke check-progress "$1"; echo; return; }
    grep -q errorType "$ESSNAP_RUN/out.json" && { cat "$ESSNAP_RUN/out.json"; exit 1; }
    sleep 0.3
  done
  echo "timed out"; exit 1
}

say "aws lambda invoke register-repo  events/register-repo.json"
invoke register-repo events/register-repo.json; echo
say "aws lambda invoke take-snapshot  events/take-snapshot-schedule.json"
invoke take-snapshot events/take-snapshot-schedule.json; echo
snap=$(field "d['snapshot']")
say "aws lambda invoke check-progress {\"snapshot\":\"$snap\"} until done"
wait_done "{\"snapshot\":\"$snap\"}"
say "aws lambda invoke take-snapshot  events/take-snapshot-schedule.json  (a duplicate delivery)"
invoke take-snapshot events/take-snapshot-schedule.json; echo
say "aws lambda invoke restore  events/restore-dry-run.json  (pre-flight finds every collision)"
invoke restore events/restore-dry-run.json; echo
say "aws lambda invoke restore  events/restore.json  (rename_suffix -restored)"
invoke restore events/restore.json | python3 -m json.tool
targets=$(field "json.dumps([m['target'] for m in d['indices']])")
say "aws lambda invoke check-progress {\"indices\":$targets} until done"
wait_done "{\"indices\":$targets}"

say "result"
curl -fsS "$URL/_cat/indices/logs-*?v&s=index&h=index,health,docs.count"
for day in 2026.11.21 2026.11.22 2026.11.23; do
  a=$(curl -fsS "$URL/logs-$day/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  b=$(curl -fsS "$URL/logs-$day-restored/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  [[ $a == "$b" ]] || { echo "MISMATCH logs-$day: $a vs $b"; exit 1; }
  echo "logs-$day: $a documents, restored copy: $b documents"
done
say "demo finished: snapshot and restore verified on a real OpenSearch through the Lambda runtime"
