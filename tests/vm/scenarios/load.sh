# Run scx_arbor with a constant model under hackbench + CPU hogs.
# Args: arbor.model=NAME (default const_class_2; /models/NAME.onnx),
#       arbor.load_secs=SECS (default 12).
. /scenarios/_lib.sh

model=/models/${ARBOR_MODEL:-const_class_2}.onnx
need_file "$model"
sched_start --model "$model" --stats 2 || fail "scx_arbor did not attach"
status status_start
load_start "${ARBOR_LOAD_SECS:-12}"
sleep 1
mark during "state=$(scx_state)"
load_wait
mark after_load "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
status status_end
sched_stop INT
