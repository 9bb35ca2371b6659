# Where a worker's wakeup waits in the requests family (a measurement, not
# a CI test; benches/requests-trace.py reads it). scx_arbor starts with
# arbor.sched_args (words joined by +; default --no-model), then
# `scx_arbor workload requests --secs 3` runs with arbor.extra (its
# options, words joined by +) while the kernel's tracepoints sched_waking,
# sched_wakeup, sched_switch and sched_migrate_task record (16 MB per CPU).
# Blocks: w (the workload's JSON), status_end (scx_arbor's status before
# it stops), trace (gzip, base64). A scheduler built with bpf_printk lines
# leaves them in the same trace.
. /scenarios/_lib.sh

T=/sys/kernel/tracing
[ -d $T/events/sched ] || fail "no tracefs at $T"
echo 16384 >$T/buffer_size_kb
for e in sched/sched_waking sched/sched_wakeup sched/sched_switch sched/sched_migrate_task; do
	echo 1 >"$T/events/$e/enable" || fail "cannot enable $e"
done
# shellcheck disable=SC2046 # the words of arbor.sched_args
sched_start $(echo "${ARBOR_SCHED_ARGS:---no-model}" | tr + ' ') || fail "scx_arbor did not attach"
echo >$T/trace
echo 1 >$T/tracing_on
# shellcheck disable=SC2046 # the words of arbor.extra
scx_arbor workload requests --secs 3 $(echo "${ARBOR_EXTRA:-}" | tr + ' ') >/tmp/w.json 2>&1
rc=$?
echo 0 >$T/tracing_on
block w cat /tmp/w.json
status status_end
sched_stop INT
mark workload "rc=$rc" "state=$(scx_state)"
gzip -1 -c $T/trace >/tmp/trace.gz
mark trace "bytes=$(wc -c </tmp/trace.gz)"
block trace base64 /tmp/trace.gz
[ $rc = 0 ] || exit 1
