# Learning from the heuristic, then what it learned against the rule it
# started from. Phase 1: `scx_arbor --heuristic --learn on` (fast learning:
# every sample, a candidate after 1,500 samples, at most every 2 s) beside
# `scx_arbor workload requests` for arbor.learn_secs (default 30); the
# status and the generations listing as blocks. Phase 2: `scx_arbor ab`
# with the newest promoted generation as the scx_arbor arm (so ab's
# "model against the heuristic" table is learned vs --heuristic), beside
# EEVDF, --heuristic, --no-model and the shipped model (an arm named
# shipped), interleaved; no learning during phase 2, so the learner's own
# CPU does not weigh on the figures.
# Args: arbor.learn_secs (30), arbor.rounds (6), arbor.duration (5),
#       arbor.warmup (1), arbor.extra (--load+0.25): the requests family's
#       options for both phases, words joined by +.
. /scenarios/_lib.sh

dir=/tmp/learned
mkdir -p "$dir"
extra=$(echo "${ARBOR_EXTRA:---load+0.25}" | tr '+' ' ')

sched_start --heuristic --learn on --model-dir "$dir" --sample-budget 0 \
	--learn-min-samples 1500 --learn-interval 2 || fail "scx_arbor did not attach"
# shellcheck disable=SC2086 # the options are words
scx_arbor workload requests --secs "${ARBOR_LEARN_SECS:-30}" $extra >/tmp/learn-wl.json 2>/tmp/learn-wl.err
mark learn_workload "rc=$?"
status learn_status
sched_stop INT
block generations scx_arbor generations --model-dir "$dir"
gen=$(ls "$dir"/gen-*.onnx 2>/dev/null | sort | tail -n 1)
[ -n "$gen" ] || fail "nothing was promoted in ${ARBOR_LEARN_SECS:-30} s"
mark learned "file=$gen"

# shellcheck disable=SC2086 # the options are words
scx_arbor ab --rounds "${ARBOR_ROUNDS:-6}" --duration "${ARBOR_DURATION:-5}" \
	--warmup "${ARBOR_WARMUP:-1}" --workload requests $extra \
	--arms eevdf,heuristic,nomodel,default --arbor-args "--model $gen" \
	--arm "shipped=/usr/bin/scx_arbor" --attach-timeout 60 --json /tmp/ab.json \
	>/tmp/ab.out 2>/tmp/ab.err
mark ab "rc=$?" "state=$(scx_state)"
block table cat /tmp/ab.out
block stderr tail -n 30 /tmp/ab.err
[ -f /tmp/ab.json ] && block json cat /tmp/ab.json
exit 0
