#!/usr/bin/env bash
# arbor_fleet's tests, in its venv (install.sh creates it when needed).
# ARBOR_BIN names the scx_arbor binary (default: the repository's
# target/release/scx_arbor, else target/debug/scx_arbor). Extra arguments
# go to pytest (e.g. -k dask).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=$("$here/install.sh" | tail -n 1)
if [ -z "${ARBOR_BIN:-}" ]; then
	for b in "$root/target/release/scx_arbor" "$root/target/debug/scx_arbor"; do
		[ -x "$b" ] && export ARBOR_BIN=$b && break
	done
fi
[ -n "${ARBOR_BIN:-}" ] || { echo "run-tests.sh: no scx_arbor binary: build it or set ARBOR_BIN" >&2; exit 1; }
cd "$root/python"
exec nice -n 10 "$venv/bin/python" -m pytest -p no:cacheprovider "$here/tests" "$@"
