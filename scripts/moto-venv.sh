#!/usr/bin/env bash
# Creates (once) the Python venv holding moto server, from tests/requirements-moto.txt, and
# prints its path. Safe to run from several processes at once: creation holds a lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
req="$root/tests/requirements-moto.txt"
hash="$(sha256sum "$req" | cut -c1-12)"
cache="${PANKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/panka}"
venv="$cache/moto-venv-$hash"
mkdir -p "$cache"
exec 9>"$cache/moto-venv.lock"
flock 9
# A venv cannot be moved (its scripts name their interpreter by absolute path), so it is built
# in place and marked complete only once pip has finished.
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
