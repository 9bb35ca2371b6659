#!/usr/bin/env bash
# Machine shapes in the VM (QEMU/TCG: software emulation, not hardware):
# for each -smp shape, scx_arbor with the default model attaches, runs
# scx CI's stress-ng mix for --secs, detaches (tests/vm/scenarios/large.sh),
# and bpftool's per-program counters give the cost per callback. Prints one
# table row per shape and program: calls, ns per call.
#
# Usage: benches/vm-large.sh [--secs S] [--out DIR] [SHAPE...]
#   SHAPE  QEMU -smp specs (default: 2 8,sockets=2,cores=4 32,sockets=4,cores=8)
# Needs a debug build (cargo build) and what tests/run-all.sh needs, and
# bpftool on the host (Debian: bpftool), copied into the guest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=30
out=${TMPDIR:-/tmp}/arbor-large-$(date -u +%Y%m%dT%H%M%S)
shapes=()
while [ $# -gt 0 ]; do
	case $1 in
	--secs) secs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) shapes+=("$1"); shift ;;
	esac
done
[ ${#shapes[@]} -gt 0 ] || shapes=(2 8,sockets=2,cores=4 32,sockets=4,cores=8)
bpftool=$(command -v bpftool || echo /usr/sbin/bpftool)
[ -x "$bpftool" ] || { echo "no bpftool on the host (apt install bpftool)" >&2; exit 2; }
libcap=$(ldd "$bpftool" | awk '/libcap/ { print $3 }')
mkdir -p "$out"
echo "results in $out"
echo "| vCPUs | stress rc | state after | program | calls | ns/call |"
echo "|---|---|---|---|---|---|"
for shape in "${shapes[@]}"; do
	d=$out/smp-${shape%%,*}
	files=(--file "$bpftool:/usr/sbin/bpftool")
	[ -n "$libcap" ] && files+=(--file "$libcap:$libcap")
	rc=0
	tests/vm/run.sh large --bin target/debug/scx_arbor --smp "$shape" \
		--arg secs="$secs" --timeout $((secs * 4 + 600)) "${files[@]}" \
		--out "$d" --quiet || rc=$?
	c=$d/console.log
	st=$(grep -a 'ARBOR-MARK stress ' "$c" | tr -d '\r' | tail -n1)
	ex=$(grep -a 'ARBOR-MARK sched_exit ' "$c" | tr -d '\r' | tail -n1)
	src=$(echo "$st" | sed -n 's/.* rc=\([0-9]*\).*/\1/p')
	after=$(echo "$ex" | sed -n 's/.* state=\([a-z]*\).*/\1/p')
	awk '/ARBOR-BEGIN progs/ {on=1; next} /ARBOR-END progs/ {on=0} on' "$c" | tr -d '\r' |
		while read -r name calls ns; do
			per=$([ "${calls:-0}" -gt 0 ] && echo $((ns / calls)) || echo -)
			echo "| ${shape%%,*} | ${src:-?} | ${after:-?} | $name | $calls | $per |"
		done
	[ "$rc" = 0 ] || echo "| ${shape%%,*} | run.sh rc=$rc: see $c |"
done
