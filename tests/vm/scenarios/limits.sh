# The BPF walk at its limits: a 128-tree ensemble of 8064 nodes and 4096
# leaves whose every decision walks the 512-node budget (a depth-24 spine in
# tree 0, spines of 3 and 2 in the others), under load; then a boosted
# 4-class LightGBM model (15 rounds x depth 3, 60 trees) swapped in, under
# load; then a tree one split too deep, which must be refused.
# Args: arbor.load_secs (default 8).
. /scenarios/_lib.sh

need_file /models/limits_max.onnx
need_file /models/limits_deep.onnx
need_file /models/boost_lightgbm_multi15.onnx
sched_start --model /models/limits_max.onnx || fail "scx_arbor did not attach"
status status_start
load_start "${ARBOR_LOAD_SECS:-8}"
load_wait
status status_end
block swap_boosted scx_arbor swap /models/boost_lightgbm_multi15.onnx
status boosted_start
load_start "${ARBOR_LOAD_SECS:-8}"
load_wait
status boosted_end
block refuse_deep scx_arbor swap /models/limits_deep.onnx
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
