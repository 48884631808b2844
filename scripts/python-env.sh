#!/usr/bin/env bash
# Create (or reuse) the Python venv holding the tools pinned in tools/requirements.txt.
#
# The venv lives at ${INTEG_CACHE_DIR:-$HOME/.cache/integ}/venv. Packages are (re)installed only
# when the sha256 of tools/requirements.txt differs from the stamp left by the last install, so a
# warm run costs a hash and nothing more. Progress goes to stderr; the last line on stdout is the
# venv path:
#
#   VENV=$(scripts/python-env.sh | tail -1)
#   "$VENV/bin/python" helm/tests/check_chart.py
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$repo_root/tools/requirements.txt"
cache_dir=${INTEG_CACHE_DIR:-$HOME/.cache/integ}
venv="$cache_dir/venv"
stamp="$venv/.requirements.sha256"

log() { printf 'python-env: %s\n' "$*" >&2; }

if [[ ! -f "$requirements" ]]; then
  log "missing $requirements"
  exit 1
fi

want=$(sha256sum "$requirements" | cut -d' ' -f1)
have=""
if [[ -f "$stamp" ]]; then
  have=$(cat "$stamp")
fi

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating venv at $venv"
  mkdir -p "$cache_dir"
  python3 -m venv "$venv" >&2
  have=""
fi

if [[ "$want" != "$have" ]]; then
  log "installing tools/requirements.txt (this can take a few minutes the first time)"
  rm -f "$stamp"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --requirement "$requirements" >&2
  printf '%s\n' "$want" >"$stamp"
  log "tools installed"
fi

printf '%s\n' "$venv"
