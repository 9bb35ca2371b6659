# scx_arbor explain on a known periodic task: the latency workload's one
# waker (10007 µs period, 1000 µs bursts) beside a hog, under the default
# model; then a pid that is gone, a SCHED_FIFO task (stress-ng --sched
# fifo), and a --no-model instance.
. /scenarios/_lib.sh

# tid_of PID COMM: the first thread of PID named COMM
tid_of() {
	for _t in /proc/"$1"/task/*; do
		[ "$(cat "$_t/comm" 2>/dev/null)" = "$2" ] && { basename "$_t"; return 0; }
	done
	return 1
}

sched_start || fail "scx_arbor did not attach"
scx_arbor workload --secs 30 --wakers 1 --period-us 10007 --burst-us 1000 --hogs 1 \
	>/tmp/wl.out 2>&1 &
WL=$!
sleep 8
tid=$(tid_of $WL ab-waker) || fail "no ab-waker thread in workload $WL"
mark waker "pid=$WL" "tid=$tid"
block explain scx_arbor explain "$tid"
block explain_json scx_arbor explain --json "$tid"
block gone scx_arbor explain 4000000

stress-ng --sched fifo --sched-prio 10 --cpu 1 --cpu-load 2 -t 20 >/tmp/sng.out 2>&1 &
SNG=$!
sleep 3
fifo=
for p in /proc/[0-9]*; do
	_pid=${p#/proc/}
	[ "$_pid" = "$SNG" ] && continue
	case "$(cat "$p/comm" 2>/dev/null)" in
	stress-ng*) grep -q "^PPid:[[:space:]]*$SNG\$" "$p/status" 2>/dev/null && fifo=$_pid ;;
	esac
done
mark fifo "pid=$fifo"
[ -n "$fifo" ] && block fifo scx_arbor explain "$fifo"
kill "$SNG" 2>/dev/null
kill "$WL" 2>/dev/null
wait "$WL" "$SNG" 2>/dev/null
sched_stop INT

sched_start --no-model || fail "scx_arbor --no-model did not attach"
block nomodel scx_arbor explain 1
sched_stop INT
