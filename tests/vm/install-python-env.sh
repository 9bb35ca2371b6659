#!/usr/bin/env bash
# The Python environment of tests/example_python.rs (examples/python/): a venv
# at $ARBOR_CACHE/pyenv with examples/python/requirements.txt from PyPI. It is
# installed once and again only when the requirements change: the sha256 of
# the requirements installed is kept in the venv as requirements.sha256,
# which the test checks. Called by install-host-deps.sh; needs no root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/../.." && pwd)

req="$root/examples/python/requirements.txt"
venv="$ARBOR_CACHE/pyenv"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" = "$want" ]; then
	echo "python env: $venv (up to date)"
	exit 0
fi
command -v python3 >/dev/null || die "python3 not found (install python3-venv)"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv $venv failed"
"$venv/bin/pip" install -q -r "$req" || die "pip install -r $req failed"
echo "$want" >"$venv/requirements.sha256"
echo "python env: $venv (installed $req)"
