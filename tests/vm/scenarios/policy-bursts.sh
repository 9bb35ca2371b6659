# Burst ground truth. policy_probe's worker runs arbor.count bursts of
# exactly arbor.spin_us of its own CPU time (its thread CPU clock), with
# arbor.sleep_us nanosleeps between them, re-pinning and renicing itself in
# the middle of bursts (--perturb). First under EEVDF (the probe's own
# figures), then under scx_arbor with every burst recorded: on an idle
# machine, then beside two nice-0 CPU hogs (preemptions inside bursts).
# Blocks: bursts:{eevdf,arbor}:{idle,loaded} (the probe's output: `pid N`
# and one JSON line), status_end, csv:{idle,loaded} (the CSV header and the
# rows of that phase's worker pid).
# Args: arbor.spin_us (2000), arbor.sleep_us (10000), arbor.count (40).
. /scenarios/_lib.sh

probe=/usr/bin/policy_probe
[ -x "$probe" ] || fail "missing $probe (the test copies target/*/examples/policy_probe there)"
csv=/tmp/s.csv

# run NAME CMD...: CMD's output as block NAME (rc: CMD's exit code), kept
# in /tmp/out.NAME.
run() {
	_n=$1
	shift
	"$@" >"/tmp/out.$_n" 2>&1
	block "$_n" sh -c 'cat "$1"; exit "$2"' _ "/tmp/out.$_n" "$?"
}
HOGS=
hogs_start() {
	"$probe" hogs --secs 600 --nice 0,0 --pin none >/dev/null 2>&1 &
	HOGS=$!
	sleep 0.5
}
# The hogs die with their parent (PR_SET_PDEATHSIG).
hogs_stop() {
	kill "$HOGS"
	wait "$HOGS" 2>/dev/null
	HOGS=
}
bursts() {
	run "bursts:$1:$2" "$probe" bursts --spin-us "${ARBOR_SPIN_US:-2000}" \
		--sleep-us "${ARBOR_SLEEP_US:-10000}" --count "${ARBOR_COUNT:-40}" --perturb
}

bursts eevdf idle
hogs_start
bursts eevdf loaded
hogs_stop

sched_start --no-model --record "$csv" --sample-every 1 || fail "scx_arbor did not attach"
bursts arbor idle
hogs_start
bursts arbor loaded
hogs_stop
# Let the sample consumer drain the ring buffer before the counters are read.
sleep 1
status status_end
sched_stop INT
[ -f "$csv" ] || fail "no $csv after the scheduler exited"
mark csv "rows=$(($(wc -l <"$csv") - 1))"
for phase in idle loaded; do
	pid=$(sed -n 's/^pid \([0-9][0-9]*\)$/\1/p' "/tmp/out.bursts:arbor:$phase")
	[ -n "$pid" ] || fail "the probe printed no pid in phase $phase"
	mark "worker_$phase" "pid=$pid"
	block "csv:$phase" awk -F, -v pid="$pid" 'NR == 1 || $2 == pid' "$csv"
done
