# Attach scx_arbor without a model; sched_ext must report it enabled.
# Args: arbor.hold=SECS (default 3) to keep it attached before stopping.
. /scenarios/_lib.sh

mark before "state=$(scx_state)"
sched_start --no-model || fail "scx_arbor did not attach"
sleep "${ARBOR_HOLD:-3}"
mark held "state=$(scx_state)" "ops=$(scx_ops)" "alive=$(sched_alive && echo 1 || echo 0)"
status status
sched_stop INT
