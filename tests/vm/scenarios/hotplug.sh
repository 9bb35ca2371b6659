# CPU hotplug while scx_arbor schedules. arbor.phases (comma-separated,
# default "known,unknown,race") picks what runs:
#   known    the sequence that once had the watchdog eject scx_arbor: one
#            CPU hog, --learn on, a swapped-in model, then CPU 1 offline,
#            3 s, online again; then five more cycles under stress-ng and
#            hackbench. CPU 1 is in the topology read at load: no restart.
#   unknown  scx_arbor started while CPU 1 is offline; CPU 1 then comes
#            online: a CPU it never saw, so it restarts and reads the
#            topology again, keeping the live model and its generation,
#            and its --record file (mark record_unknown: header lines,
#            rows, the first and last rows' ts_ns, the restart's uptime in ms).
#   race     CPU 1 toggled every 100-200 ms while scx_arbor starts and runs
#            (the kernel selftest's attach-during-hotplug case).
#   cycle    (8 vCPUs, 2 LLCs) every CPU but 0 offline one by one and back,
#            twice, under stress-ng and hackbench; then all of CPUs 4-7 (a
#            whole LLC) offline and back. All known CPUs: no restart.
# Each phase marks phase_NAME with the sched_ext state, whether scx_arbor
# is alive, the CPUs online and the live generation before and after;
# status blocks and the scheduler's log follow.
. /scenarios/_lib.sh

need_file /models/sklearn_dt_multi.onnx
need_file /models/lightgbm_multi.onnx
dir=/tmp/models
mkdir -p "$dir"

cpu_set() { echo "$2" >"/sys/devices/system/cpu/cpu$1/online"; }
online_list() { cat /sys/devices/system/cpu/online; }

# live_gen: the generation the running instance reports ("none" if it
# cannot be asked).
live_gen() {
	scx_arbor status --json 2>/dev/null |
		sed -n 's/.*"installed_generation":\([0-9][0-9]*\).*/\1/p' | head -n 1 | grep . || echo none
}

# swap_gen FILE: install FILE, print the new generation.
swap_gen() {
	scx_arbor swap "$1" 2>&1 | sed -n 's/^generation \([0-9][0-9]*\).*/\1/p' | tail -n 1
}

# stalls: the watchdog's stall reports in the kernel log so far.
stalls() { dmesg | grep -c -i 'stall' || true; }

settle() { sleep "$1"; }

# stop_phase NAME: stop scx_arbor; its log as block log:NAME.
stop_phase() {
	cp "$LOGS/sched.log" "$LOGS/$1.log" 2>/dev/null
	sched_stop INT
	dump_log "$1.log"
}

# restarts: how many times scx_arbor restarted itself so far.
restarts() {
	_n=$(grep -c 'asked scx_arbor to restart' "$LOGS/sched.log" 2>/dev/null)
	echo "${_n:-0}"
}

phase_end() {
	_name=$1
	shift
	mark "phase_$_name" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)" \
		"online=$(online_list)" "gen=$(live_gen)" "restarts=$(restarts)" \
		"stalls=$(stalls)" "$@"
	status "status_$_name"
}

phase_known() {
	stress-ng --cpu 1 --timeout 60s >"$LOGS/hog.log" 2>&1 &
	_hog=$!
	sched_start --learn on --model-dir "$dir" || fail "scx_arbor did not attach"
	sleep 1
	_g=$(swap_gen /models/sklearn_dt_multi.onnx)
	mark known_swap "gen=${_g:-none}"
	cpu_set 1 0
	sleep 3
	_mid=$(scx_state)
	cpu_set 1 1
	settle 4
	phase_end known_once "swapped=${_g:-none}" "state_while_offline=$_mid"
	load_start
	_i=1
	while [ $_i -le 5 ]; do
		cpu_set 1 0
		sleep 0.5
		cpu_set 1 1
		sleep 0.5
		_i=$((_i + 1))
	done
	settle 3
	load_stop
	phase_end known_cycles "swapped=${_g:-none}"
	kill "$_hog" 2>/dev/null
	wait "$_hog" 2>/dev/null
	rm -f "$LOGS/hog.log"
	stop_phase known
}

phase_unknown() {
	cpu_set 1 0
	sched_start --model-dir "$dir" --record /tmp/unknown.csv ||
		fail "scx_arbor did not attach with CPU 1 offline"
	_g=$(swap_gen /models/lightgbm_multi.onnx)
	load_start
	sleep 1
	# The restart comes after this: samples recorded before it must stay
	# in the --record file (ts_ns is CLOCK_MONOTONIC, /proc/uptime here).
	_restart_ms=$(now_ms)
	cpu_set 1 1
	# The restart: disabled for a moment, then enabled again.
	_t0=$(now_ms)
	while [ "$(restarts)" = 0 ] && [ $(($(now_ms) - _t0)) -lt 10000 ]; do sleep 0.1; done
	_back=$(wait_state enabled 30)
	settle 3
	load_stop
	phase_end unknown "swapped=${_g:-none}" "enabled_after_ms=$_back"
	stop_phase unknown
	mark record_unknown "headers=$(grep -c '^ts_ns,' /tmp/unknown.csv)" \
		"rows=$(grep -vc '^ts_ns,' /tmp/unknown.csv)" "restart_ms=$_restart_ms" \
		"first_ns=$(sed -n 2p /tmp/unknown.csv | cut -d, -f1)" \
		"last_ns=$(tail -n 1 /tmp/unknown.csv | cut -d, -f1)"
}

phase_race() {
	# Eight toggles 0.4 s apart while scx_arbor loads: each one that lands
	# between its open and its attach makes the kernel refuse the attach
	# (the hotplug sequence number moved) and scx_arbor starts over.
	(
		_i=0
		while [ $_i -lt 4 ]; do
			cpu_set 1 0
			sleep 0.4
			cpu_set 1 1
			sleep 0.4
			_i=$((_i + 1))
		done
	) &
	_tog=$!
	load_start
	ARBOR_ATTACH_TIMEOUT=120 sched_start --model-dir "$dir" || {
		wait "$_tog"
		load_stop
		fail "scx_arbor did not attach after CPU 1 was toggled during its start"
	}
	wait "$_tog"
	settle 4
	load_stop
	phase_end race
	stop_phase race
}

phase_cycle() {
	ARBOR_ATTACH_TIMEOUT=90 sched_start --model-dir "$dir" || fail "scx_arbor did not attach"
	_g=$(swap_gen /models/sklearn_dt_multi.onnx)
	load_start
	_n=$(nproc)
	for _round in 1 2; do
		_c=1
		while [ $_c -lt "$_n" ]; do
			cpu_set $_c 0
			sleep 0.3
			_c=$((_c + 1))
		done
		_c=1
		while [ $_c -lt "$_n" ]; do
			cpu_set $_c 1
			sleep 0.3
			_c=$((_c + 1))
		done
	done
	settle 2
	phase_end cycle_cpus "swapped=${_g:-none}"
	# A whole LLC out and back: its queue moves to LLC 0-3's meanwhile.
	for _c in 4 5 6 7; do cpu_set $_c 0; sleep 0.3; done
	settle 3
	phase_end cycle_llc_out "swapped=${_g:-none}"
	for _c in 4 5 6 7; do cpu_set $_c 1; sleep 0.3; done
	settle 4
	load_stop
	phase_end cycle_llc_back "swapped=${_g:-none}"
	stop_phase cycle
}

for p in $(echo "${ARBOR_PHASES:-known,unknown,race}" | tr ',' ' '); do
	case $p in
	known | unknown | race | cycle) "phase_$p" ;;
	*) fail "unknown phase $p" ;;
	esac
done
block dmesg_scx sh -c 'dmesg | grep -i -E "sched_ext|stall" || true'
