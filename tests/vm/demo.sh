#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is needed, fetch
# the pinned sched_ext kernel, build scx_arbor (release), boot it in a
# 2-vCPU QEMU/TCG VM and run `scx_arbor ab` there: EEVDF against scx_arbor
# with the default model, latency mix and messaging, interleaved rounds.
# Prints the comparison table; writes ab.json, ab.svg and the console log
# into the output directory.
#
# Usage: sudo tests/vm/demo.sh [--rounds N] [--duration SECS] [--out DIR]
#                              [--smp 8,sockets=2,cores=4]
# --smp gives the guest QEMU's -smp shape (default 2 vCPUs, one LLC; the
# example is 8 vCPUs on two sockets, i.e. two LLCs, and much slower).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=5 duration=6 out=$root/target/demo smp=2
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--duration SECS] [--out DIR] [--smp SPEC]" >&2; exit 2 ;;
	esac
done
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}

if [ "$(id -u)" = 0 ]; then
	"$here/install-host-deps.sh"
else
	echo "not root: assuming tests/vm/install-host-deps.sh has been run" >&2
fi
command -v cargo >/dev/null || { echo "error: cargo (Rust) is needed" >&2; exit 1; }
"$here/fetch-kernel.sh" >/dev/null
cargo build --release
mkdir -p "$out"
budget=$((rounds * 2 * 2 * (duration + 2) + 240))
[ "${smp%%,*}" -le 2 ] || budget=$((budget * 3))
# One TCG guest at a time: the VM tests take the same lock.
mkdir -p "$root/target/tmp"
flock "$root/target/tmp/vm.lock" "$here/run.sh" ab --bin "$root/target/release/scx_arbor" --timeout "$budget" --quiet --smp "$smp" \
	--out "$out/vm" --arg rounds="$rounds" --arg duration="$duration" --arg warmup=2 \
	--arg svg_b64=1 --arg walk_cost=1
console=$out/vm/console.log
# The serial console ends lines with \r: strip it before matching.
block() {
	tr -d '\r' <"$console" |
		awk -v b="$1" '$0 ~ "ARBOR-BEGIN "b"$" {on=1; next} $0 ~ "ARBOR-END "b" " {on=0} on'
}
block json >"$out/ab.json"
block svg.b64 | base64 -d >"$out/ab.svg"
echo
echo "scx_arbor ab in a QEMU/TCG VM, -smp $smp (kernel 7.3.4+deb13-cloud-amd64):"
echo "rounds $rounds per arm, $duration s per workload per round; software-emulated CPUs,"
echo "so absolute figures are not hardware figures: the ratios are the point."
echo
block table
grep -q 'ARBOR-MARK ab rc=0' "$console" || { echo "error: ab failed; see $console" >&2; exit 1; }
echo
echo "raw figures: $out/ab.json   latency plot: $out/ab.svg   console: $console"
