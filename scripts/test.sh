#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the real peers, starts
# OpenSearch 2.19 and Elasticsearch 7.10 on loopback, then runs lint, unit
# tests, integration tests on both engines, the Lambda emulator tests and the
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

step "lint: gofmt, go vet, staticcheck"
bad=$(gofmt -l $(git ls-files -co --exclude-standard -- '*.go'))
if [[ -n $bad ]]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
go vet ./... && go vet -tags integration ./...
go tool staticcheck ./... && go tool staticcheck -tags integration ./...

step "unit tests"
go test ./...

step "start engines"
trap 'bash scripts/peers.sh stop all' EXIT
bash scripts/peers.sh start opensearch opensearch 9201
bash scripts/peers.sh start elasticsearch elasticsearch 9211
export ESSNAP_TEST_ENGINES="opensearch=$(bash scripts/peers.sh url opensearch),elasticsearch=$(bash scripts/peers.sh url elasticsearch)"
export ESSNAP_TEST_REPO_ROOT=$ESSNAP_RUN/repo

step "integration tests on real engines ($ESSNAP_TEST_ENGINES)"
set +e
go test -tags integration -timeout 30m -v ./test/integration/ ./test/lambda/ >"$ESSNAP_RUN/integration.log" 2>&1
rc=$?
set -e
grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' "$ESSNAP_RUN/integration.log" | grep -v '^=== RUN' || true
if [[ $rc != 0 ]]; then
  echo "integration tests failed (exit $rc); last lines of $ESSNAP_RUN/integration.log:"; tail -80 "$ESSNAP_RUN/integration.log"; exit 1
fi
if grep -q -- '--- SKIP' "$ESSNAP_RUN/integration.log"; then
  echo "an integration test skipped: a skipped real-engine test is a failure"; grep -- '--- SKIP' "$ESSNAP_RUN/integration.log"; exit 1
fi

step "template: cfn-lint, sam validate --lint, sam build, template tests"
bash scripts/check-template.sh

step "all tests passed"
