# Drift: with --learn on, the workload switches mid-run: periodic 2 ms
# wakers beside a hog -> a hackbench pipe storm -> the wakers again. Every
# 2 s a status snapshot (the test computes the live cost-weighted score of
# each 2 s window from the BPF confusion counters); at the end, the
# generation lineage.
# Args: arbor.phase_secs (default 30).
. /scenarios/_lib.sh

dir=/tmp/models
phase_secs=${ARBOR_PHASE_SECS:-30}
sched_start --learn on --learn-interval 2 --learn-min-samples 3000 \
	--learn-window 12000 --model-dir "$dir" || fail "scx_arbor did not attach"

i=0
snap() {
	status "snap:$i"
	mark snap "i=$i" "phase=$1" "ms=$(now_ms)"
	i=$((i + 1))
}

# run_phase NAME: the workload NAME in the background for phase_secs,
# a snapshot every 2 s meanwhile.
run_phase() {
	case $1 in
	wakers)
		scx_arbor workload --secs "$phase_secs" --wakers 4 --period-us 6317 \
			--burst-us 2000 --hogs 1 >/dev/null 2>&1 &
		;;
	storm)
		(
			end=$(($(now_ms) + phase_secs * 1000))
			while [ "$(now_ms)" -lt "$end" ]; do
				hackbench -g 2 -f 5 -l 200 >/dev/null 2>&1
			done
		) &
		;;
	esac
	_p=$!
	mark phase "name=$1" "ms=$(now_ms)"
	_end=$(($(now_ms) + phase_secs * 1000))
	while [ "$(now_ms)" -lt "$_end" ]; do
		sleep 2
		snap "$1"
	done
	wait "$_p"
}

snap start
run_phase wakers
run_phase storm
run_phase wakers
block generations scx_arbor generations --model-dir "$dir"
sched_stop INT
