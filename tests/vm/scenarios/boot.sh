# Harness self-test: the VM boots the pinned kernel with what the scenarios
# rely on, and no scheduler is attached.
. /scenarios/_lib.sh

mark boot "state=$(scx_state)" "ops=$(scx_ops)" "kernel=$(uname -r)" "nr_cpus=$(nproc)"
have() { command -v "$1" >/dev/null && echo 1 || echo 0; }
mark tools "scx_arbor=$(have scx_arbor)" "stress_ng=$(have stress-ng)" "hackbench=$(have hackbench)"
mark config "boot_config=$([ -f "/boot/config-$(uname -r)" ] && echo 1 || echo 0)" \
	"sched_class_ext=$(grep -c '^CONFIG_SCHED_CLASS_EXT=y' "/boot/config-$(uname -r)")"
m() { grep -q " $1 $2 " /proc/mounts && echo 1 || echo 0; }
mark mounts "bpf=$(m /sys/fs/bpf bpf)" "tracefs=$(m /sys/kernel/tracing tracefs)" \
	"debugfs=$(m /sys/kernel/debug debugfs)" "tmp=$(m /tmp tmpfs)" "run=$(m /run tmpfs)"
mark files "ftrace_enabled=$([ -r /proc/sys/kernel/ftrace_enabled ] && echo 1 || echo 0)" \
	"hotplug_seq=$([ -r /sys/kernel/sched_ext/hotplug_seq ] && echo 1 || echo 0)"
mark args "echo=${ARBOR_ECHO:-unset}"
# The scheduler binary's dynamic libraries all resolve in the guest.
mark loader "missing_libs=$(/lib64/ld-linux-x86-64.so.2 --list /usr/bin/scx_arbor 2>&1 | grep -c 'not found')"
t0=$(now_ms)
hackbench -g 2 -f 5 -l 50 >/dev/null 2>&1
hb=$?
stress-ng --cpu 2 --timeout 2s >/dev/null 2>&1
sn=$?
mark workload "hackbench_rc=$hb" "stress_ng_rc=$sn" "ms=$(($(now_ms) - t0))"
