# essnap - build, lint, test and deploy.
#
# `sam build` calls the build-<LogicalId> targets below (template.yaml,
# Metadata: BuildMethod: makefile) with ARTIFACTS_DIR set; each writes one
# arm64 `bootstrap` for the provided.al2023 runtime.
#
# Run `make help` for the list of targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
TEMPLATE ?= template.yaml
BUILD_DIR ?= build
# Path to a `sam` binary; empty = the repo's own copy (scripts/install-sam.sh).
SAM      ?=

LAMBDA_ENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'

# Every directory under functions/ is one Lambda function.
FUNCTIONS = $(notdir $(patsubst %/,%,$(wildcard functions/*/)))

# Shell snippet that resolves the sam binary (installs it on first use).
SAM_CMD = export SAM_CLI_TELEMETRY=0; sam="$${SAM:-$$(bash scripts/install-sam.sh)}"

# lambda-build,<dir under functions/>: one bootstrap into $(ARTIFACTS_DIR).
define lambda-build
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/$(1)
endef

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-28s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ------------------------------------------------------------ sam build hooks
.PHONY: build-RegisterRepoFunction build-TakeSnapshotFunction build-RestoreFunction build-CheckProgressFunction \
	build-PreflightFunction build-VerifyFunction build-MigrateMetadataFunction

build-RegisterRepoFunction: ## (sam build) register-repo bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,register-repo)

# The setup doctor (runs with register-repo's role).
.PHONY: build-DoctorFunction
build-DoctorFunction: ## (sam build) doctor bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,doctor)

build-TakeSnapshotFunction: ## (sam build) take-snapshot bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,take-snapshot)

build-RestoreFunction: ## (sam build) restore bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,restore)

# The migration state machine's progress poller.
build-CheckProgressFunction: ## (sam build) check-progress bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,check-progress)

build-PreflightFunction: ## (sam build) preflight bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,preflight)

build-VerifyFunction: ## (sam build) verify bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,verify)

build-MigrateMetadataFunction: ## (sam build) migrate-metadata bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,migrate-metadata)

# The migration's reindex step.
.PHONY: build-ReindexFunction
build-ReindexFunction: ## (sam build) reindex bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,reindex)

# The restore drill (weekly schedule, its own role).
.PHONY: build-DrillFunction
build-DrillFunction: ## (sam build) drill bootstrap into $ARTIFACTS_DIR
	$(call lambda-build,drill)

# ---------------------------------------------------------------- developer
.PHONY: build
build: ## Build every functions/<name> to build/<name>/bootstrap (linux/arm64)
	@test -n "$(FUNCTIONS)" || { echo "no functions/ directories found" >&2; exit 1; }
	@for f in $(FUNCTIONS); do \
		echo "go build ./functions/$$f -> $(BUILD_DIR)/$$f/bootstrap"; \
		$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(BUILD_DIR)/$$f/bootstrap" "./functions/$$f"; \
	done

.PHONY: sam-build
sam-build: ## sam build (in source) into .aws-sam/build
	@$(SAM_CMD); "$$sam" build --build-in-source --template "$(TEMPLATE)"

.PHONY: install-sam
install-sam: ## Install the AWS SAM CLI from PyPI into .cache/sam-venv
	@bash scripts/install-sam.sh

.PHONY: test
test: ## Run the test suite (scripts/test.sh)
	bash scripts/test.sh

.PHONY: test-template
test-template: ## Go tests that read template.yaml
	$(GO) test ./test/template/

.PHONY: check-template
check-template: ## cfn-lint, sam validate --lint, sam build and arm64 artifact checks
	bash scripts/check-template.sh

.PHONY: demo
demo: ## Run the local demo (scripts/demo.sh)
	bash scripts/demo.sh

.PHONY: migration-demo
migration-demo: ## Same as demo: ES 7.10 -> OpenSearch 3.5 migration through the state machine
	bash scripts/demo.sh

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, cfn-lint, sam validate --lint
	@echo "gofmt -l"; \
		files="$$(git ls-files -co --exclude-standard -- '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')"; \
		out="$$( [[ -z "$$files" ]] || gofmt -l $$files )"; \
		if [[ -n "$$out" ]]; then echo "gofmt needed:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cfn-lint -- "$(TEMPLATE)"
	@$(SAM_CMD); echo "sam validate --lint"; AWS_DEFAULT_REGION="$${AWS_DEFAULT_REGION:-us-east-1}" "$$sam" validate --lint --template "$(TEMPLATE)"

.PHONY: deploy
deploy: ## sam build + sam deploy --guided (needs AWS credentials)
	@$(SAM_CMD); "$$sam" build --build-in-source --template "$(TEMPLATE)" && "$$sam" deploy --guided --capabilities CAPABILITY_IAM

.PHONY: bench-lambda
bench-lambda: ## Benchmarks (not tests): bootstrap sizes and init time under the RIE vs Python (docs/benchmarks.md)
	@rc=0; bash bench/size.sh || rc=1; echo; bash bench/init/run.sh || rc=1; exit $$rc

.PHONY: bench-retention
bench-retention: ## Benchmark (not a test): retention vs Curator delete_snapshots on a real ES 7.10, and the 10k-snapshot pass (docs/benchmarks.md)
	@rc=0; bash bench/retention/run.sh || rc=1; echo; \
		$(GO) test -run '^$$' -bench BenchmarkRetention10k -benchtime 40x -count 5 ./pkg/retention/ || rc=1; exit $$rc

.PHONY: clean
clean: ## Remove build outputs (build/, .aws-sam/)
	rm -rf "$(BUILD_DIR)" .aws-sam
