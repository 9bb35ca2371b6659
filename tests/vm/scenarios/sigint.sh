# A signal detaches scx_arbor cleanly: exit 0, exit info printed, sched_ext
# back to disabled. Args: arbor.signal=INT|TERM (default INT).
. /scenarios/_lib.sh

sched_start --no-model || fail "scx_arbor did not attach"
# Detach while tasks are busy, not on an idle system.
load_start 3
sleep 1
sched_stop "${ARBOR_SIGNAL:-INT}"
load_wait
mark after "state=$(scx_state)" "ops=$(scx_ops)"
