# Live learning on a workload unlike the default model's training data:
# periodic wakers that burn 2 ms per wakeup (class "medium", which the
# default model almost never predicts) beside one CPU hog. With --learn on, a candidate must be
# promoted, written to the model directory with its sidecar, and be
# reloadable (rolled back to) with `swap`.
# Args: arbor.secs (default 40).
. /scenarios/_lib.sh

dir=/tmp/models
sched_start --learn on --learn-interval 4 --learn-min-samples 4000 \
	--learn-window 20000 --model-dir "$dir" --stats 5 || fail "scx_arbor did not attach"
status status_start
block workload scx_arbor workload --secs "${ARBOR_SECS:-40}" --wakers 4 \
	--period-us 6317 --burst-us 2000 --hogs 1
status status_end
first=$(ls "$dir"/gen-*.onnx 2>/dev/null | head -n 1)
mark models "n=$(ls "$dir"/gen-*.onnx 2>/dev/null | wc -l)" "first=${first:-none}"
for j in "$dir"/gen-*.json; do
	[ -f "$j" ] && block "sidecar:$(basename "$j")" cat "$j"
done
if [ -n "$first" ]; then
	block rollback scx_arbor swap "$first"
fi
sched_stop INT
dump_log sched.log
