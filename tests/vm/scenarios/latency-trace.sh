# Where a wakeup's latency goes: the latency mix (`scx_arbor ab --workload
# latency`, arms EEVDF and scx_arbor, one round each) with the kernel's
# tracepoints sched_waking, sched_wakeup, sched_switch, sched_migrate_task,
# hrtimer_start and hrtimer_expire_entry on. The trace goes out as block
# trace (gzip, base64); benches/latency-trace.py splits each waker's
# latency into the timer's expiry delay and waking-to-running, per arm.
# Args: arbor.wakers (4), arbor.periods (1009,2017,2503,10007),
#       arbor.hogs (1), arbor.duration (2), arbor.warmup (1),
#       arbor.buffer_kb (16384, per CPU).
. /scenarios/_lib.sh

T=/sys/kernel/tracing
[ -d $T/events/sched ] || fail "no tracefs at $T"
echo "${ARBOR_BUFFER_KB:-16384}" >$T/buffer_size_kb
for e in sched/sched_waking sched/sched_wakeup sched/sched_switch \
	sched/sched_migrate_task timer/hrtimer_start timer/hrtimer_expire_entry; do
	echo 1 >"$T/events/$e/enable" || fail "cannot enable $e"
done
echo >$T/trace
mark config "wakers=${ARBOR_WAKERS:-4}" "periods=${ARBOR_PERIODS:-1009,2017,2503,10007}" \
	"hogs=${ARBOR_HOGS:-1}" "arms=eevdf,arbor"
echo 1 >$T/tracing_on
scx_arbor ab --workload latency --wakers "${ARBOR_WAKERS:-4}" \
	--period-us "${ARBOR_PERIODS:-1009,2017,2503,10007}" --hogs "${ARBOR_HOGS:-1}" \
	--rounds 1 --duration "${ARBOR_DURATION:-2}" --warmup "${ARBOR_WARMUP:-1}" \
	--arms eevdf,default --order alternate --attach-timeout 60 \
	--json /tmp/ab.json >/tmp/ab.out 2>/tmp/ab.err
rc=$?
echo 0 >$T/tracing_on
mark ab "rc=$rc" "state=$(scx_state)" "kept_written=$(awk '/entries-in-buffer/ { print $3; exit }' $T/trace)"
block table cat /tmp/ab.out
block stderr tail -n 5 /tmp/ab.err
gzip -1 -c $T/trace >/tmp/trace.gz
mark trace "bytes=$(wc -c </tmp/trace.gz)"
block trace base64 /tmp/trace.gz
[ $rc = 0 ] || exit 1
