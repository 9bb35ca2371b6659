# How often a lone hog changes CPU. `scx_arbor workload` with 2 periodic wakers
# (1009 and 2017 µs, 50 µs bursts) and 1 hog on 2 CPUs for arbor.secs; near
# the end of the run the hog thread's counters are read from the kernel:
# se.nr_migrations (/proc/PID/task/TID/sched: how often it was moved to
# another CPU) and the runs of schedstat (how often it was put on a CPU).
# Rounds alternate EEVDF, scx_arbor (default model) and scx_arbor
# --no-model. Marks: hog arm=ARM round=N migrations= runs= rc=.
# A measurement (docs/results.md, "Where the 1-hog tail goes"), not a CI test: the
# counts move with the host's load as much as between the builds compared.
# Args: arbor.rounds (2), arbor.secs (4).
. /scenarios/_lib.sh

rounds=${ARBOR_ROUNDS:-2}
secs=${ARBOR_SECS:-4}

# hog_counts ARM ROUND: one workload run, its hog's counters read 1 s
# before it ends.
hog_counts() {
	scx_arbor workload --wakers 2 --period-us 1009,2017 --hogs 1 --secs "$secs" \
		>/tmp/workload.json 2>/tmp/workload.err &
	_wpid=$!
	sleep $((secs - 1))
	_mig=none _runs=none
	for _t in /proc/$_wpid/task/*; do
		[ "$(cat "$_t/comm" 2>/dev/null)" = ab-hog ] || continue
		_mig=$(awk '$1 == "se.nr_migrations" { print $3 }' "$_t/sched" 2>/dev/null)
		_runs=$(awk '{ print $3 }' "$_t/schedstat" 2>/dev/null)
	done
	wait "$_wpid"
	_rc=$?
	mark hog "arm=$1" "round=$2" "migrations=${_mig:-none}" "runs=${_runs:-none}" "rc=$_rc"
	[ $_rc = 0 ] || block "workload_err:$1:$2" cat /tmp/workload.err
}

r=1
while [ $r -le "$rounds" ]; do
	hog_counts eevdf $r
	sched_start || fail "scx_arbor did not attach"
	hog_counts arbor $r
	sched_stop INT
	sched_start --no-model || fail "scx_arbor --no-model did not attach"
	hog_counts arbor-nomodel $r
	sched_stop INT
	r=$((r + 1))
done
mark done "state=$(scx_state)"
