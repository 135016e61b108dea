#!/usr/bin/env bash
# Installs the AWS SAM CLI from PyPI and prints the path of the `sam` executable.
#
# Preferred location: a virtualenv inside the repo (.cache/sam-venv, ignored
# by git). If python cannot create a venv (e.g. Debian without python3-venv),
# falls back to `pip install --user`.
#
# Idempotent: a second run reuses what is there and only checks `sam --version`.
#
# Usage:
#   bash scripts/install-sam.sh                     # install if needed, print path
#   eval "$(bash scripts/install-sam.sh --env)"     # also put sam on PATH, telemetry off
#
# Environment:
#   PYTHON            interpreter to use (default: first of python3.11, python3.12, python3.13, python3)
#   SAM_VENV          venv location (default: <repo>/.cache/sam-venv)
#   SAM_CLI_VERSION   pin a version, e.g. 1.170.0 (default: newest on PyPI)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SAM_VENV:-$repo_root/.cache/sam-venv}"
export SAM_CLI_TELEMETRY=0

log() { echo "install-sam: $*" >&2; }

pick_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  local p
  for p in python3.11 python3.12 python3.13 python3; do
    if command -v "$p" >/dev/null 2>&1; then echo "$p"; return; fi
  done
  log "no python3 found"; exit 1
}

works() { [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1; }

spec="aws-sam-cli"
[[ -n "${SAM_CLI_VERSION:-}" ]] && spec="aws-sam-cli==${SAM_CLI_VERSION}"
pip_flags=(--quiet --disable-pip-version-check --no-input)

sam_bin="$venv/bin/sam"
if works "$sam_bin"; then
  log "already installed: $("$sam_bin" --version)"
else
  py="$(pick_python)"
  log "creating venv $venv with $py"
  mkdir -p "$(dirname "$venv")"
  rm -rf "$venv"
  if "$py" -m venv "$venv" >/dev/null 2>&1 && [[ -x "$venv/bin/pip" ]]; then
    log "pip install $spec (venv)"
    "$venv/bin/python" -m pip install "${pip_flags[@]}" "$spec" >&2
  else
    rm -rf "$venv"
    log "venv unavailable; pip install --user $spec"
    "$py" -m pip install "${pip_flags[@]}" --user "$spec" >&2
    sam_bin="$("$py" -m site --user-base)/bin/sam"
  fi
  works "$sam_bin" || { log "sam not runnable at $sam_bin"; exit 1; }
  log "installed: $("$sam_bin" --version)"
fi

if [[ "${1:-}" == "--env" ]]; then
  # $PATH stays literal: it expands where the output is eval'ed.
  # shellcheck disable=SC2016
  printf 'export SAM_CLI_TELEMETRY=0\nexport PATH=%q:"$PATH"\n' "$(dirname "$sam_bin")"
else
  echo "$sam_bin"
fi
