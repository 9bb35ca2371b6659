# Benchmark (not a test): swap latency under load, retraining time per
# candidate, and the daemon's CPU share at steady state with learning on.
# benches/vm-swap-learn.sh boots it and prints the table.
# Args: arbor.swaps (default 100), arbor.steady_secs (default 30).
. /scenarios/_lib.sh

sched_start --model /models/const_class_0.onnx --learn on --learn-interval 5 \
	--learn-min-samples 5000 --learn-window 50000 --model-dir /tmp/models ||
	fail "scx_arbor did not attach"
load_start
sleep 2
i=1
while [ "$i" -le "${ARBOR_SWAPS:-100}" ]; do
	out=$(scx_arbor swap "/models/const_class_$((1 + i % 2)).onnx" 2>&1)
	# "generation N (installed in X µs, in use after Y µs)"
	set -- $(echo "$out" | sed -n 's/^generation \([0-9]*\) (installed in \([0-9]*\) µs, in use after \([0-9]*\) µs).*/\1 \2 \3/p')
	mark swap "gen=${1:-none}" "install_us=${2:-none}" "visible_us=${3:-none}"
	i=$((i + 1))
done
# Steady state: CPU time of the scx_arbor process (utime+stime, USER_HZ
# ticks) over the window, learning on, under the same load.
pid=$SCHED_PID
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
# Per thread, by name: name=ticks ...
thread_ticks() {
	for t in /proc/"$pid"/task/*; do
		echo "$(tr -c 'A-Za-z0-9_.\n-' _ <"$t/comm")=$(awk '{ print $14 + $15 }' "$t/stat")"
	done | awk -F= '{ s[$1] += $2 } END { for (k in s) printf "%s=%d ", k, s[k] }'
}
t0=$(now_ms)
c0=$(ticks)
th0=$(thread_ticks)
sleep "${ARBOR_STEADY_SECS:-30}"
c1=$(ticks)
th1=$(thread_ticks)
mark steady "ms=$(($(now_ms) - t0))" "ticks=$((c1 - c0))" "user_hz=100" "nr_cpus=$(nproc)"
mark threads_start $th0
mark threads_end $th1
status status_end
load_stop
sched_stop INT
