# An RT neighbour: a SCHED_FIFO task pinned to CPU 1 that runs arbor.rtload
# percent of the time (stress-ng --cpu-load, in bursts), beside the latency
# mix (4 periodic wakers, 1 hog, all SCHED_OTHER and free to run on every
# CPU). A wakeup that waits for CPU 1 while the RT task holds it waits for
# nothing: CPU 0 can run it. Rounds alternate the arms, each running the
# mix for arbor.secs with the RT task beside it:
#  eevdf   no sched_ext scheduler
#  arbor   scx_arbor (the default model)
#  before  /usr/bin/scx_arbor_before when the run ships one (--file): the
#          same with an earlier build, for a before/after comparison
# Blocks mix:ARM:ROUND (the workload's JSON); marks rt arm= round= rc=
# (stress-ng's exit) and, for the sched_ext arms, the scheduler's counters
# after the run (block status:ARM:ROUND) and state=.
# Args: arbor.rounds (2), arbor.secs (6), arbor.rtload (40).
. /scenarios/_lib.sh

rounds=${ARBOR_ROUNDS:-2}
secs=${ARBOR_SECS:-6}
rtload=${ARBOR_RTLOAD:-40}
mix="--wakers 4 --period-us 2003,3001,4999,7001 --burst-us 300 --hogs 1"

arms="eevdf arbor"
if [ -x /usr/bin/scx_arbor_before ]; then
	mkdir -p /tmp/before
	ln -sf /usr/bin/scx_arbor_before /tmp/before/scx_arbor
	arms="$arms before"
fi

# one_run ARM ROUND: the RT task and the mix together, for secs
one_run() {
	stress-ng --cpu 1 --taskset 1 --cpu-load "$rtload" --sched fifo \
		--sched-prio 10 --timeout "$((secs + 2))s" \
		>"$LOGS/rt.log" 2>&1 &
	_rt=$!
	sleep 0.5
	# shellcheck disable=SC2086 # words
	scx_arbor workload latency --secs "$secs" $mix >/tmp/mix.json 2>/tmp/mix.err
	_rc=$?
	wait "$_rt"
	mark rt "arm=$1" "round=$2" "rc=$?" "mix_rc=$_rc" "state=$(scx_state)"
	block "mix:$1:$2" cat /tmp/mix.json
	[ "$_rc" = 0 ] || block "mix_err:$1:$2" cat /tmp/mix.err
}

r=1
while [ "$r" -le "$rounds" ]; do
	for arm in $arms; do
		case $arm in
		eevdf)
			one_run eevdf "$r"
			;;
		arbor)
			sched_start || fail "scx_arbor did not attach"
			one_run arbor "$r"
			status "status:arbor:$r"
			sched_stop INT
			;;
		before)
			_path=$PATH
			export PATH=/tmp/before:$PATH
			sched_start || fail "scx_arbor_before did not attach"
			one_run before "$r"
			status "status:before:$r"
			sched_stop INT
			export PATH=$_path
			;;
		esac
	done
	r=$((r + 1))
done
mark done "state=$(scx_state)"
