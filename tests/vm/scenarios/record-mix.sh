# Record outcome samples under a sequence of different workloads, for
# training the default model (models/make-default.sh). The CSV leaves the VM
# gzip'd and base64'd in block csv.gz.b64.
# Args: arbor.phase_secs (default 8), arbor.sample_every (default 2),
# arbor.only (comma-separated phase names: run only those),
# arbor.runs_args (the requests-runs phase's options, words joined by +;
# default --load+0.3+--long-runs+4).
. /scenarios/_lib.sh

csv=/tmp/mix.csv
secs=${ARBOR_PHASE_SECS:-8}
sched_start --no-model --record "$csv" --sample-every "${ARBOR_SAMPLE_EVERY:-2}" ||
	fail "scx_arbor did not attach"

# phase NAME CMD...: run CMD for the phase and mark it.
phase() {
	_name=$1
	shift
	case ",${ARBOR_ONLY:-$_name}," in
	*",$_name,"*) ;;
	*) return 0 ;;
	esac
	_t0=$(now_ms)
	"$@" >/dev/null 2>&1
	mark phase "name=$_name" "rc=$?" "ms=$(($(now_ms) - _t0))"
}

# Messaging: many tiny bursts.
phase hackbench-pipe timeout "$secs" sh -c 'while :; do hackbench -p -g 4 -l 200; done'
# Pure CPU hogs: bursts truncated at 16 ms.
phase cpu-hogs stress-ng --cpu 2 --timeout "${secs}s"
# Duty-cycled load: ~1 ms and ~5 ms busy slices with sleeps between.
phase duty-1ms stress-ng --cpu 2 --cpu-load 40 --cpu-load-slice 1 --timeout "${secs}s"
phase duty-5ms stress-ng --cpu 2 --cpu-load 50 --cpu-load-slice 5 --timeout "${secs}s"
# Context switching and sleeping threads beside a hog.
phase switch-hog stress-ng --switch 2 --cpu 1 --timeout "${secs}s"
phase sleepers-hog stress-ng --sleep 4 --cpu 1 --timeout "${secs}s"
# Periodic SCHED_OTHER wakers beside hogs: short and 2 ms bursts.
phase wakers-50us scx_arbor workload --secs "$secs" --wakers 4 --period-us 1009,2017,2503,10007 --burst-us 50 --hogs 2
phase wakers-2ms scx_arbor workload --secs "$secs" --wakers 2 --period-us 10007 --burst-us 2000 --hogs 2
# The workload families where a task's average is the wrong summary
# (docs/workload-families.md): bimodal requests in the same workers, a
# fan-out dispatcher, tasks switching between interactive and batch phases.
phase requests scx_arbor workload requests --secs "$secs" --load 0.3 --long-share 0.15
# shellcheck disable=SC2046 # the words of arbor.runs_args
phase requests-runs scx_arbor workload requests --secs "$secs" \
	$(echo "${ARBOR_RUNS_ARGS:---load+0.3+--long-runs+4}" | tr + ' ')
phase fanout scx_arbor workload fanout --secs "$secs" --batch 2,8
phase phases scx_arbor workload phases --secs "$secs"
# Everything at once.
phase mixed sh -c "stress-ng --cpu 1 --cpu-load 30 --cpu-load-slice 2 --timeout ${secs}s & \
	timeout $secs sh -c 'while :; do hackbench -g 2 -l 100; done'; wait"

status status_end
sched_stop INT
[ -f "$csv" ] || fail "no $csv after the scheduler exited"
mark csv "rows=$(($(wc -l <"$csv") - 1))" "bytes=$(wc -c <"$csv")"
gzip -1 -c "$csv" >/tmp/mix.csv.gz
block csv.gz.b64 base64 /tmp/mix.csv.gz
