# scx_arbor ab with a learning arm: EEVDF, the shipped model and a learning
# instance (--arms), interleaved, on a waker mix the shipped model
# mispredicts (2 ms bursts, class medium, which it calls tiny or short).
# The learn arm keeps its model directory across rounds and resumes the
# newest promoted generation. Prints the ab table, stderr, the JSON and the
# learn arm's `generations` listing.
# Args: arbor.rounds (2), arbor.duration (6), arbor.warmup (2),
#       arbor.arms (eevdf,default,learn), arbor.wakers (4),
#       arbor.period (10007), arbor.burst (2000), arbor.hogs (1),
#       arbor.learn_args (the fast-learning options below; "default" for
#       none), arbor.bpf_stats (0), arbor.workload (latency),
#       arbor.extra (none): more ab options, words joined by + (e.g.
#       --load+0.25); arbor.hogs=default leaves ab's own (one per CPU).
. /scenarios/_lib.sh

dir=/tmp/ab-learn
mark before "state=$(scx_state)"
set -- --rounds "${ARBOR_ROUNDS:-2}" --duration "${ARBOR_DURATION:-6}" \
	--warmup "${ARBOR_WARMUP:-2}" --arms "${ARBOR_ARMS:-eevdf,default,learn}" \
	--workload "${ARBOR_WORKLOAD:-latency}" \
	--wakers "${ARBOR_WAKERS:-4}" --period-us "${ARBOR_PERIOD:-10007}" \
	--burst-us "${ARBOR_BURST:-2000}" \
	--learn-dir "$dir" --attach-timeout 60 --json /tmp/ab.json
[ "${ARBOR_HOGS:-1}" = default ] || set -- "$@" --hogs "${ARBOR_HOGS:-1}"
# shellcheck disable=SC2046 # the extra options are words
[ -n "${ARBOR_EXTRA:-}" ] && set -- "$@" $(echo "$ARBOR_EXTRA" | tr '+' ' ')
# Learning that trains within one round: every sample, a candidate after
# 1,500 samples, at most every 2 s.
learn_args=${ARBOR_LEARN_ARGS:---sample-budget,0,--learn-min-samples,1500,--learn-interval,2}
if [ "$learn_args" != default ]; then
	for a in $(echo "$learn_args" | tr ',' ' '); do
		set -- "$@" "--learn-arg=$a"
	done
fi
[ "${ARBOR_BPF_STATS:-0}" = 1 ] && set -- "$@" --bpf-stats
mark args "$(echo "$*" | tr ' ' '|')"
t0=$(now_ms)
scx_arbor ab "$@" >/tmp/ab.out 2>/tmp/ab.err
rc=$?
mark ab "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)" \
	"arbor_procs=$(pgrep -f 'scx_arbor --' | wc -l)"
block table cat /tmp/ab.out
block stderr tail -n 30 /tmp/ab.err
[ -f /tmp/ab.json ] && block json cat /tmp/ab.json
block generations scx_arbor generations --model-dir "$dir"
exit 0
