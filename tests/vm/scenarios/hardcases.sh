# The kernel selftests' hard cases, with scx_arbor attached throughout
# (tests/vm_hardcases.rs reads the marks). arbor.phase picks one:
#  cycles  arbor.cycles (default 3) attach/detach cycles of scx_arbor
#          --no-model beside a CPU hog (stress-ng --cpu 1); the BPF
#          maps and programs the kernel holds (bpftool) before the first
#          attach and after the last detach, and the scheduler's open fds
#          in each cycle (marks cycle n= fds= maps=, cycles ...), and the
#          kernel's memory (/proc/meminfo) before the first attach and
#          after each detach (marks mem n=)
#  storm   scx_arbor with the default model while, at once: a fork storm of
#          arbor.forks (default 10000; a stress-ng fork takes ~45 ms under
#          TCG, so tests ask for fewer; arbor.fork_secs, default 40, bounds
#          it) children that exit at once
#          (stress-ng --fork, its own count of forks), CPU hogs moved
#          through arbor.cgroups (default 100) cgroups created and removed
#          one after another (cgroup v2, cpu controller on), and a hackbench
#          loop; then sched_ext's event counters (exiting tasks that
#          skipped ops.enqueue) and the kernel's sched_ext messages
. /scenarios/_lib.sh

# counts: "maps progs" the kernel holds now (bpftool, every program and map)
counts() {
	echo "$(bpftool map list 2>/dev/null | grep -c '^[0-9][0-9]*:')" \
		"$(bpftool prog list 2>/dev/null | grep -c '^[0-9][0-9]*:')"
}

# meminfo: the kernel's memory figures a leak would move, kB, as key=value
meminfo() {
	awk '/^(MemAvailable|Slab|SUnreclaim|Percpu|VmallocUsed):/ {
		sub(":", "", $1); printf "%s=%s ", $1, $2 }' /proc/meminfo
}

# settled_counts: counts once they stop falling (maps and programs are
# freed after an RCU grace period and a workqueue run), at most 5 s.
# (its own variable names: the cycle loop's counter is _i)
settled_counts() {
	_prev=$(counts)
	_tries=0
	while [ $_tries -lt 10 ]; do
		sleep 0.5
		_c=$(counts)
		[ "$_c" = "$_prev" ] && break
		_prev=$_c
		_tries=$((_tries + 1))
	done
	echo "$_prev"
}

cycles() {
	_n=${ARBOR_CYCLES:-3}
	command -v bpftool >/dev/null || fail "no bpftool in the guest (tests/vm_hardcases.rs passes it)"
	set -- $(settled_counts)
	_maps0=$1 _progs0=$2
	mark mem "n=0" $(meminfo)
	# One CPU hog: with stress-ng --cpu 2 and hackbench beside it, the debug
	# build takes over 20 s to attach under TCG.
	stress-ng --cpu 1 --timeout 300s >"$LOGS/stress.log" 2>&1 &
	_hog=$!
	ARBOR_ATTACH_TIMEOUT=40
	# (not _ok: sched_start sets that one)
	_i=0 _clean=0 _fds=
	while [ $_i -lt "$_n" ]; do
		_i=$((_i + 1))
		if ! sched_start --no-model; then
			# Still attaching, maybe: stop it before counting anything.
			kill -INT $(pidof scx_arbor) 2>/dev/null
			wait_state disabled 15 >/dev/null
			break
		fi
		set -- $(counts)
		_f=$(ls /proc/$SCHED_PID/fd 2>/dev/null | wc -l)
		_fds="$_fds${_fds:+,}$_f"
		mark cycle "n=$_i" "fds=$_f" "maps=$1" "progs=$2" "state=$(scx_state)"
		sched_stop INT
		[ "$(scx_state)" = disabled ] && _clean=$((_clean + 1))
		settled_counts >/dev/null
		mark mem "n=$_i" $(meminfo)
	done
	kill -INT $_hog 2>/dev/null
	wait $_hog
	mark hog "rc=$?"
	set -- $(settled_counts)
	mark cycles "asked=$_n" "clean=$_clean" "fds=$_fds" "maps_before=$_maps0" "maps_after=$1" \
		"progs_before=$_progs0" "progs_after=$2" "state=$(scx_state)"
	block dmesg_scx sh -c 'dmesg | grep -i -E "sched_ext|stall|scx_" || true'
}

# churn N HOG_PIDS...: move the hogs through N cgroups, one created before
# and removed after each move; marks churn created= moved= removed=.
churn() {
	_n=$1
	shift
	_cg=/sys/fs/cgroup
	_made=0 _moved=0 _removed=0 _i=0
	while [ $_i -lt "$_n" ]; do
		_i=$((_i + 1))
		mkdir "$_cg/arbor$_i" 2>/dev/null && _made=$((_made + 1))
		for _p in "$@"; do
			echo "$_p" >"$_cg/arbor$_i/cgroup.procs" 2>/dev/null && _moved=$((_moved + 1))
		done
		for _p in "$@"; do
			echo "$_p" >"$_cg/cgroup.procs" 2>/dev/null
		done
		rmdir "$_cg/arbor$_i" 2>/dev/null && _removed=$((_removed + 1))
	done
	echo "asked=$_n hogs=$# created=$_made moved=$_moved removed=$_removed" >/tmp/churn.result
}

# pids_of NAME: the pids whose comm starts with NAME (stress-ng's workers
# are stress-ng-cpu; the guest has no pgrep)
pids_of() {
	for _d in /proc/[0-9]*; do
		read -r _c <"$_d/comm" 2>/dev/null || continue
		case $_c in "$1"*) echo "${_d#/proc/}" ;; esac
	done
}

storm() {
	_forks=${ARBOR_FORKS:-10000}
	_cgroups=${ARBOR_CGROUPS:-100}
	mkdir -p /sys/fs/cgroup
	grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts ||
		mount -t cgroup2 none /sys/fs/cgroup || fail "cannot mount cgroup2"
	echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	mark cgroup "controllers=$(tr ' ' ',' </sys/fs/cgroup/cgroup.subtree_control)"
	sched_start || fail "scx_arbor did not attach"
	load_start
	# stress-ng's processes, once they exist (load_start only forked them)
	_hogs=
	_w=0
	while [ $_w -lt 40 ]; do
		_hogs=$(pids_of stress-ng)
		[ "$(echo "$_hogs" | wc -w)" -ge 3 ] && break
		sleep 0.1
		_w=$((_w + 1))
	done
	churn "$_cgroups" $_hogs &
	_churn=$!
	_t0=$(now_ms)
	stress-ng --fork 2 --fork-ops "$_forks" --timeout "${ARBOR_FORK_SECS:-40}s" \
		--metrics-brief >"$LOGS/fork.log" 2>&1
	_rc=$?
	_ms=$(($(now_ms) - _t0))
	# stress-ng --metrics-brief: "stress-ng: metrc: [PID] fork OPS ...", one op a fork
	_done=$(awk '$4 == "fork" && $5 ~ /^[0-9]+$/ { print $5 }' "$LOGS/fork.log" | tail -n1)
	mark forks "asked=$_forks" "done=${_done:-0}" "rc=$_rc" "ms=$_ms" "state=$(scx_state)" \
		"alive=$(sched_alive && echo 1 || echo 0)"
	wait "$_churn"
	mark churn $(cat /tmp/churn.result 2>/dev/null || echo created=0) "state=$(scx_state)"
	load_stop
	mark after_storm "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
	block events cat /sys/kernel/sched_ext/root/events
	status status
	sched_stop INT
	dump_log fork.log
	block dmesg_scx sh -c 'dmesg | grep -i -E "sched_ext|stall|scx_" || true'
}

case ${ARBOR_PHASE:-} in
cycles) cycles ;;
storm) storm ;;
*) fail "arbor.phase must be cycles or storm, not '${ARBOR_PHASE:-}'" ;;
esac
