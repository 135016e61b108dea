# Sourced by scripts/install-sam.sh and scripts/install-moto.sh: installs a
# PyPI package into a virtualenv inside the repo (.cache/*-venv, ignored by
# git), or with `pip install --user` where python cannot create a venv
# (Debian without python3-venv). Idempotent: what works is reused.
#
# pyvenv_install NAME SPEC VENV BIN CHECK_ARG: prints the path of BIN once
# `BIN CHECK_ARG` runs; logs as install-NAME. PYTHON picks the interpreter
# (default: first of python3.11, python3.12, python3.13, python3).

pyvenv_log() { echo "install-$PYVENV_NAME: $*" >&2; }

pyvenv_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  local p
  for p in python3.11 python3.12 python3.13 python3; do
    if command -v "$p" >/dev/null 2>&1; then echo "$p"; return; fi
  done
  pyvenv_log "no python3 found: install Python 3 with pip"; exit 1
}

pyvenv_install() {
  PYVENV_NAME=$1
  local spec=$2 venv=$3 bin_name=$4 check=$5
  local bin="$venv/bin/$bin_name" flags=(--quiet --disable-pip-version-check --no-input) py
  if [[ -x $bin ]] && "$bin" "$check" >/dev/null 2>&1; then
    pyvenv_log "already installed: $bin"
    echo "$bin"; return 0
  fi
  py="$(pyvenv_python)"
  pyvenv_log "creating venv $venv with $py"
  mkdir -p "$(dirname "$venv")"
  rm -rf "$venv"
  if "$py" -m venv "$venv" >/dev/null 2>&1 && [[ -x "$venv/bin/pip" ]]; then
    pyvenv_log "pip install $spec (venv)"
    "$venv/bin/python" -m pip install "${flags[@]}" "$spec" >&2
  else
    rm -rf "$venv"
    pyvenv_log "venv unavailable; pip install --user $spec"
    "$py" -m pip install "${flags[@]}" --user "$spec" >&2
    bin="$("$py" -m site --user-base)/bin/$bin_name"
  fi
  [[ -x $bin ]] && "$bin" "$check" >/dev/null 2>&1 || { pyvenv_log "$bin_name not runnable at $bin"; exit 1; }
  pyvenv_log "installed: $bin"
  echo "$bin"
}
