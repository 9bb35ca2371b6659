# Roll models out through --model-watch under load (CPU hogs and hackbench).
# First instance, with a shadow stage (arbor.shadow_secs, default 3; canary window arbor.canary_secs, default 4):
#   writable.onnx  group/world-writable: rejected before import
#   junk.onnx      not ONNX: rejected
#   good.onnx      the shipped model (/models/default.onnx) published again:
#                  passes shadow and canary, kept and saved in --model-dir
#   long.onnx      const_class_3 (every burst "long"): rejected in shadow
#   fleet.onnx     with arbor.fleet=1 only: /models/fleet.onnx and its
#                  fleet.report.json, from arbor_fleet
# Second instance, no shadow stage:
#   long-canary.onnx  const_class_3 again: installed, rolled back at the end
#                     of its canary window; not tried again afterwards
#   good-ejected.onnx the shipped model: installed, then SysRq-S ejects
#                     scx_arbor during its canary window; it rolls back
#                     and attaches again with the previous generation
# Each file's status.json is shown as block status:NAME when it is final.
. /scenarios/_lib.sh

need_file /models/default.onnx
need_file /models/const_class_3.onnx
need_file /models/const_class_0.onnx
W=/var/lib/arbor-watch
D=/var/lib/arbor-models
mkdir -p "$W" "$D"
chmod 755 "$W" "$D"
canary=${ARBOR_CANARY_SECS:-4}
bursts=${ARBOR_MIN_BURSTS:-300}

# publish SRC NAME: copy to a hidden name, then rename (what a publisher does)
publish() {
	cp "$1" "$W/.$2"
	chmod 644 "$W/.$2"
	mv "$W/.$2" "$W/$2"
	mark publish "name=$2"
}

# wait_final NAME SECS: until NAME's status is final; shown as a block
wait_final() {
	_s="$W/${1%.onnx}.status.json"
	_end=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		if grep -qE '"stage": "(kept|rolled-back|rejected|superseded)"' "$_s" 2>/dev/null; then
			break
		fi
		sleep 0.5
	done
	block "status:$1" cat "$_s"
}

# wait_stage NAME STAGE SECS
wait_stage() {
	_s="$W/${1%.onnx}.status.json"
	_end=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		grep -q "\"stage\": \"$2\"" "$_s" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

sched_start --model /models/default.onnx --model-dir "$D" --model-watch "$W" \
	--canary-shadow-secs "${ARBOR_SHADOW_SECS:-3}" --canary-secs "$canary" \
	--canary-min-bursts "$bursts" --canary-max-rise-pct "${ARBOR_MAX_RISE:-50}" ||
	fail "scx_arbor did not attach"
load_start

cp /models/const_class_0.onnx "$W/writable.onnx"
chmod 666 "$W/writable.onnx"
wait_final writable.onnx 20
printf 'not a model' >"$W/.junk.onnx"
mv "$W/.junk.onnx" "$W/junk.onnx"
wait_final junk.onnx 20
publish /models/default.onnx good.onnx
wait_final good.onnx 120
publish /models/const_class_3.onnx long.onnx
wait_final long.onnx 120
# arbor.fleet=1: a model arbor_fleet trained, published with its report
# first (python/arbor_fleet/tests/test_rollout.py).
if [ "${ARBOR_FLEET:-0}" = 1 ]; then
	need_file /models/fleet.onnx
	need_file /models/fleet.report.json
	cp /models/fleet.report.json "$W/fleet.report.json"
	chmod 644 "$W/fleet.report.json"
	publish /models/fleet.onnx fleet.onnx
	wait_final fleet.onnx 120
fi
status status_first
block generations scx_arbor generations --model-dir "$D"
sched_stop INT
mark first "state=$(scx_state)"

# This start runs beside the load (two hogs and hackbench on 2 vCPUs): the
# BPF load and verification get a third of a CPU. 6.5 s here, over 20 s on
# a busy CI host under TCG; the attach mark records the time.
ARBOR_ATTACH_TIMEOUT=60 sched_start --model /models/default.onnx --model-dir "$D" --model-watch "$W" \
	--canary-shadow-secs 0 --canary-secs "$canary" \
	--canary-min-bursts "$bursts" --canary-max-rise-pct "${ARBOR_MAX_RISE:-50}" ||
	fail "scx_arbor did not attach a second time"
status status_second_start
publish /models/const_class_3.onnx long-canary.onnx
wait_final long-canary.onnx 120
status status_after_rollback
# Not tried again: its status stays as it was.
sleep 3
block "status-later:long-canary.onnx" cat "$W/long-canary.status.json"

publish /models/default.onnx good-ejected.onnx
if wait_stage good-ejected.onnx canary 60; then
	# SysRq-S: the kernel disables the BPF scheduler (an ejection).
	echo S >/proc/sysrq-trigger
	mark sysrq "rc=$?"
else
	mark sysrq "rc=never-in-canary"
fi
wait_final good-ejected.onnx 60
wait_state enabled 60 >/dev/null
mark second "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
status status_end
load_stop
sched_stop INT
