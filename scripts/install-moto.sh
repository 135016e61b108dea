#!/usr/bin/env bash
# Installs moto's server (PyPI `moto[server]`) into a virtualenv inside the
# repo and prints the path of its `moto_server` executable. The IAM and STS
# tests of the setup doctor and register-repo's role pre-check start it on
# loopback (test/integration/iam_test.go); scripts/test.sh exports the path
# as ESSNAP_MOTO_SERVER.
#
# Location: .cache/moto-venv (ignored by git), like scripts/install-sam.sh.
# If python cannot create a venv, falls back to `pip install --user`.
# Idempotent: a second run reuses what is there and only checks that the
# server answers --help.
#
# Usage:
#   bash scripts/install-moto.sh        # install if needed, print the path
#
# Environment:
#   PYTHON        interpreter (default: first of python3.11, python3.12, python3.13, python3)
#   MOTO_VENV     venv location (default: <repo>/.cache/moto-venv)
#   MOTO_VERSION  moto version (default: 5.2.5; the field notes observed 5.2.1)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MOTO_VENV:-$repo_root/.cache/moto-venv}"
version="${MOTO_VERSION:-5.2.5}"

# shellcheck source=scripts/pyvenv.sh
source "$repo_root/scripts/pyvenv.sh"
pyvenv_install moto "moto[server]==$version" "$venv" moto_server --help
