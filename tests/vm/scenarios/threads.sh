# A worker thread dies (tests/vm_threads.rs reads the marks and blocks).
# scx_arbor is built with the test-only --debug-fail-thread (feature
# debug-torn); a 100 Hz waker keeps samples coming throughout.
#  learner   panics once: restarted, learns again (learn_samples grows)
#  samples   panics once (--record): restarted, the CSV grows again
#  control   panics in a status request: restarted, status answers again
#  locked    the learner panics holding the live model's lock: detached, exit 1
#  always    the sample consumer panics every time: after 3 restarts,
#            detached, exit 1
. /scenarios/_lib.sh

CSV=/tmp/rec.csv

# wait_line SECS: wait for the supervisor's line in the log; marks nothing
wait_line() {
	_end=$(($(now_ms) + $1 * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		grep -q "thread (arbor-" "$LOGS/sched.log" && return 0
		sleep 0.1
	done
	return 1
}

# sched_wait SECS [SIGNAL]: send SIGNAL if given, wait for scx_arbor to
# exit (SIGKILL after SECS); marks gone "case= rc= ms= was_alive= state=
# disabled_after_ms=" and dumps its log as block log:$case
sched_wait() {
	[ -n "${2:-}" ] && kill "-$2" "$SCHED_PID"
	_t0=$(now_ms)
	while sched_alive && [ $(($(now_ms) - _t0)) -lt $(($1 * 1000)) ]; do
		sleep 0.1
	done
	_alive=$(sched_alive && echo 1 || echo 0)
	[ "$_alive" = 1 ] && kill -KILL "$SCHED_PID"
	wait "$SCHED_PID"
	_rc=$?
	_after=$(wait_state disabled 5)
	mark gone "case=$case" "rc=$_rc" "ms=$(($(now_ms) - _t0))" "was_alive=$_alive" \
		"state=$(scx_state)" "disabled_after_ms=$_after"
	SCHED_PID=
	block "log:$case" cat "$LOGS/sched.log"
	rm -f "$LOGS/sched.log"
}

scx_arbor workload --secs 120 --wakers 1 --period-us 10000 --burst-us 500 \
	--hogs 0 >/dev/null 2>&1 &
probe=$!

# --- restarted -----------------------------------------------------------------
case=learner
sched_start --learn on --model-dir /tmp/md --debug-fail-thread learner ||
	fail "scx_arbor did not attach ($case)"
wait_line 10
mark line "case=$case" "rc=$?"
sleep 1.5
status learner_1
sleep 2.5
status learner_2
mark alive "case=$case" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_wait 15 INT

case=samples
sched_start --record "$CSV" --debug-fail-thread samples || fail "scx_arbor did not attach ($case)"
wait_line 10
mark line "case=$case" "rc=$?"
sleep 1.5
r1=$(wc -l <"$CSV")
sleep 2.5
mark rows "case=$case" "r1=$r1" "r2=$(wc -l <"$CSV")"
mark alive "case=$case" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_wait 15 INT

case=control
sched_start --debug-fail-thread control || fail "scx_arbor did not attach ($case)"
status control_dies
wait_line 10
mark line "case=$case" "rc=$?"
sleep 0.5
status control_again
mark alive "case=$case" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_wait 15 INT

# --- detached ------------------------------------------------------------------
case=locked
sched_start --learn on --model-dir /tmp/md --debug-fail-thread learner:locked ||
	fail "scx_arbor did not attach ($case)"
sched_wait 15

case=always
sched_start --record "$CSV" --debug-fail-thread samples:always ||
	fail "scx_arbor did not attach ($case)"
sched_wait 20

kill "$probe"
wait "$probe"
block dmesg dmesg
