#!/usr/bin/env bash
# Checks the SAM stack without an AWS account:
#   1. cfn-lint on template.yaml
#   2. sam validate --lint (SAM CLI from PyPI via scripts/install-sam.sh)
#   3. sam build into a temporary build dir; every AWS::Serverless::Function
#      (at least RegisterRepoFunction, TakeSnapshotFunction, RestoreFunction)
#      must yield <build-dir>/<LogicalId>/bootstrap, a 64-bit little-endian
#      ARM aarch64 ELF executable
#   4. go test ./test/template/ (the template's security properties)
# Exits non-zero on the first failure and says what it checked.
#
# Environment:
#   TEMPLATE        template to check (default: template.yaml)
#   KEEP_BUILD=1    keep the temporary build dir and print its path
#   SKIP_GO_TEST=1  skip step 4 (e.g. when scripts/test.sh runs it anyway)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
template="${TEMPLATE:-template.yaml}"
required_functions=(RegisterRepoFunction TakeSnapshotFunction RestoreFunction)

export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

[[ -f "$template" ]] || fail "$template not found"

sam="$(bash scripts/install-sam.sh)"
sam_dir="$(dirname "$sam")"

step "cfn-lint $template"
if command -v cfn-lint >/dev/null 2>&1; then
  cfn_lint=cfn-lint
elif [[ -x "$sam_dir/cfn-lint" ]]; then
  cfn_lint="$sam_dir/cfn-lint" # installed with aws-sam-cli
else
  fail "cfn-lint not found (pip install cfn-lint)"
fi
"$cfn_lint" --version
"$cfn_lint" -- "$template" || fail "cfn-lint reported problems"
ok "cfn-lint: no errors or warnings"

step "sam validate --lint ($("$sam" --version))"
"$sam" validate --lint --template "$template" || fail "sam validate --lint reported problems"
ok "sam validate --lint"

step "sam build"
# Function logical IDs from the template (top-level resources whose Type is
# AWS::Serverless::Function); plain awk so no YAML library is needed.
mapfile -t functions < <(awk '
  /^Resources:/ { inres = 1; next }
  /^[^ #]/      { inres = 0 }
  inres && /^  [A-Za-z0-9]+:[[:space:]]*$/ { id = $1; sub(":", "", id); next }
  inres && id != "" && /^    Type:[[:space:]]*AWS::Serverless::Function[[:space:]]*$/ { print id; id = "" }
' "$template")
for f in "${required_functions[@]}"; do
  [[ " ${functions[*]} " == *" $f "* ]] || fail "$template has no function $f"
done
echo "functions: ${functions[*]}"
declare -A source_dir=(
  [RegisterRepoFunction]=functions/register-repo
  [TakeSnapshotFunction]=functions/take-snapshot
  [RestoreFunction]=functions/restore
)
for f in "${required_functions[@]}"; do
  [[ -d "${source_dir[$f]}" ]] || fail "$f: source directory ${source_dir[$f]} is missing"
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/essnap-sam-build.XXXXXX")"
if [[ "${KEEP_BUILD:-}" == 1 ]]; then
  echo "build dir kept: $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
# --build-in-source: make runs in the repo, so large local caches (.cache/,
# engine downloads) are not copied into a scratch dir once per function.
"$sam" build --build-in-source --template "$template" \
  --build-dir "$tmp/build" --cache-dir "$tmp/cache" \
  || fail "sam build failed"
ok "sam build"

# is_arm64_elf FILE: ELF magic, ELFCLASS64, little-endian, e_machine 183 (EM_AARCH64).
is_arm64_elf() {
  local hdr
  hdr="$(od -An -tu1 -N20 -v "$1" | tr -s ' \n' ' ')"
  # bytes 0-3 magic, 4 class, 5 data, 18-19 e_machine (LE)
  read -r -a b <<<"$hdr"
  [[ ${#b[@]} -ge 20 ]] || return 1
  [[ "${b[0]} ${b[1]} ${b[2]} ${b[3]}" == "127 69 76 70" ]] || return 1
  [[ "${b[4]}" == 2 && "${b[5]}" == 1 ]] || return 1
  [[ "${b[18]}" == 183 && "${b[19]}" == 0 ]] || return 1
}

step "artifacts"
for f in "${functions[@]}"; do
  bin="$tmp/build/$f/bootstrap"
  [[ -f "$bin" ]] || fail "$f: $bin missing"
  [[ -x "$bin" ]] || fail "$f: $bin is not executable"
  is_arm64_elf "$bin" || fail "$f: bootstrap is not a 64-bit little-endian aarch64 ELF"
  desc="ELF header: 64-bit LE, e_machine=EM_AARCH64"
  if command -v file >/dev/null 2>&1; then
    desc="$(file -b "$bin")"
    [[ "$desc" == *"ELF 64-bit"*"aarch64"* ]] || fail "$f: file(1) says: $desc"
  fi
  size="$(wc -c <"$bin" | tr -d ' ')"
  ok "$f/bootstrap ($size bytes): $desc"
done

if [[ "${SKIP_GO_TEST:-}" != 1 ]]; then
  step "go test ./test/template/"
  go test ./test/template/ || fail "template tests failed"
  ok "template tests"
fi

printf '\ncheck-template: all checks passed\n'
