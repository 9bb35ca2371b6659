# Live learning on a workload unlike the default model's training data:
# periodic wakers that burn 2 ms per wakeup (class "medium", which the
# default model almost never predicts) beside one CPU hog. With --learn on, a
# candidate must be promoted and written to the model directory with its
# lineage, numbered after what the directory already held (gen 1..3 from "an
# earlier run", left untouched). Then: `generations` lists them; CPU 1
# goes offline and back while the learned tree stays live (no restart); a
# rollback `swap`; a fresh process with --resume starts from
# the newest promoted generation; and, as the control, the default model on
# the same workload.
# Args: arbor.secs (default 40).
. /scenarios/_lib.sh

dir=/tmp/models
mkdir -p "$dir"
for n in 1 2 3; do
	cp /models/const_class_0.onnx "$dir/gen-00000$n.onnx"
done
crafted() { cat "$dir"/gen-00000[123].onnx | md5sum | cut -d' ' -f1; }
crafted_before=$(crafted)

# work NAME SECS: the waker mix for SECS seconds, then `status` as NAME.
work() {
	block "workload:$1" scx_arbor workload --secs "$2" --wakers 4 \
		--period-us 6317 --burst-us 2000 --hogs 1
	status "$1"
}

# --sample-budget 0: this is about generations on disk, the restart and
# --resume; the default budget would stretch the 40 s of learning.
sched_start --learn on --learn-interval 4 --learn-min-samples 4000 \
	--learn-window 20000 --sample-budget 0 --model-dir "$dir" || fail "scx_arbor did not attach"
status status_start
# The learning run, with a snapshot every 2 s while the workload runs
# (learn_snap:N): the test judges the newest promotion that has been live
# long enough, not one made in the last second.
scx_arbor workload --secs "${ARBOR_SECS:-40}" --wakers 4 --period-us 6317 \
	--burst-us 2000 --hogs 1 >/tmp/learn-workload.json 2>&1 &
wl=$!
snap=0
while kill -0 "$wl" 2>/dev/null; do
	sleep 2
	kill -0 "$wl" 2>/dev/null || break
	status "learn_snap:$snap"
	snap=$((snap + 1))
done
wait "$wl"
block "workload:status_end" cat /tmp/learn-workload.json
status status_end

# CPU hotplug: CPU 1 out and back. It is in the topology read at load, so
# scx_arbor goes on without a restart, the learned tree live throughout.
status status_prehotplug
echo 0 >/sys/devices/system/cpu/cpu1/online
sleep 1
mark offline "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)" "cpus=$(nproc)"
work status_offline 6
echo 1 >/sys/devices/system/cpu/cpu1/online
sleep 2
mark online "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)" "cpus=$(nproc)" \
	"restarts=$(grep -c 'asked scx_arbor to restart' "$LOGS/sched.log")"

first=$(ls "$dir"/gen-*.onnx | sed -n 4p)
if [ -n "$first" ]; then
	block rollback scx_arbor swap "$first"
fi
sched_stop INT

# What the directory holds now that the learner has stopped.
mark models "n=$(ls "$dir"/gen-*.onnx 2>/dev/null | wc -l)" "first=${first:-none}" \
	"crafted_unchanged=$([ "$(crafted)" = "$crafted_before" ] && echo 1 || echo 0)"
for j in "$dir"/gen-*.json; do
	case $j in
	*.live.json) block "live:$(basename "$j")" cat "$j" ;;
	*) block "sidecar:$(basename "$j")" cat "$j" ;;
	esac
done
block generations scx_arbor generations --model-dir "$dir"

# After a "reboot": a new process with --resume, not learning.
sched_start --resume --model-dir "$dir" || fail "scx_arbor --resume did not attach"
work status_resumed 6
sched_stop INT

# The control: the default model on the same workload.
sched_start --model-dir "$dir" || fail "scx_arbor did not attach"
work status_default 6
sched_stop INT
