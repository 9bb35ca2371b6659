# scx_arbor on a machine of two LLCs (run with --smp 8,sockets=2,cores=4).
# Marks each CPU's L3 group; runs tasks pinned to two CPUs beside the latency
# mix under EEVDF, then attaches scx_arbor and runs: messaging (hackbench)
# across the machine, the same pinned-and-latency mix, and scx CI's stress-ng
# mix (affinity changes) shortened to arbor.stress_secs (default 8).
. /scenarios/_lib.sh

for c in /sys/devices/system/cpu/cpu[0-9]*; do
	mark cpu "cpu=${c##*/cpu}" "l3=$(cat "$c/cache/index3/shared_cpu_list" 2>/dev/null || echo none)"
done
lat_secs=${ARBOR_LAT_SECS:-4}

# pinned_mix NAME: two crowds of 6 tasks pinned to CPUs 2 and 5 beside the
# latency mix on all CPUs; the mix's JSON as block lat_NAME, exit codes and
# the sched_ext state as mark pinned_NAME.
pinned_mix() {
	_secs=$((lat_secs + 2))
	stress-ng --cpu 6 --taskset 2 --timeout "${_secs}s" --metrics-brief >"$LOGS/pin2.log" 2>&1 &
	_p1=$!
	stress-ng --cpu 6 --taskset 5 --timeout "${_secs}s" --metrics-brief >"$LOGS/pin5.log" 2>&1 &
	_p2=$!
	block "lat_$1" scx_arbor workload --secs "$lat_secs" --wakers 4 --hogs 4
	_lat=$?
	wait "$_p1"
	_r1=$?
	wait "$_p2"
	_r2=$?
	mark "pinned_$1" "rc2=$_r1" "rc5=$_r2" "lat_rc=$_lat" "state=$(scx_state)"
	dump_log pin2.log
	dump_log pin5.log
}

# The same mix under EEVDF first: the yardstick of this VM run.
pinned_mix eevdf

sched_start --no-model || fail "scx_arbor did not attach"
status status_start

hackbench -g 4 -f 5 -l 300 >"$LOGS/hackbench.log" 2>&1
mark hackbench "rc=$?"
rm -f "$LOGS/hackbench.log"
status status_msg

pinned_mix arbor
status status_pinned

stress-ng -t "${ARBOR_STRESS_SECS:-8}" --aggressive -M -c 8 -f 8 --affinity 1 \
	--affinity-delay 1 --affinity-pin >"$LOGS/stress.log" 2>&1
mark stress "rc=$?" "state=$(scx_state)"
dump_log stress.log
status status_end
sched_stop INT
block dmesg_scx sh -c 'dmesg | grep -i sched_ext || true'
