# One machine shape (run.sh --smp) under scx CI's stress-ng mix: scx_arbor
# (default model) attaches, arbor.secs (default 30) of `stress-ng
# --aggressive -M -c N -f N --affinity 1 --affinity-delay 1 --affinity-pin`
# with N = the vCPUs, SIGINT, clean detach. With kernel.bpf_stats_enabled,
# bpftool's run_cnt and run_time_ns per arbor program give the cost per
# callback (block progs: name, calls, ns; a program that never ran has no
# counters and shows 0 0). Needs bpftool in the guest
# (benches/vm-large.sh passes it).
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-30}
n=$(nproc)
command -v bpftool >/dev/null || fail "no bpftool in the guest"
echo 1 >/proc/sys/kernel/bpf_stats_enabled || fail "cannot enable BPF run-time stats"
mark shape "cpus=$n" "llcs=$(ls -d /sys/devices/system/cpu/cpu*/cache/index3 2>/dev/null |
	xargs -I{} cat {}/shared_cpu_list | sort -u | wc -l)"
ARBOR_ATTACH_TIMEOUT=120
sched_start || fail "scx_arbor did not attach"
t0=$(now_ms)
stress-ng -t "$secs" --aggressive -M -c "$n" -f "$n" --affinity 1 --affinity-delay 1 \
	--affinity-pin >"$LOGS/stress.log" 2>&1
rc=$?
mark stress "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)" \
	"alive=$(sched_alive && echo 1 || echo 0)"
# name run_cnt run_time_ns of every arbor_ program, from bpftool's JSON
block progs sh -c "bpftool prog show -j | tr '{' '\n' |
	awk -F'[,:]' '/\"name\":\"arbor_/ {
		nm = \"\"; c = 0; t = 0
		for (i = 1; i <= NF; i++) {
			if (\$i ~ /\"name\"/) nm = \$(i + 1)
			if (\$i ~ /\"run_time_ns\"/) t = \$(i + 1)
			if (\$i ~ /\"run_cnt\"/) c = \$(i + 1)
		}
		gsub(/\"/, \"\", nm); print nm, c + 0, t + 0 }'"
status status
sched_stop INT
block dmesg_scx sh -c 'dmesg | grep -i -E "sched_ext|stall|scx_" || true'
exit 0
