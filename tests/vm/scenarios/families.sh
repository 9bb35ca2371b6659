# One workload family (scx_arbor workload NAME) under EEVDF, then under
# scx_arbor: each run's JSON as a block (eevdf, arbor), its exit status as
# a mark (run_eevdf, run_arbor), its stderr as a block when it failed.
# Args: arbor.family (requests), arbor.secs (3), arbor.flags (none: more
#       workload options, words joined by +, e.g. --batch+2,8),
#       arbor.sched_args (none: scx_arbor's options, words joined by +).
. /scenarios/_lib.sh

fam=${ARBOR_FAMILY:-requests}
secs=${ARBOR_SECS:-3}
flags=$(echo "${ARBOR_FLAGS:-}" | tr '+' ' ')

# run_family ARM: the workload once, its JSON as block ARM.
run_family() {
	t0=$(now_ms)
	# shellcheck disable=SC2086 # the flags are words
	scx_arbor workload "$fam" --secs "$secs" $flags >/tmp/fam.json 2>/tmp/fam.err
	rc=$?
	mark "run_$1" "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)" "ops=$(scx_ops)"
	block "$1" cat /tmp/fam.json
	[ "$rc" = 0 ] || block "$1.err" cat /tmp/fam.err
}

mark before "state=$(scx_state)" "family=$fam"
run_family eevdf
# shellcheck disable=SC2046 # the scheduler options are words
sched_start $(echo "${ARBOR_SCHED_ARGS:-}" | tr '+' ' ') || fail "scx_arbor did not attach"
run_family arbor
sched_stop
exit 0
