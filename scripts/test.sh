#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the real peers, starts
# the engine matrix on loopback (Elasticsearch 7.10.2, OpenSearch 1.3.1,
# 2.19.1 and 3.5.0), then runs lint (with asl-validator), unit tests,
# integration tests on every engine, the Lambda emulator tests on every
# engine, the migration workflow tests on every supported engine pair and the
# template checks. Any missing peer fails the run. Usage: make test
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export ESSNAP_RUN=${ESSNAP_RUN:-$ROOT/.cache/run}
export GOFLAGS=${GOFLAGS:--count=1}
step() { printf '\n=== %s\n' "$*"; }

step "install peers"
bash scripts/peers.sh install
bash scripts/install-sam.sh >/dev/null
# moto's server, which the IAM and doctor tests start on loopback.
ESSNAP_MOTO_SERVER=$(bash scripts/install-moto.sh)
export ESSNAP_MOTO_SERVER

step "lint: go mod tidy -diff, gofmt, go vet, staticcheck"
go mod tidy -diff
bad=$(gofmt -l $(git ls-files -co --exclude-standard -- '*.go'))
if [[ -n $bad ]]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
go vet ./... && go vet -tags integration ./...
go tool staticcheck ./... && go tool staticcheck -tags integration ./...

step "lint: asl-validator statemachine/migration.asl.json"
(cd test/workflow && npx --no-install asl-validator --no-arn-check --json-path ../../statemachine/migration.asl.json)

step "unit tests"
go test ./...

step "start engines"
trap 'bash scripts/peers.sh stop all' EXIT
# NAME=KIND:PORT, HTTP ports within 9201-9299 (the runner refuses others).
MATRIX="elasticsearch-7.10=elasticsearch:9211 opensearch-1.3=opensearch1:9221 opensearch-2.19=opensearch:9201 opensearch-3.5=opensearch3:9241"
ESSNAP_TEST_ENGINES=
for entry in $MATRIX; do
  name=${entry%%=*} kind=${entry#*=}
  bash scripts/peers.sh start "${kind%%:*}" "$name" "${kind#*:}"
  ESSNAP_TEST_ENGINES+="${ESSNAP_TEST_ENGINES:+,}$name=$(bash scripts/peers.sh url "$name")"
done
export ESSNAP_TEST_ENGINES
export ESSNAP_TEST_REPO_ROOT=$ESSNAP_RUN/repo

step "integration tests on real engines ($ESSNAP_TEST_ENGINES)"
# run_real LOG TIMEOUT PKG...: integration tests, failing on any failure or skip.
run_real() {
  local log=$ESSNAP_RUN/$1 timeout=$2 rc
  shift 2
  set +e
  go test -tags integration -timeout "$timeout" -v "$@" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' "$log" | grep -v '^=== RUN' || true
  if [[ $rc != 0 ]]; then
    echo "tests failed (exit $rc); last lines of $log:"; tail -80 "$log"; exit 1
  fi
  if grep -q -- '--- SKIP' "$log"; then
    echo "a test skipped: a skipped real-engine test is a failure"; grep -- '--- SKIP' "$log"; exit 1
  fi
}
# One package at a time (-p 1): tests change cluster-wide settings (the
# drill's low-disk test lowers the disk watermarks), which would stall
# another package's restores on the same engines.
run_real integration.log 30m -p 1 ./test/integration/ ./test/lambda/

step "migration workflow: aws-local-stepfunctions + emulator bootstraps on every engine pair, with ingestion"
export ESSNAP_WORKFLOW_ENGINES="$ESSNAP_TEST_ENGINES"
run_real workflow.log 40m ./test/workflow/

step "template: cfn-lint, sam validate --lint, sam build, template tests"
bash scripts/check-template.sh

step "all tests passed"
