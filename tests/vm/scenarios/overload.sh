# Ring-buffer overload (tests/vm_overload.rs reads the marks and blocks):
# scx_arbor --record with the smallest sample ring (arbor.ring_kib, default
# 4) and --sample-every 1, under fork/exit storms of known size, while a
# 100 Hz waker (the probe) keeps running.
#  stopped  scx_arbor is SIGSTOPped, so userspace drains nothing, while one
#           shell forks arbor.forks children that exit at once; then SIGCONT
#  free     the same storm from two shells while scx_arbor runs
#  quiet    the storms are over: a second probe alone; after the stop, its
#           samples in the CSV against its own count of wakeups
# Counters come from `scx_arbor status --json` before and after each phase.
. /scenarios/_lib.sh

kib=${ARBOR_RING_KIB:-4}
forks=${ARBOR_FORKS:-200}
CSV=/tmp/rec.csv

# storm N: fork N subshells that exit at once (stop after 20 s whatever
# the count); prints the number forked. Under TCG a fork and exit takes
# 20-30 ms, so 200 take about 6 s.
storm() {
	_end=$(($(now_ms) + 20000))
	_i=0
	while [ $_i -lt "$1" ] && [ "$(now_ms)" -lt "$_end" ]; do
		(:)
		_i=$((_i + 1))
	done
	echo $_i
}

# rows: CSV rows flushed so far
rows() { echo $(($(wc -l <"$CSV") - 1)); }

# waker_tids PID: the ids of PID's threads named ab-waker, comma-separated
waker_tids() {
	for t in /proc/$1/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = ab-waker ] && printf '%s,' "${t##*/}"
	done
}

probe() {
	scx_arbor workload --secs "$1" --wakers 1 --period-us 10000 --burst-us 500 \
		--hogs 0 >"/tmp/$2.json" 2>"$LOGS/$2.err"
}

sched_start --no-model --record "$CSV" --sample-every 1 --sample-ring-kib "$kib" ||
	fail "scx_arbor did not attach"
block ring_log grep "samples ring" "$LOGS/sched.log"
probe "${ARBOR_PROBE_SECS:-12}" probe_storm &
ppid=$!
sleep 1

# --- stopped -----------------------------------------------------------------
status s0
kill -STOP "$SCHED_PID"
t0=$(now_ms)
n=$(storm "$forks")
t1=$(now_ms)
mark stopped "forks=$n" "ms=$((t1 - t0))" "state=$(scx_state)" \
	"sched=$(awk '{ print $3 }' "/proc/$SCHED_PID/stat")"
kill -CONT "$SCHED_PID"
sleep 1.5
status s1
mark after_stopped "rows=$(rows)" "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"

# --- free --------------------------------------------------------------------
status s2
r2=$(rows)
t0=$(now_ms)
storm $((forks / 2)) >/tmp/storm.a &
a=$!
storm $((forks / 2)) >/tmp/storm.b &
b=$!
wait $a
wait $b
t1=$(now_ms)
status s3
# The consumer flushes the CSV once a second
sleep 2
mark free "forks=$(($(cat /tmp/storm.a) + $(cat /tmp/storm.b)))" "ms=$((t1 - t0))" \
	"rows_before=$r2" "rows_after=$(rows)" "state=$(scx_state)" \
	"alive=$(sched_alive && echo 1 || echo 0)"
wait $ppid
block probe_storm cat /tmp/probe_storm.json

# --- quiet -------------------------------------------------------------------
scx_arbor workload --secs 3 --wakers 1 --period-us 10000 --burst-us 500 \
	--hogs 0 >/tmp/probe_quiet.json 2>"$LOGS/probe_quiet.err" &
qpid=$!
sleep 1
qt=$(waker_tids $qpid)
mark quiet "tids=$qt"
wait $qpid
block probe_quiet cat /tmp/probe_quiet.json
status s4
mark end "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
# Samples of the quiet probe's waker in the finished record
block quiet_rows awk -F, -v tids=",$qt" 'NR > 1 && index(tids, "," $2 ",") { n++ } END { print n + 0 }' "$CSV"
block dmesg dmesg
