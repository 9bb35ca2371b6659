# Overload from many sleepers: stress-ng's sleep stressor (4 workers, each
# with a crowd of threads that sleep from 1 µs up and wake again) beside a
# CPU hog, arbor.secs (default 10) seconds under scx_arbor with the default
# model and with --no-model. The sched_ext watchdog ejects a scheduler that
# leaves a runnable task waiting 5 s; before the wait bound served the
# longest waiting task first, this ejected scx_arbor within seconds, every
# time (a kworker, khugepaged or a sleeper "failed to run for 5.8 s").
# Marks storm_NAME rc= state=, then the scheduler's log.
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-10}
storm() {
	_name=$1
	shift
	sched_start "$@" || fail "scx_arbor did not attach"
	stress-ng --sleep 4 --cpu 1 --timeout "${secs}s" >"$LOGS/storm.log" 2>&1
	_rc=$?
	mark "storm_$_name" "rc=$_rc" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
	status "status_$_name"
	sched_stop INT
	dump_log storm.log
}
storm default
storm nomodel --no-model
block dmesg_scx sh -c 'dmesg | grep -i -E "sched_ext|stall" || true'
