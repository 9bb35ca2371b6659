# No banked credit. policy_probe credit: child A sleeps arbor.sleep_ms, and
# when it wakes a fresh child B is forked; both burn CPU for arbor.spin_ms of
# wall time beside two nice-0 CPU hogs (the probe's own, started first) on
# the 2 CPUs. A's and B's CPU times in that window (their own clocks) and
# the hogs' (/proc/PID/schedstat) are compared, over arbor.rounds rounds.
# First under EEVDF, then under scx_arbor. Blocks credit:eevdf, credit:arbor
# (one JSON line each).
# Args: arbor.sleep_ms (3000), arbor.spin_ms (1000), arbor.rounds (3).
. /scenarios/_lib.sh

probe=/usr/bin/policy_probe
[ -x "$probe" ] || fail "missing $probe (the test copies target/*/examples/policy_probe there)"

# credit NAME: the probe's output as block credit:NAME (rc: its exit code).
credit() {
	"$probe" credit --sleep-ms "${ARBOR_SLEEP_MS:-3000}" --spin-ms "${ARBOR_SPIN_MS:-1000}" \
		--rounds "${ARBOR_ROUNDS:-3}" --hogs 2 >"/tmp/out.$1" 2>&1
	block "credit:$1" sh -c 'cat "$1"; exit "$2"' _ "/tmp/out.$1" "$?"
}

credit eevdf
sched_start --no-model || fail "scx_arbor did not attach"
credit arbor
mark after "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"
sched_stop INT
