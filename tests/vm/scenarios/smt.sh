# Hogs on SMT cores (run with --smp 4,sockets=1,cores=2,threads=2, or any
# shape with SMT). arbor.hogs busy loops (default: one per core) start pinned
# to the two CPUs of one core, are released to every CPU after 1 s, and run
# on for arbor.secs (default 4). Every 50 ms from the release on, each hog's
# CPU is read (/proc/PID/stat, field 39) and mapped to its core
# (topology/core_id and physical_package_id). A sample is "crowded" when a
# core holds two hogs while another core holds none: two hogs running at a
# fraction of a core's speed each while a whole core idles. Runs under EEVDF
# (the yardstick of the same VM) and under scx_arbor, and under each extra
# scheduler command named in arbor.others (NAME:PATH[+ARG...],...).
# arbor.rounds (default 3) rounds, the arms interleaved in each.
# Marks: core cpu= core= siblings=; smt arm= round= samples= crowded=
# crowded_late= (crowded samples 500 ms or more after the release)
# first_clear_ms= (the time after the release of the first sample from which
# no later one is crowded; -1 if the last is) state=.
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-4}
ncpu=$(grep -c ^processor /proc/cpuinfo)

core_of() { # cpu -> "package.core"
	_t=/sys/devices/system/cpu/cpu$1/topology
	echo "$(cat $_t/physical_package_id).$(cat $_t/core_id)"
}
cores=""
c=0
while [ $c -lt "$ncpu" ]; do
	mark core "cpu=$c" "core=$(core_of $c)" \
		"siblings=$(cat /sys/devices/system/cpu/cpu$c/topology/thread_siblings_list)"
	cores="$cores $c=$(core_of $c)"
	c=$((c + 1))
done
nr_cores=$(for kv in $cores; do echo "${kv#*=}"; done | sort -u | wc -l)
hogs=${ARBOR_HOGS:-$nr_cores}
# The two CPUs of CPU 0's core.
pair=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
[ "$pair" != 0 ] || fail "CPU 0 has no SMT sibling: run with threads=2"

# The sampler: SECS PID...; prints, every 100 ms, the ms since it started
# and each PID's CPU, with no fork in the loop but sleep's.
cat >/tmp/smt-sampler.sh <<'SAMPLER'
secs=$1
shift
pids=$*
read -r up _ </proc/uptime
t0=${up%.*}${up#*.}0
while :; do
	read -r up _ </proc/uptime
	now=$((${up%.*}${up#*.}0 - t0))
	[ "$now" -lt $((secs * 1000)) ] || break
	line=$now
	for p in $pids; do
		read -r stat </proc/$p/stat
		set -- $stat
		line="$line ${39}"
	done
	echo "$line"
	sleep 0.1
done
SAMPLER

# crowding ARM ROUND: one run of the hogs; the mark smt.
crowding() {
	_pids=""
	_i=0
	while [ $_i -lt "$hogs" ]; do
		taskset -c "$pair" sh -c 'while :; do :; done' &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	sleep 1
	for _p in $_pids; do taskset -p -a -c "0-$((ncpu - 1))" "$_p" >/dev/null; done
	# The sampler runs on the last CPU only, so that it preempts no hog:
	# only the scheduler moves them.
	taskset -c "$((ncpu - 1))" sh /tmp/smt-sampler.sh "$secs" $_pids >/tmp/smt.samples
	kill $_pids
	wait $_pids 2>/dev/null
	# Each sample: its time, then the CPU of each hog.
	awk -v cores="$cores" -v nr_cores="$nr_cores" -v arm="$1" -v round="$2" -v state="$(scx_state)" '
		BEGIN { n = split(cores, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], a, "="); core[a[1]] = a[2] } }
		{
			delete on; used = 0; two = 0
			for (i = 2; i <= NF; i++) { k = core[$i]; if (!(k in on)) used++; on[k]++; if (on[k] > 1) two = 1 }
			crowded = two && used < nr_cores
			samples++; if (crowded) { nc++; last = $1; if ($1 >= 500) late++ }
		}
		END {
			printf "ARBOR-MARK smt arm=%s round=%d samples=%d crowded=%d crowded_late=%d first_clear_ms=%d state=%s\n",
				arm, round, samples, nc, late, nc ? (crowded ? -1 : last + 1) : 0, state
		}' /tmp/smt.samples
	block "samples_$1_$2" cat /tmp/smt.samples
}

r=1
while [ $r -le "${ARBOR_ROUNDS:-3}" ]; do
	crowding eevdf $r
	sched_start --no-model || fail "scx_arbor did not attach"
	crowding arbor $r
	status "status_arbor_$r"
	sched_stop INT
	for spec in $(echo "${ARBOR_OTHERS:-}" | tr ',' ' '); do
		name=${spec%%:*}
		cmd=$(echo "${spec#*:}" | tr '+' ' ')
		$cmd >"$LOGS/$name.log" 2>&1 &
		opid=$!
		wait_state enabled 20 >/dev/null || fail "$name did not attach"
		crowding "$name" $r
		kill -INT $opid
		wait $opid
		wait_state disabled 20 >/dev/null || fail "$name did not detach"
	done
	r=$((r + 1))
done
mark done "state=$(scx_state)"
