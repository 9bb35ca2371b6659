# scx_arbor ab in the VM: EEVDF against scx_arbor in interleaved rounds with
# the latency mix and messaging. Prints the table, the JSON and the SVG size;
# with arbor.svg_b64=1 also the SVG (base64) for tests/vm/demo.sh.
# Args: arbor.rounds (2), arbor.duration (3), arbor.warmup (1),
#       arbor.workload (latency,messaging), arbor.walk_cost (0),
#       arbor.arms (ab's default), arbor.other (none): other sched_ext
#       schedulers as arms, NAME:PATH[+ARG...] separated by commas (the
#       binaries passed in with run.sh --bin), e.g.
#       bpfland:/usr/bin/scx_bpfland,cosmos:/usr/bin/scx_cosmos+-s+20000.
#       arbor.oracle_exe (none): --oracle-exe for the oracle arm (an oracle
#       build passed in with run.sh --bin). arbor.extra (none): more ab
#       options, words joined by + (e.g. --load+0.5+--long-share+0.1).
#       arbor.sched_args (none): scx_arbor's options for its arms, words
#       joined by + (e.g. --model+/models/x.onnx).
. /scenarios/_lib.sh

mark before "state=$(scx_state)"
set -- --rounds "${ARBOR_ROUNDS:-2}" --duration "${ARBOR_DURATION:-3}" \
	--warmup "${ARBOR_WARMUP:-1}" --workload "${ARBOR_WORKLOAD:-latency,messaging}" \
	--attach-timeout 60 --json /tmp/ab.json --plot /tmp/ab.svg
[ "${ARBOR_WALK_COST:-0}" = 1 ] && set -- "$@" --walk-cost --bpf-stats
[ -n "${ARBOR_ARMS:-}" ] && set -- "$@" --arms "$ARBOR_ARMS"
# shellcheck disable=SC2046 # the scheduler options are words
[ -n "${ARBOR_SCHED_ARGS:-}" ] && set -- "$@" --arbor-args "$(echo "$ARBOR_SCHED_ARGS" | tr '+' ' ')"
[ -n "${ARBOR_ORACLE_EXE:-}" ] && set -- "$@" --oracle-exe "$ARBOR_ORACLE_EXE"
# shellcheck disable=SC2046 # the extra options are words
[ -n "${ARBOR_EXTRA:-}" ] && set -- "$@" $(echo "$ARBOR_EXTRA" | tr '+' ' ')
for o in $(echo "${ARBOR_OTHER:-}" | tr ',' ' '); do
	set -- "$@" --arm "$(echo "$o" | sed 's/:/=/; s/+/ /g')"
done
t0=$(now_ms)
scx_arbor ab "$@" >/tmp/ab.out 2>/tmp/ab.err
rc=$?
mark ab "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)" \
	"arbor_procs=$(pgrep -f 'scx_arbor --' | wc -l)" "ops=$(scx_ops)"
block table cat /tmp/ab.out
block stderr tail -n 20 /tmp/ab.err
[ -f /tmp/ab.json ] && block json cat /tmp/ab.json
mark svg "bytes=$(wc -c </tmp/ab.svg 2>/dev/null || echo 0)" \
	"has_svg_tag=$(grep -c '<svg' /tmp/ab.svg 2>/dev/null || echo 0)"
[ "${ARBOR_SVG_B64:-0}" = 1 ] && block svg.b64 base64 /tmp/ab.svg
exit 0
