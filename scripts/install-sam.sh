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

# shellcheck source=scripts/pyvenv.sh
source "$repo_root/scripts/pyvenv.sh"
spec="aws-sam-cli"
[[ -n "${SAM_CLI_VERSION:-}" ]] && spec="aws-sam-cli==${SAM_CLI_VERSION}"
sam_bin="$(pyvenv_install sam "$spec" "$venv" sam --version)"

if [[ "${1:-}" == "--env" ]]; then
  # $PATH stays literal: it expands where the output is eval'ed.
  # shellcheck disable=SC2016
  printf 'export SAM_CLI_TELEMETRY=0\nexport PATH=%q:"$PATH"\n' "$(dirname "$sam_bin")"
else
  echo "$sam_bin"
fi
