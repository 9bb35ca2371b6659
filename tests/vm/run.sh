#!/usr/bin/env bash
# Boot the pinned kernel in QEMU (TCG, 2 vCPUs) with a fresh initramfs and run
# one guest scenario. The serial console log is the result.
#
# Usage: run.sh SCENARIO [--bin PATH] [--timeout SECS] [--arg KEY=VALUE ...]
#               [--file SRC:DEST ...] [--out DIR] [--smp SPEC] [--nodes N]
#               [--quiet]
#   SCENARIO   a name in tests/vm/scenarios/ (NAME.sh) or a path to a script
#   --bin      the scheduler binary (default: $ARBOR_BIN, else
#              $CARGO_TARGET_DIR/debug/scx_arbor), and scx_arbor_tools from
#              beside it; repeatable: extra binaries go to /usr/bin/NAME too
#   --timeout  the scenario's budget inside the guest (default 300); the VM
#              is killed from the host 90 s after that
#   --arg      arbor.KEY=VALUE on the kernel command line ($ARBOR_KEY in the
#              guest); no whitespace
#   --file     extra file for the initramfs; tests/fixtures/models/*.onnx are
#              always added under /models/
#   --out      directory for console.log, qemu.log (and initramfs.cpio, removed
#              after a good run unless ARBOR_KEEP_INITRAMFS=1)
#              (default: a new directory under ${TMPDIR:-/tmp})
#   --smp      QEMU's -smp (default 2); 8,sockets=2,cores=4 gives two LLCs
#              (CPUs 0-3 and 4-7) and 2 GiB of memory
#   --nodes    N NUMA nodes (default 1), CPU c on node c % N, memory split
#              evenly; QEMU's default distances (10 within a node, 20 across)
#   --quiet    do not copy the console to stdout at the end
# Prints "console: PATH" and timings on stderr.
# Exit: 0 scenario rc 0; 1 scenario ran and failed (rc != 0); 2 the VM could
# not run the scenario (no kernel/qemu, boot failure, timeout, no exit marker).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(repo_root)

infra() {
	echo "run.sh: error: $*" >&2
	exit 2
}
[ $# -ge 1 ] || infra "usage: run.sh SCENARIO [--bin PATH] [--timeout SECS] [--arg k=v ...] [--file SRC:DEST ...] [--out DIR]"
scenario=$1
shift
bins=() args=() files=() timeout=300 out= quiet=0 smp=2 nodes=1
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bins+=("$2"); shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--arg) args+=("$2"); shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	*) infra "unknown argument $1" ;;
	esac
done
[[ $timeout =~ ^[0-9]+$ ]] || infra "--timeout wants seconds, got $timeout"
if [ ${#bins[@]} = 0 ]; then
	bins=("${ARBOR_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/scx_arbor}")
fi
[ -x "${bins[0]}" ] || infra "scheduler binary ${bins[0]} not found: build it (cargo build) or pass --bin"
if [ "$(basename "${bins[0]}")" != scx_arbor ]; then
	infra "the first --bin must be named scx_arbor (the scenarios run scx_arbor), got ${bins[0]}"
fi
# `scx_arbor ab`, `workload` and `model verify` run its sibling binary.
tools="$(dirname "${bins[0]}")/scx_arbor_tools"
[ -x "$tools" ] || infra "$tools not found beside ${bins[0]}: build both binaries (cargo build)"
[[ " ${bins[*]} " == *" $tools "* ]] || bins+=("$tools")

extra_scenario=()
if [[ $scenario == */* ]]; then
	[ -f "$scenario" ] || infra "scenario file $scenario not found"
	extra_scenario=(--scenario "$scenario")
	scenario=$(basename "$scenario" .sh)
else
	[ -f "$here/scenarios/$scenario.sh" ] ||
		infra "no scenario $here/scenarios/$scenario.sh (have: $(cd "$here/scenarios" && ls -- [!_]*.sh | sed 's/\.sh$//' | tr '\n' ' '))"
fi
command -v qemu-system-x86_64 >/dev/null ||
	infra "qemu-system-x86_64 not found: run tests/vm/install-host-deps.sh (as root)"

cmdline="console=ttyS0 quiet loglevel=4 panic=-1 arbor.scenario=$scenario arbor.timeout=$timeout"
for a in "${args[@]}"; do
	[[ $a =~ ^[A-Za-z0-9_.-]+=[^[:space:]]*$ ]] || infra "--arg wants KEY=VALUE without whitespace, got '$a'"
	cmdline+=" arbor.$a"
done

if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/arbor-vm-$scenario.XXXXXX")
fi
mkdir -p "$out"
console="$out/console.log"
rm -f "$console"

vmlinuz=$("$here/fetch-kernel.sh") || infra "no guest kernel (see above)"
kver=$("$here/fetch-kernel.sh" --kver)

models=()
if [ -d "$root/tests/fixtures/models" ]; then
	for m in "$root"/tests/fixtures/models/*.onnx; do
		[ -f "$m" ] && models+=(--file "$m:/models/$(basename "$m")")
	done
fi
ibins=()
for b in "${bins[@]}"; do ibins+=(--bin "$b"); done
ifiles=()
for f in "${files[@]}"; do ifiles+=(--file "$f"); done

t0=$(date +%s%N)
"$here/mkinitramfs.sh" "$out/initramfs.cpio" "${ibins[@]}" "${models[@]}" "${ifiles[@]}" \
	"${extra_scenario[@]}" --config "$(dirname "$vmlinuz")/config-$kver" ||
	infra "building the initramfs failed"
t1=$(date +%s%N)

host_timeout=$((timeout + 90))
# A TCG boot very rarely stalls before /init runs (seen once in ~100 boots:
# nothing on the console after the firmware). That is the VM, not the code
# under test, which only starts after /init's first marker: such a boot is
# killed after $ARBOR_BOOT_TIMEOUT s and retried, at most $ARBOR_BOOT_TRIES
# times in all; so is a guest kernel panic before /init (below). A scenario
# that started is never retried.
boot_timeout=${ARBOR_BOOT_TIMEOUT:-120}
boot_tries=${ARBOR_BOOT_TRIES:-3}
[[ $smp =~ ^[0-9]+(,[a-z]+=[0-9]+)*$ ]] || infra "--smp wants QEMU's -smp syntax (8,sockets=2,cores=4), got $smp"
mem=1024
[ "${smp%%,*}" -le 2 ] || mem=2048
qemu=(qemu-system-x86_64 -m $mem -smp "$smp" -accel tcg,thread=multi
	-kernel "$vmlinuz" -initrd "$out/initramfs.cpio" -append "$cmdline"
	-nographic -no-reboot -serial "file:$console" -monitor none -display none -nic none)
[[ $nodes =~ ^[1-9]$ ]] || infra "--nodes wants 1 to 9, got $nodes"
if [ "$nodes" -gt 1 ]; then
	ncpus=${smp%%,*}
	for ((n = 0; n < nodes; n++)); do
		spec="node,nodeid=$n,memdev=mem$n"
		for ((c = n; c < ncpus; c += nodes)); do spec+=",cpus=$c"; done
		qemu+=(-object "memory-backend-ram,id=mem$n,size=$((mem / nodes))M" -numa "$spec")
	done
fi
printf '%q ' "${qemu[@]}" >"$out/qemu.cmd"
echo >>"$out/qemu.cmd"
try=1
while :; do
	rm -f "$console"
	tb=$(date +%s%N)
	timeout --kill-after=10 "$host_timeout" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1 &
	qpid=$!
	# Watch the console for the first guest line (boot time) and for a stall.
	boot_ns= stalled=0
	while kill -0 "$qpid" 2>/dev/null; do
		if [ -z "$boot_ns" ]; then
			if grep -q 'ARBOR-MARK init ' "$console" 2>/dev/null; then
				boot_ns=$(($(date +%s%N) - tb))
			elif [ $(($(date +%s%N) - tb)) -ge $((boot_timeout * 1000000000)) ]; then
				stalled=1
				kill "$qpid" 2>/dev/null || true
			fi
		fi
		sleep 0.1
	done
	set +e
	wait "$qpid"
	qrc=$?
	set -e
	if [ $stalled = 1 ] && [ "$try" -lt "$boot_tries" ]; then
		cp "$console" "$out/console.boot-stall-$try.log" 2>/dev/null || true
		echo "run.sh: boot $try stalled (no /init marker after ${boot_timeout}s); booting again" >&2
		try=$((try + 1))
		continue
	fi
	# The same holds for a guest kernel that panics before /init: seen once
	# with 8 vCPUs under multi-threaded TCG (an int3 oops in
	# enqueue_task_fair while the kernel patched its own code at boot).
	if [ $stalled = 0 ] && [ "$try" -lt "$boot_tries" ] &&
		grep -q 'Kernel panic' "$console" 2>/dev/null &&
		! grep -q 'ARBOR-MARK init ' "$console" 2>/dev/null; then
		cp "$console" "$out/console.boot-panic-$try.log" 2>/dev/null || true
		echo "run.sh: boot $try panicked before /init ($(grep -m1 'Kernel panic' "$console" | tr -d '\r')); booting again" >&2
		try=$((try + 1))
		continue
	fi
	# The same oops also comes after /init, when sched_ext's enable flips
	# its static keys (seen once, 8 vCPUs: "Oops: int3" in __schedule while
	# scx_arbor attached). A vCPU ran a breakpoint byte the kernel had
	# already patched away: TCG's cross-modifying code, not the code under
	# test (a BPF program cannot plant int3 in kernel text). Only that
	# oops is retried, the whole scenario again; every other panic fails.
	if [ $stalled = 0 ] && [ "$try" -lt "$boot_tries" ] &&
		grep -q 'Kernel panic' "$console" 2>/dev/null &&
		grep -q 'Oops: int3' "$console" 2>/dev/null; then
		cp "$console" "$out/console.int3-oops-$try.log" 2>/dev/null || true
		echo "run.sh: run $try hit the TCG int3 oops ($(grep -m1 'RIP:' "$console" | tr -d '\r')); running the scenario again" >&2
		try=$((try + 1))
		continue
	fi
	break
done
t2=$(date +%s%N)

fmt_s() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e9 }'; }
boot=${boot_ns:+$(fmt_s "$boot_ns")}
echo "run.sh: scenario $scenario: initramfs $(fmt_s $((t1 - t0))) s, boot-to-init ${boot:-?} s, VM total $(fmt_s $((t2 - t1))) s" >&2
echo "console: $console" >&2
[ $quiet = 1 ] || cat "$console" 2>/dev/null || true

why=
if [ $stalled = 1 ]; then
	why="the guest never reached /init in $try boots of ${boot_timeout}s each"
elif [ $qrc = 124 ] || [ $qrc = 137 ]; then
	why="the VM did not power off within ${host_timeout}s (host timeout; guest scenario budget ${timeout}s)"
elif [ ! -s "$console" ]; then
	why="empty console log: QEMU failed to boot (see $out/qemu.log: $(tail -n 3 "$out/qemu.log" 2>/dev/null | tr '\n' ' '))"
elif grep -q 'Kernel panic' "$console"; then
	why="guest kernel panic: $(grep -m1 'Kernel panic' "$console" | tr -d '\r')"
elif ! grep -q 'ARBOR-SCENARIO-EXIT rc=' "$console"; then
	why="no ARBOR-SCENARIO-EXIT marker on the console (QEMU exit $qrc)"
fi
if [ -n "$why" ]; then
	echo "run.sh: error: $why; console tail:" >&2
	tail -n 30 "$console" 2>/dev/null | tr -d '\r' | sed 's/^/  | /' >&2
	exit 2
fi
# The initramfs is large (uncompressed debug binary); keep it only to debug.
[ "${ARBOR_KEEP_INITRAMFS:-0}" = 1 ] || rm -f "$out/initramfs.cpio"
rc=$(grep -o 'ARBOR-SCENARIO-EXIT rc=[0-9]*' "$console" | tail -n1 | cut -d= -f2)
echo "run.sh: scenario $scenario exited rc=$rc" >&2
[ "$rc" = 0 ] || exit 1
