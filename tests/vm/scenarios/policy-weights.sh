# Weights. policy_probe hogs, for arbor.secs each: nice 0 and nice 5 pinned
# to CPU 0 while nice 0 and nice 10 are pinned to CPU 1; then three unpinned
# hogs at nice 0, 0 and 5 on the 2 CPUs. First under EEVDF, then under
# scx_arbor. Blocks {pin0,pin1,free}:{eevdf,arbor} (one JSON line each).
# Args: arbor.secs (8).
. /scenarios/_lib.sh

probe=/usr/bin/policy_probe
[ -x "$probe" ] || fail "missing $probe (the test copies target/*/examples/policy_probe there)"
secs=${ARBOR_SECS:-8}

# show NAME RC: /tmp/out.NAME as block NAME with rc RC.
show() { block "$1" sh -c 'cat "$1"; exit "$2"' _ "/tmp/out.$1" "$2"; }
weights() {
	"$probe" hogs --secs "$secs" --nice 0,5 --pin 0 >"/tmp/out.pin0:$1" 2>&1 &
	_p0=$!
	"$probe" hogs --secs "$secs" --nice 0,10 --pin 1 >"/tmp/out.pin1:$1" 2>&1 &
	_p1=$!
	wait "$_p0"
	_rc0=$?
	wait "$_p1"
	_rc1=$?
	show "pin0:$1" "$_rc0"
	show "pin1:$1" "$_rc1"
	"$probe" hogs --secs "$secs" --nice 0,0,5 --pin none >"/tmp/out.free:$1" 2>&1
	show "free:$1" "$?"
}

weights eevdf
sched_start --no-model || fail "scx_arbor did not attach"
weights arbor
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
