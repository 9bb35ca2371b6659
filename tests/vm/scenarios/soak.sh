# Benchmark (not a test): the soak. scx_arbor with learning on (defaults)
# under stress-ng + hackbench + the latency mix, and one `swap` per second
# alternating two models, for arbor.secs seconds. Every 10 s: the
# scheduler's state, RSS, open fds, threads, and its sample counters; every
# swap's answer. benches/vm-soak.sh boots it and prints the table.
# Args: arbor.secs (600), arbor.learn_window (scx_arbor's default).
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-600}
need_file /models/default.onnx
need_file /models/boost_lightgbm_multi15.onnx
dmesg -c >/dev/null 2>&1
set -- --learn on --model-dir /tmp/models
[ -n "${ARBOR_LEARN_WINDOW:-}" ] && set -- "$@" --learn-window "$ARBOR_LEARN_WINDOW"
sched_start "$@" || fail "scx_arbor did not attach"
pid=$SCHED_PID
load_start "$secs"
scx_arbor workload --secs "$secs" --wakers 4 --period-us 1009,2017,2503,10007 \
	--burst-us 200 --hogs 0 >/tmp/workload.json 2>/tmp/workload.err &
wl=$!

# The scheduler's footprint: RSS (kB), fds, threads.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$pid/fd" 2>/dev/null | wc -l; }
threads() { ls "/proc/$pid/task" 2>/dev/null | wc -l; }
# sent dropped throttled (the BPF side's sample counters), the learner's
# hand-off drops and its window, from the status JSON (zeros if it does not
# answer).
counters() {
	scx_arbor status --json 2>/dev/null >/tmp/status.json
	for k in samples_sent samples_dropped samples_throttled learn_dropped learn_window; do
		v=$(grep -o "\"$k\": *[0-9]*" /tmp/status.json | head -n 1 | grep -o '[0-9]*$')
		echo "${v:-0}"
	done | tr '\n' ' '
}

t0=$(now_ms)
end=$((t0 + secs * 1000))
next_sample=$t0
next_swap=$t0
i=0
rm -f /tmp/swap.rcs
while [ "$(now_ms)" -lt "$end" ]; do
	if [ "$(now_ms)" -ge "$next_sample" ]; then
		set -- $(counters)
		mark sample "t_s=$((($(now_ms) - t0) / 1000))" "state=$(scx_state)" \
			"alive=$(sched_alive && echo 1 || echo 0)" "rss_kb=$(rss)" \
			"fds=$(fds)" "threads=$(threads)" "sent=${1:-0}" "dropped=${2:-0}" \
			"throttled=${3:-0}" "learn_dropped=${4:-0}" "window=${5:-0}"
		next_sample=$((next_sample + 10000))
	fi
	# One swap per second, each in the background: starting the client
	# takes most of a second in the emulated VM, so several may overlap.
	if [ "$(now_ms)" -ge "$next_swap" ]; then
		i=$((i + 1))
		if [ $((i % 2)) = 0 ]; then m=/models/default.onnx; else m=/models/boost_lightgbm_multi15.onnx; fi
		(
			timeout 30 scx_arbor swap "$m" >/tmp/swap.$i.out 2>&1
			echo "$i $?" >>/tmp/swap.rcs
		) &
		next_swap=$((next_swap + 1000))
	fi
	sleep 0.1
done
# Every swap client ends within its 30 s timeout.
sleep 31
answered=$(awk '$2 == 0' /tmp/swap.rcs 2>/dev/null | wc -l)
failed=$(awk '$2 != 0' /tmp/swap.rcs 2>/dev/null | wc -l)
for n in $(awk '$2 != 0 { print $1 }' /tmp/swap.rcs 2>/dev/null | head -n 5); do
	mark swap_failed "n=$n" "out=$(tr ' \n' '__' </tmp/swap.$n.out | cut -c1-200)"
done
mark swaps "attempted=$i" "answered=$answered" "failed=$failed" \
	"unreported=$((i - answered - failed))"
wait "$wl"
mark workload "rc=$?"
block workload cat /tmp/workload.json
load_wait
status status_end
# Before the stop: any line of sched_ext's about an error, a stall or the
# watchdog, or a disable, means the scheduler was ejected during the soak.
mark dmesg "sched_ext_trouble=$(dmesg | grep -i sched_ext | grep -ci 'error\|disabled\|stall\|watchdog')"
sched_stop INT 30
block dmesg_sched_ext sh -c "dmesg | grep -i sched_ext | tail -n 20"
