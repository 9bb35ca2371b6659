# The guard against a harmful action table, in one boot; the ground truth
# is the latency workload's own wakeup latency (blocks of its JSON). Each of
# arbor.rounds rounds (default 2) runs three arms in this order, a new
# scx_arbor for each (blocks and marks carry the round, e.g. nomodel_1):
#  nomodel  scx_arbor --no-model, the workload for arbor.secs (default 8)
#  bad      --heuristic with a harmful table (the wakers' classes get a
#           100 ms request, the hogs' 100 µs and 20 ms slices), no guard:
#           the same
#  guarded  the harmful table with --guard on: the workload in the
#           background, `status` every second until the guard suspends the
#           model (mark suspended_R ms=, at most arbor.detect_secs, default
#           40), then the workload again for arbor.secs (block guarded_R)
#           and the status after it (block guard_status_R)
# Rounds, so that a stretch where the host emulates slowly (every latency
# under TCG grows with it) lands on one round of each arm, not on one arm.
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-8}
rounds=${ARBOR_ROUNDS:-2}
detect=${ARBOR_DETECT_SECS:-40}
workload="--wakers 4 --period-us 2003,3001,4999,7001 --burst-us 300 --hogs 2"
harmful="--heuristic --action tiny=1500:100000 --action short=1500:100000 \
--action medium=20000:100 --action long=20000:100"

# run_workload NAME: the latency mix for secs, its JSON as block NAME
run_workload() {
	# shellcheck disable=SC2086 # words
	scx_arbor workload latency --secs "$secs" $workload >/tmp/wl.json 2>/tmp/wl.err
	_rc=$?
	mark "run_$1" "rc=$_rc" "state=$(scx_state)"
	block "$1" cat /tmp/wl.json
	[ "$_rc" = 0 ] || block "$1.err" cat /tmp/wl.err
}

# suspensions: the guard_suspensions of the running instance's status
suspensions() {
	scx_arbor status --json 2>/dev/null | tr ',{}' '\n\n\n' |
		awk -F: '$1 ~ /"guard_suspensions"/ { print $2 + 0 }'
}

r=1
while [ $r -le "$rounds" ]; do
	sched_start --no-model || fail "scx_arbor --no-model did not attach"
	run_workload "nomodel_$r"
	sched_stop

	# shellcheck disable=SC2086
	sched_start $harmful || fail "scx_arbor with the harmful table did not attach"
	run_workload "bad_$r"
	sched_stop

	# shellcheck disable=SC2086
	sched_start $harmful --guard on ||
		fail "scx_arbor --guard on did not attach"
	# shellcheck disable=SC2086
	scx_arbor workload latency --secs $((detect + 5)) $workload >/dev/null 2>&1 &
	bg=$!
	t0=$(now_ms)
	n=0
	while [ $(($(now_ms) - t0)) -lt $((detect * 1000)) ]; do
		sleep 1
		n=$(suspensions)
		[ "${n:-0}" -ge 1 ] && break
	done
	mark "suspended_$r" "n=${n:-0}" "ms=$(($(now_ms) - t0))"
	# TERM: a background job of a non-interactive shell ignores SIGINT,
	# and the workload has no handler of its own to undo that.
	kill $bg 2>/dev/null
	wait $bg
	run_workload "guarded_$r"
	status "guard_status_$r"
	sched_stop
	r=$((r + 1))
done
exit 0
