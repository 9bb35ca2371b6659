# Shadow learning. Phase 1: --learn shadow: candidates are walked in BPF
# beside the live model and counted, never promoted. Phase 2: --learn on with
# --promote-after-shadow larger than the run can reach: candidates go to the
# shadow slot, but without that shadow record none is promoted.
# Args: arbor.secs (default 20 per phase).
. /scenarios/_lib.sh

for phase in shadow gated; do
	if [ "$phase" = shadow ]; then
		set -- --learn shadow
	else
		set -- --learn on --promote-after-shadow 1000000000
	fi
	sched_start --model /models/const_class_0.onnx "$@" --learn-interval 3 \
		--learn-min-samples 3000 --learn-margin 0 --model-dir "/tmp/models-$phase" ||
		fail "scx_arbor did not attach ($phase)"
	load_start "${ARBOR_SECS:-20}"
	load_wait
	status "status_$phase"
	mark "phase_$phase" "models=$(ls /tmp/models-$phase 2>/dev/null | wc -l)"
	sched_stop INT
done
