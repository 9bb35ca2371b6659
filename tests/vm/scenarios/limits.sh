# The BPF walk at its limits: a 16-tree ensemble of 4080 nodes and 2048
# leaves whose every decision walks a depth-24 spine in each tree (400 nodes
# per decision), under load; then a tree one split too deep, which must be
# refused. Args: arbor.load_secs (default 8).
. /scenarios/_lib.sh

need_file /models/limits_max.onnx
need_file /models/limits_deep.onnx
sched_start --model /models/limits_max.onnx || fail "scx_arbor did not attach"
status status_start
load_start "${ARBOR_LOAD_SECS:-8}"
load_wait
status status_end
block refuse_deep scx_arbor swap /models/limits_deep.onnx
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
