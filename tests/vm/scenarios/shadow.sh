# Shadow learning. Phase 1: --learn shadow: candidates are walked in BPF
# beside the live model and counted, never promoted. Phase 2: --learn on with
# --promote-after-shadow larger than the run can reach: candidates go to the
# shadow slot, but without that shadow record none is promoted. Phase 3:
# --learn on --promote-after-shadow 2000: a candidate that wins on held-out
# AND over 2,000 bursts in shadow is promoted, with both records saved.
# Args: arbor.secs (default 20 per phase).
. /scenarios/_lib.sh

for phase in shadow gated promote; do
	case $phase in
	shadow) set -- --learn shadow --learn-margin 0 ;;
	gated) set -- --learn on --promote-after-shadow 1000000000 --learn-margin 0 ;;
	promote) set -- --learn on --promote-after-shadow 2000 ;;
	esac
	# --sample-budget 0: this is about the shadow gate, and 20 s phases need
	# the samples faster than the default budget (128/s per CPU) sends them.
	sched_start --model /models/const_class_0.onnx "$@" --learn-interval 3 \
		--learn-min-samples 3000 --sample-budget 0 --model-dir "/tmp/models-$phase" ||
		fail "scx_arbor did not attach ($phase)"
	load_start "${ARBOR_SECS:-20}"
	load_wait
	status "status_$phase"
	mark "phase_$phase" "models=$(ls /tmp/models-$phase 2>/dev/null | wc -l)"
	for j in /tmp/models-"$phase"/gen-*.json; do
		case $j in
		*.live.json | *"*"*) ;;
		*) block "sidecar:$phase:$(basename "$j")" cat "$j" ;;
		esac
	done
	sched_stop INT
done
