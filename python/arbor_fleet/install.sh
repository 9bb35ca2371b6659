#!/usr/bin/env bash
# Create or update arbor_fleet's venv from the pinned requirements.txt:
#   ${ARBOR_CACHE:-~/.cache/scx_arbor}/fleet-venv
# Idempotent: when the venv already holds exactly these requirements (a stamp
# with the sha256 of requirements.txt and the interpreter's version), it
# returns at once. Prints the venv's path on stdout as its last line.
#
# As root on Debian it installs what the venv and the Spark engine need
# from apt when missing (python3-venv, a Java 17 runtime); otherwise it says
# what is missing and fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ARBOR_CACHE:-$HOME/.cache/scx_arbor}
venv=$cache/fleet-venv
req=$here/requirements.txt
python=${ARBOR_FLEET_PYTHON:-python3}

die() {
	echo "arbor_fleet/install.sh: $*" >&2
	exit 1
}
apt_install() {
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "arbor_fleet/install.sh: apt-get install $*" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
			{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
	else
		return 1
	fi
}

command -v "$python" >/dev/null || apt_install python3 || die "no $python; install Python 3.11+"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
	die "$python is $("$python" -V 2>&1); arbor_fleet needs Python 3.11 or newer"
"$python" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv ||
	die "$python cannot make a venv: install python3-venv"
# pyspark 4 runs on Java 17 or 21.
if ! java -version 2>&1 | grep -qE 'version "(17|21)'; then
	apt_install openjdk-17-jre-headless || die "no Java 17 or 21 for pyspark: install openjdk-17-jre-headless"
fi

stamp_want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
mkdir -p "$cache"
exec 9>"$cache/fleet-venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.arbor-stamp" 2>/dev/null)" = "$stamp_want" ]; then
	echo "$venv"
	exit 0
fi
t0=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
	"$python" -m venv "$venv" || die "$python -m venv $venv failed"
fi
rm -f "$venv/.arbor-stamp"
"$venv/bin/python" -m pip install -q --upgrade pip >&2 || die "upgrading pip in $venv failed"
"$venv/bin/python" -m pip install -q -r "$req" >&2 || die "pip install -r $req failed"
# A package left from an older requirements.txt would go on shadowing; say so.
"$venv/bin/python" -m pip check >&2 || die "pip check found broken requirements in $venv"
echo "$stamp_want" >"$venv/.arbor-stamp"
echo "arbor_fleet/install.sh: $venv ready in $(($(date +%s) - t0)) s" >&2
echo "$venv"
