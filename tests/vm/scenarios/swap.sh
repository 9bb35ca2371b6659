# Hot-swap models under load: start with const_class_0, then install
# const_class_1 and const_class_2 alternately arbor.swaps times (default 200).
# arbor.torn=1 is the negative control: the scheduler runs with the hidden
# --debug-allow-torn-install and every swap is `swap --debug-torn`, which
# overwrites the live tree in place; torn reads must then be counted.
. /scenarios/_lib.sh

for k in 0 1 2; do need_file "/models/const_class_$k.onnx"; done
set -- --model /models/const_class_0.onnx
swap_flag=
if [ "${ARBOR_TORN:-0}" = 1 ]; then
	set -- "$@" --debug-allow-torn-install
	swap_flag=--debug-torn
fi
sched_start "$@" || fail "scx_arbor did not attach"
status status_start
load_start
sleep 1
n=${ARBOR_SWAPS:-200}
i=1
t0=$(now_ms)
while [ "$i" -le "$n" ]; do
	k=$((2 - i % 2))
	out=$(scx_arbor swap $swap_flag "/models/const_class_$k.onnx" 2>&1)
	rc=$?
	gen=$(echo "$out" | sed -n 's/^generation \([0-9][0-9]*\).*/\1/p' | tail -n 1)
	mark swap "i=$i" "class=$k" "rc=$rc" "gen=${gen:-none}"
	[ "$rc" = 0 ] || echo "ARBOR-INFO swap $i refused: $out"
	i=$((i + 1))
done
mark swaps "n=$n" "ms=$(($(now_ms) - t0))" "state=$(scx_state)"
# The last model alone decides from here on: counts between these two
# snapshots must all land in its class.
status status_after_swaps
sleep "${ARBOR_SETTLE_SECS:-3}"
status status_final
load_stop
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
