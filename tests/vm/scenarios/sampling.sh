# What reaches the sample ring, against what the tasks are known to do.
# Phase "all": --record with no budget while a periodic waker (known burst
# arbor.burst_us every arbor.period_us) runs alone; prints the samples per
# thread (tid, count, mean burst, comm, tgid) and scx_arbor's own thread ids.
# Phase "budget": the same waker beside a hackbench pipe storm (a flood of
# tiny bursts) under --sample-budget arbor.budget; prints the samples per
# second and per class, and the status counters.
# Args: arbor.budget (omit the flag when empty), arbor.secs (default 4).
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-4}
period=${ARBOR_PERIOD_US:-10000}
burst=${ARBOR_BURST_US:-2000}

# waker_tids PID: the ids of PID's threads named ab-waker, comma-separated
waker_tids() {
	for t in /proc/$1/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = ab-waker ] && printf '%s,' "${t##*/}"
	done
}

# per_tid CSV: "tid count mean_burst_us comm tgid", most samples first
per_tid() {
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "burst_us") bc = i; next }
		{ n[$2]++; b[$2] += $bc }
		END { for (t in n) printf "%d %d %d\n", t, n[t], b[t] / n[t] }' "$1" |
		sort -k2,2nr | head -8 | while read -r tid n mean; do
			comm=$(cat "/proc/$tid/comm" 2>/dev/null || echo gone)
			tgid=$(awk '/^Tgid:/ { print $2 }' "/proc/$tid/status" 2>/dev/null)
			echo "$tid $n $mean $comm ${tgid:-gone}"
		done
}



# Phase all: every sample, the waker alone
sched_start --no-model --record /tmp/all.csv || fail "scx_arbor did not attach"
scx_arbor workload --secs "$secs" --wakers 1 --period-us "$period" \
	--burst-us "$burst" --hogs 0 >/tmp/w1.json 2>"$LOGS/w1.err" &
wpid=$!
sleep 1
mark self "pid=$SCHED_PID" "tids=$(ls /proc/$SCHED_PID/task | tr '\n' ',')"
# The waker's thread ids, while it runs
mark waker "pid=$wpid" "tids=$(waker_tids $wpid)"
block per_tid_all per_tid /tmp/all.csv
wait $wpid || fail "workload failed: $(cat "$LOGS/w1.err")"
sched_stop INT
block per_tid_all_end per_tid /tmp/all.csv
mark all "rows=$(($(wc -l </tmp/all.csv) - 1))"
block csv_all cat /tmp/all.csv

[ -n "${ARBOR_BUDGET:-}" ] || exit 0

# Phase budget: the waker beside a storm of tiny bursts
# secs spans the whole recording, attach to stop: samples are recorded
# over all of it, not only while the workload runs.
t0=$(awk '{ print $1 }' /proc/uptime)
sched_start --no-model --record /tmp/b.csv --sample-budget "$ARBOR_BUDGET" ||
	fail "scx_arbor did not attach"
scx_arbor workload --secs "$secs" --wakers 1 --period-us "$period" \
	--burst-us "$burst" --hogs 0 >/tmp/w2.json 2>"$LOGS/w2.err" &
wpid=$!
(
	end=$(($(now_ms) + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		hackbench -p -g 2 -f 5 -l 200 >/dev/null 2>&1
	done
) &
hpid=$!
sleep 1
mark waker "pid=$wpid" "tids=$(waker_tids $wpid)"
wait $wpid || fail "workload failed: $(cat "$LOGS/w2.err")"
wait $hpid
status status_budget
sched_stop INT
t1=$(awk '{ print $1 }' /proc/uptime)
mark budget "rows=$(($(wc -l </tmp/b.csv) - 1))" "secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
	"nr_cpus=$(nproc)"
block csv_budget cat /tmp/b.csv
