# Models that must be refused while running: a truncated file, a model for
# another feature schema, a model naming an unknown feature, a text file.
# Each refusal must be answered with a reason and leave the running model
# (const_class_1) in place and deciding.
. /scenarios/_lib.sh

for f in const_class_1 truncated schema_v99 unknown_feature; do need_file "/models/$f.onnx"; done
sched_start --model /models/const_class_1.onnx || fail "scx_arbor did not attach"
load_start
status status_before
for f in truncated schema_v99 unknown_feature; do
	block "refuse:$f" scx_arbor swap "/models/$f.onnx"
done
block "refuse:text" scx_arbor swap /scenarios/_lib.sh
sleep 2
status status_after
load_stop
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
