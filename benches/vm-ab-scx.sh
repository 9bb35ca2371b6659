#!/usr/bin/env bash
# Benchmark: scx_arbor against EEVDF and against published sched_ext
# schedulers (scx_bpfland, scx_cosmos and scx_lavd from crates.io), all in ONE
# `scx_arbor ab` run in the TCG VM, interleaved rounds: the comparison a user
# who runs one of those today would make. The published schedulers are built
# with `cargo install --locked` at the pinned versions below (once; kept in
# the --bin-dir) and run with their default options, as `--arm` arms.
#
# Prints ab's table (every arm against eevdf: medians, ratio, 95% CI,
# Mann-Whitney p, verdict); writes ab.json and the console log to OUT.
# Figures are emulated-VM figures: compare the arms with each other.
#
# Usage: benches/vm-ab-scx.sh [--rounds R] [--duration S] [--warmup S]
#          [--workload LIST] [--smp SPEC] [--bin-dir DIR] [--out DIR]
#   --workload  ab's --workload (default latency,messaging,schbench)
#   --bin-dir   where the published schedulers are installed
#               (default target/scx-published)
#   --smp       passed to tests/vm/run.sh (e.g. 8,sockets=2,cores=4)
#   ARBOR_BIN=path/to/scx_arbor  measure that binary instead of building
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}
target=${CARGO_TARGET_DIR:-$root/target}

. "$root/benches/published.sh"
# The published schedulers measured (versions in benches/published.sh).
PUBLISHED=
for n in bpfland cosmos lavd; do PUBLISHED="$PUBLISHED $n=$(published_version $n)"; done

rounds=5 duration=4 warmup=1 workload=latency,messaging,schbench smp=2
bindir=$target/scx-published out=
usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--workload) workload=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--bin-dir) bindir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "vm-ab-scx.sh: unknown argument $1" >&2; usage ;;
	esac
done
for v in "$rounds" "$duration" "$warmup"; do
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "not a number: $v" >&2; exit 2; }
done
[ -n "$out" ] || out=$target/ab-scx/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out" "$bindir"

# Build what is missing, each at its pinned version.
bins=() other=
for nv in $PUBLISHED; do
	published_install "$bindir" "scx_${nv%=*}" "${nv#*=}"
	bins+=(--bin "$bindir/bin/scx_${nv%=*}")
	other="$other${other:+,}${nv%=*}:/usr/bin/scx_${nv%=*}"
done
bin=${ARBOR_BIN:-}
if [ -z "$bin" ]; then
	cargo build --release --quiet
	bin=$target/release/scx_arbor
fi

{
	"$bin" --version
	for nv in $PUBLISHED; do "$bindir/bin/scx_${nv%=*}" --version; done
} | tee "$out/build.txt" >&2

# Per round: 5 arms x workloads x (warm-up + duration), attach and detach.
nw=$(echo "$workload" | tr ',' '\n' | grep -c .)
budget=$(awk -v r="$rounds" -v n="$nw" -v d="$duration" -v w="$warmup" \
	'BEGIN { printf "%d", 2 * r * 5 * (n * (w + d) + 4) + 240 }')
[ "${smp%%,*}" -le 2 ] || budget=$((budget * 3))
mkdir -p "$target/tmp"
set +e
# One TCG guest at a time: the VM tests take the same lock.
flock "$target/tmp/vm.lock" tests/vm/run.sh ab --bin "$bin" "${bins[@]}" \
	--timeout "$budget" --quiet --smp "$smp" --out "$out/vm" \
	--arg rounds="$rounds" --arg duration="$duration" --arg warmup="$warmup" \
	--arg workload="$workload" --arg arms=eevdf,default \
	--arg other="$other" >/dev/null
vmrc=$?
set -e
console=$out/vm/console.log
[ -f "$console" ] || { echo "vm-ab-scx: no console log (run.sh rc=$vmrc)" >&2; exit 1; }
# The serial console ends lines with \r: strip it before matching.
block() {
	tr -d '\r' <"$console" |
		awk -v b="$1" '$0 ~ "ARBOR-BEGIN "b"$" {on=1; next} $0 ~ "ARBOR-END "b" " {on=0} on'
}
block json >"$out/ab.json"
echo "scx_arbor ab in a QEMU/TCG VM, -smp $smp: eevdf, scx_arbor and" \
	"$(for nv in $PUBLISHED; do printf 'scx_%s %s, ' "${nv%=*}" "${nv#*=}"; done)(default options)," \
	"$rounds rounds, $duration s per workload after $warmup s warm-up"
block table
grep -q 'ARBOR-MARK ab rc=0' "$console" || {
	echo "vm-ab-scx: ab failed (run.sh rc=$vmrc); stderr:" >&2
	block stderr >&2
	exit 1
}
echo "raw figures: $out/ab.json   console: $console"
