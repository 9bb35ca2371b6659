# Helpers sourced by the guest scenarios (busybox sh). Not a scenario itself.
#
# Output protocol (parsed by tests/common/vm.rs):
#   ARBOR-MARK [tag] key=value ...   values never contain whitespace
#   ARBOR-BEGIN name / ARBOR-END name lines=N bytes=M   verbatim block
#   ARBOR-ERROR message              the scenario could not do its job
# Kernel command line words arbor.KEY=VALUE arrive as $ARBOR_KEY.

SCX_STATE=/sys/kernel/sched_ext/state
SCX_OPS=/sys/kernel/sched_ext/root/ops
LOGS=/tmp/logs
SCHED_PID=
mkdir -p "$LOGS"

mark() { echo "ARBOR-MARK $*"; }

# fail MESSAGE: report and end the scenario with rc 2.
fail() {
	echo "ARBOR-ERROR $*"
	exit 2
}

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

scx_state() { cat "$SCX_STATE" 2>/dev/null || echo missing; }
scx_ops() {
	o=$(cat "$SCX_OPS" 2>/dev/null)
	echo "${o:-none}"
}

# wait_state WANT SECS: poll the sched_ext state every 50 ms; prints the ms
# waited; returns 1 if WANT was not reached in time.
wait_state() {
	_t0=$(now_ms)
	_deadline=$((_t0 + $2 * 1000))
	while :; do
		_now=$(now_ms)
		if [ "$(scx_state)" = "$1" ]; then
			echo $((_now - _t0))
			return 0
		fi
		if [ "$_now" -ge "$_deadline" ]; then
			echo $((_now - _t0))
			return 1
		fi
		sleep 0.05
	done
}

need_file() { [ -f "$1" ] || fail "missing file $1 (fixture not generated yet?)"; }

# block NAME CMD...: run CMD, its output between ARBOR-BEGIN/END NAME lines
# with line and byte counts so the reader can detect interleaved kernel text.
block() {
	_name=$1
	shift
	"$@" >"/tmp/block.$$" 2>&1
	_rc=$?
	echo "ARBOR-BEGIN $_name"
	cat "/tmp/block.$$"
	# A missing final newline would glue the END marker to the data.
	[ -n "$(tail -c1 "/tmp/block.$$")" ] && echo
	echo "ARBOR-END $_name rc=$_rc lines=$(wc -l <"/tmp/block.$$") bytes=$(wc -c <"/tmp/block.$$")"
	rm -f "/tmp/block.$$"
	return $_rc
}

# dump_log NAME: show $LOGS/NAME as block log:NAME and forget it.
dump_log() {
	[ -f "$LOGS/$1" ] || return 0
	block "log:$1" cat "$LOGS/$1"
	rm -f "$LOGS/$1"
}

# sched_start ARGS...: start scx_arbor ARGS in the background (output in
# $LOGS/sched.log) and wait for sched_ext to be enabled. Marks
# "attach ms= state= ops= alive= rc=" (rc: exit code if it already died).
# Returns 1 if it died or did not attach within ${ARBOR_ATTACH_TIMEOUT:-20}s.
sched_start() {
	echo "ARBOR-INFO starting: scx_arbor $*"
	scx_arbor "$@" >"$LOGS/sched.log" 2>&1 &
	SCHED_PID=$!
	_t0=$(now_ms)
	_deadline=$((_t0 + ${ARBOR_ATTACH_TIMEOUT:-20} * 1000))
	_rc=none
	_ok=1
	while :; do
		if [ "$(scx_state)" = enabled ]; then
			_ok=0
			break
		fi
		if ! sched_alive; then
			wait "$SCHED_PID"
			_rc=$?
			break
		fi
		[ "$(now_ms)" -ge "$_deadline" ] && break
		sleep 0.05
	done
	mark attach "ms=$(($(now_ms) - _t0))" "state=$(scx_state)" "ops=$(scx_ops)" \
		"alive=$(sched_alive && echo 1 || echo 0)" "rc=$_rc"
	if [ $_ok != 0 ]; then
		echo "ARBOR-ERROR scx_arbor did not attach (exit rc=$_rc); its output:"
		dump_log sched.log
		SCHED_PID=
	fi
	return $_ok
}

sched_alive() { [ -n "$SCHED_PID" ] && kill -0 "$SCHED_PID" 2>/dev/null; }

# sched_stop [SIGNAL] [SECS]: signal the scheduler (default INT), wait up to
# SECS (default 15) for it to exit; marks sched_exit rc, ms and the state after.
sched_stop() {
	_sig=${1:-INT}
	_secs=${2:-15}
	[ -n "$SCHED_PID" ] || fail "sched_stop without sched_start"
	_t0=$(now_ms)
	kill "-$_sig" "$SCHED_PID" 2>/dev/null
	_killed=0
	while sched_alive; do
		if [ $(($(now_ms) - _t0)) -ge $((_secs * 1000)) ]; then
			kill -KILL "$SCHED_PID" 2>/dev/null
			_killed=1
			break
		fi
		sleep 0.05
	done
	wait "$SCHED_PID"
	_rc=$?
	_ms=$(($(now_ms) - _t0))
	_after=$(wait_state disabled 5)
	mark sched_exit "signal=$_sig" "rc=$_rc" "ms=$_ms" "sigkilled=$_killed" "state=$(scx_state)" "disabled_after_ms=$_after"
	SCHED_PID=
	dump_log sched.log
}

# status NAME: `scx_arbor status --json` as block NAME.
status() { block "$1" scx_arbor status --json; }

# load_start [SECS]: CPU hogs (stress-ng --cpu 2) and a hackbench loop in the
# background, for SECS seconds or, without SECS, until load_stop. Nothing
# here prints to the console while running (it could split a block).
# load_wait waits for them and marks their exit codes (load rcs=...).
LOAD_PIDS=
load_start() {
	_secs=${1:-86400}
	rm -f /tmp/load.stop
	stress-ng --cpu 2 --timeout "${_secs}s" >"$LOGS/stress.log" 2>&1 &
	LOAD_PIDS="$!"
	(
		_end=$(($(now_ms) + _secs * 1000))
		_n=0 _bad=0
		while [ "$(now_ms)" -lt "$_end" ] && [ ! -e /tmp/load.stop ]; do
			hackbench -g 2 -f 5 -l 50 >>"$LOGS/hackbench.log" 2>&1 || _bad=$((_bad + 1))
			_n=$((_n + 1))
		done
		# Not printed from here: a background line could land inside a block.
		echo "runs=$_n failed=$_bad" >/tmp/hackbench.result
		[ "$_bad" = 0 ]
	) &
	LOAD_PIDS="$LOAD_PIDS $!"
}
load_stop() {
	touch /tmp/load.stop
	set -- $LOAD_PIDS
	kill -INT "$1" 2>/dev/null
	load_wait
}
load_wait() {
	_rcs=
	for _p in $LOAD_PIDS; do
		wait "$_p"
		_rcs="$_rcs${_rcs:+,}$?"
	done
	mark load "rcs=$_rcs"
	[ -f /tmp/hackbench.result ] && mark hackbench $(cat /tmp/hackbench.result)
	rm -f /tmp/hackbench.result
	LOAD_PIDS=
	rm -f "$LOGS/hackbench.log"
	dump_log stress.log
}
