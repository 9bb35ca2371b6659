#!/bin/sh
# /init of the scx_arbor VM tests (busybox sh).
#
# Mounts what scx_utils and the scenarios need, reads arbor.KEY=VALUE words
# from /proc/cmdline (exported as ARBOR_KEY, upper-cased, '.'/'-' -> '_'),
# runs /scenarios/$ARBOR_SCENARIO.sh under arbor.timeout seconds, prints
# "ARBOR-SCENARIO-EXIT rc=N" and powers off. The serial console is the only
# interface: every result is a line on it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

mnt() {
	mkdir -p "$3"
	mount -t "$1" "$2" "$3" || echo "ARBOR-INIT warning: mount -t $1 $3 failed"
}
mnt proc proc /proc
mnt sysfs sysfs /sys
mnt devpts devpts /dev/pts
mnt tmpfs tmpfs /dev/shm
mnt tmpfs tmpfs /tmp
mnt tmpfs tmpfs /run
mnt tracefs tracefs /sys/kernel/tracing
mnt debugfs debugfs /sys/kernel/debug
mnt bpf bpf /sys/fs/bpf
mnt cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up 2>/dev/null
hostname arbor-vm

# BPF programs with kconfig externs read /boot/config-$(uname -r); the image
# may be an override kernel whose version differs from the pinned one.
kver=$(uname -r)
if [ ! -e "/boot/config-$kver" ]; then
	for c in /boot/config-*; do
		[ -f "$c" ] && ln -s "$c" "/boot/config-$kver" && break
	done
fi

ARBOR_SCENARIO=
ARBOR_TIMEOUT=600
for w in $(cat /proc/cmdline); do
	case $w in
	arbor.*=*)
		k=${w%%=*}
		k=$(echo "${k#arbor.}" | tr 'a-z.-' 'A-Z__')
		export "ARBOR_$k=${w#*=}"
		;;
	esac
done

uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo
echo "ARBOR-MARK init uptime_s=$(uptime_s) kernel=$kver nr_cpus=$(nproc) mem_kb=$(awk '/MemTotal/ { print $2 }' /proc/meminfo) sched_ext_state=$(cat /sys/kernel/sched_ext/state 2>/dev/null || echo missing)"

rc=0
if [ -z "$ARBOR_SCENARIO" ]; then
	echo "ARBOR-ERROR no arbor.scenario=NAME on the kernel command line"
	rc=125
elif [ ! -f "/scenarios/$ARBOR_SCENARIO.sh" ]; then
	echo "ARBOR-ERROR no scenario /scenarios/$ARBOR_SCENARIO.sh; have: $(cd /scenarios && ls *.sh | tr '\n' ' ')"
	rc=126
else
	mkdir -p /tmp/logs
	cd /tmp
	start=$(date +%s)
	timeout -s TERM -k 5 "$ARBOR_TIMEOUT" sh "/scenarios/$ARBOR_SCENARIO.sh"
	rc=$?
	end=$(date +%s)
	cd /
	if [ $((end - start)) -ge "$ARBOR_TIMEOUT" ]; then
		echo "ARBOR-ERROR scenario $ARBOR_SCENARIO timed out after ${ARBOR_TIMEOUT}s (arbor.timeout)"
		[ "$rc" = 0 ] && rc=124
	fi
	echo "ARBOR-MARK scenario_done uptime_s=$(uptime_s) wall_s=$((end - start))"
fi

# Logs a scenario left behind (e.g. the scheduler's output when it timed out).
for f in /tmp/logs/*; do
	[ -f "$f" ] || continue
	echo "ARBOR-BEGIN log:${f##*/}"
	cat "$f"
	echo "ARBOR-END log:${f##*/}"
done
echo "ARBOR-SCENARIO-EXIT rc=$rc"
sync
poweroff -f
sleep 5
echo o >/proc/sysrq-trigger
