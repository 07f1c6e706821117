#!/usr/bin/env bash
# Creates (once) the Python venv holding LocalStack, from tests/requirements-localstack.txt, and
# prints its path. LocalStack 2026.3.0 needs Python 3.13: PANKA_LOCALSTACK_PYTHON names the
# interpreter, otherwise python3.13 on PATH, otherwise pyenv's 3.13. Safe to run from several
# processes at once: creation holds a lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
req="$root/tests/requirements-localstack.txt"
hash="$(sha256sum "$req" | cut -c1-12)"
cache="${PANKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/panka}"
venv="$cache/localstack-venv-$hash"

# An interpreter counts only when it runs and is 3.13 (pyenv's shims exist for versions that are
# installed but not selected, and fail when called).
is_python313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }
find_python() {
  local candidates=()
  [ -n "${PANKA_LOCALSTACK_PYTHON:-}" ] && candidates+=("$PANKA_LOCALSTACK_PYTHON")
  command -v python3.13 >/dev/null 2>&1 && candidates+=("$(command -v python3.13)")
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for p in "$pyenv_root"/versions/3.13*/bin/python3.13; do [ -x "$p" ] && candidates+=("$p"); done
  for p in "${candidates[@]}"; do
    if is_python313 "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

mkdir -p "$cache"
exec 9>"$cache/localstack-venv.lock"
flock 9
# A venv cannot be moved (its scripts name their interpreter by absolute path), so it is built
# in place and marked complete only once pip has finished.
if [ ! -f "$venv/.complete" ]; then
  if ! python="$(find_python)"; then
    echo "LocalStack needs Python 3.13: none found (tried \$PANKA_LOCALSTACK_PYTHON, python3.13 on PATH, ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13*); install one (pyenv install 3.13) or set PANKA_LOCALSTACK_PYTHON" >&2
    exit 1
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
