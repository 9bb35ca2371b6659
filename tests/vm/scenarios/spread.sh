# Busy tasks spreading out of one part of the machine. arbor.domain is what
# a part is: `core` (SMT cores; run with a shape with threads=2) or `llc`
# (last-level caches; run with sockets=2). arbor.hogs busy loops (default:
# one per core for `core`, one per CPU for `llc`) start pinned to the CPUs
# of CPU 0's domain, are released to every CPU after 1 s, and run on for
# arbor.secs (default 4). Every 100 ms from the release on, each hog's CPU
# is read (/proc/PID/stat, field 39) and mapped to its domain (the guest's
# own topology/core_id and physical_package_id, or cache/index3's
# shared_cpu_list). A domain's share is hogs x its CPUs / all CPUs; a
# sample is "crowded" when a domain holds more hogs than its share while
# another holds fewer: hogs sharing CPUs while others idle.
# Runs under EEVDF (the yardstick of the same VM) and under scx_arbor
# --no-model (this is placement, not the model), and under each extra
# scheduler command named in arbor.others (NAME:PATH[+ARG...],...).
# arbor.rounds (default 3) rounds, the arms interleaved in each.
# Marks: domain cpu= domain= node= siblings=; node node= distance= (the
# kernel's row of node distances, comma-separated); spread arm= round= samples=
# crowded= crowded_late= (crowded samples arbor.settle_ms, default 500 for
# cores and 1000 for LLCs, or more after the release) first_clear_ms= (the
# time after the release of the first sample from which no later one is
# crowded; -1 if the last is) state=.
. /scenarios/_lib.sh

secs=${ARBOR_SECS:-4}
domain=${ARBOR_DOMAIN:-core}
ncpu=$(grep -c ^processor /proc/cpuinfo)

case $domain in
core)
	domain_of() {
		_t=/sys/devices/system/cpu/cpu$1/topology
		echo "$(cat $_t/physical_package_id).$(cat $_t/core_id)"
	}
	pair=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
	[ "$pair" != 0 ] || fail "CPU 0 has no SMT sibling: run with threads=2"
	settle=${ARBOR_SETTLE_MS:-500}
	;;
llc)
	domain_of() { cat /sys/devices/system/cpu/cpu$1/cache/index3/shared_cpu_list; }
	pair=$(domain_of 0)
	[ "$pair" != "0-$((ncpu - 1))" ] || fail "one LLC holds every CPU: run with sockets=2"
	settle=${ARBOR_SETTLE_MS:-1000}
	;;
*) fail "arbor.domain must be core or llc, not $domain" ;;
esac

node_of() {
	for _n in /sys/devices/system/cpu/cpu$1/node[0-9]*; do
		[ -e "$_n" ] && echo "${_n##*/node}" && return
	done
	echo 0
}
doms=""
c=0
while [ $c -lt "$ncpu" ]; do
	mark domain "cpu=$c" "domain=$(domain_of $c)" "node=$(node_of $c)" \
		"siblings=$(cat /sys/devices/system/cpu/cpu$c/topology/thread_siblings_list)"
	doms="$doms $c=$(domain_of $c)"
	c=$((c + 1))
done
for n in /sys/devices/system/node/node[0-9]*; do
	[ -e "$n/distance" ] && mark node "node=${n##*/node}" "distance=$(tr ' ' , <"$n/distance")"
done
nr_doms=$(for kv in $doms; do echo "${kv#*=}"; done | sort -u | wc -l)
if [ "$domain" = core ]; then
	hogs=${ARBOR_HOGS:-$nr_doms}
else
	hogs=${ARBOR_HOGS:-$ncpu}
fi

# The sampler: SECS PID...; prints, every 100 ms, the ms since it started
# and each PID's CPU, with no fork in the loop: it waits on a FIFO that
# nobody writes until the next 100 ms mark (under TCG, behind the hogs on its
# CPU, a sample takes some 60 ms; a fixed 100 ms sleep made a sample every
# 160 ms or more).
cat >/tmp/spread-sampler.sh <<'SAMPLER'
secs=$1
shift
pids=$*
rm -f /tmp/spread-tick
mkfifo /tmp/spread-tick
exec 3<>/tmp/spread-tick
# since_ms: ms since the sampler started into $ms (/proc/uptime, 10 ms steps)
since_ms() {
	read -r up _ </proc/uptime
	ms=$((${up%.*}${up#*.}0 - t0))
}
t0=0
since_ms
t0=$ms
next=0
while :; do
	since_ms
	now=$ms
	[ "$now" -lt $((secs * 1000)) ] || break
	next=$((next + 100))
	[ "$next" -gt "$now" ] || next=$((now + 1))
	line=$now
	for p in $pids; do
		read -r stat </proc/$p/stat
		set -- $stat
		line="$line ${39}"
	done
	echo "$line"
	since_ms
	wait_ms=$((next - ms))
	case ${#wait_ms} in
	1) wait_s=0.00$wait_ms ;;
	2) wait_s=0.0$wait_ms ;;
	*) wait_s=0.$wait_ms ;;
	esac
	[ "$wait_ms" -le 0 ] || read -r -t "$wait_s" -u 3 _
done
SAMPLER

# spreading ARM ROUND: one run of the hogs; the mark spread.
spreading() {
	_pids=""
	_i=0
	while [ $_i -lt "$hogs" ]; do
		taskset -c "$pair" sh -c 'while :; do :; done' &
		_pids="$_pids $!"
		_i=$((_i + 1))
	done
	sleep 1
	for _p in $_pids; do taskset -p -a -c "0-$((ncpu - 1))" "$_p" >/dev/null; done
	# The sampler runs on the last CPU only, so that it moves no hog: only
	# the scheduler moves them.
	taskset -c "$((ncpu - 1))" sh /tmp/spread-sampler.sh "$secs" $_pids >/tmp/spread.samples
	kill $_pids
	wait $_pids 2>/dev/null
	# Each sample: its time, then the CPU of each hog.
	awk -v doms="$doms" -v ncpu="$ncpu" -v hogs="$hogs" -v settle="$settle" \
		-v arm="$1" -v round="$2" -v state="$(scx_state)" '
		BEGIN {
			n = split(doms, kv, " ")
			for (i = 1; i <= n; i++) { split(kv[i], a, "="); dom[a[1]] = a[2]; size[a[2]]++ }
		}
		{
			delete on
			for (i = 2; i <= NF; i++) on[dom[$i]]++
			over = 0; under = 0
			for (d in size) {
				if (on[d] * ncpu > hogs * size[d]) over = 1
				if (on[d] * ncpu < hogs * size[d]) under = 1
			}
			crowded = over && under
			samples++; if (crowded) { nc++; last = $1; if ($1 >= settle) late++ }
		}
		END {
			printf "ARBOR-MARK spread arm=%s round=%d samples=%d crowded=%d crowded_late=%d first_clear_ms=%d state=%s\n",
				arm, round, samples, nc, late, nc ? (crowded ? -1 : last + 1) : 0, state
		}' /tmp/spread.samples
	block "samples_$1_$2" cat /tmp/spread.samples
}

r=1
while [ $r -le "${ARBOR_ROUNDS:-3}" ]; do
	spreading eevdf $r
	sched_start --no-model || fail "scx_arbor did not attach"
	spreading arbor $r
	status "status_arbor_$r"
	sched_stop INT
	for spec in $(echo "${ARBOR_OTHERS:-}" | tr ',' ' '); do
		name=${spec%%:*}
		cmd=$(echo "${spec#*:}" | tr '+' ' ')
		$cmd >"$LOGS/$name.log" 2>&1 &
		opid=$!
		wait_state enabled 20 >/dev/null || fail "$name did not attach"
		spreading "$name" $r
		kill -INT $opid
		wait $opid
		wait_state disabled 20 >/dev/null || fail "$name did not detach"
	done
	r=$((r + 1))
done
mark done "state=$(scx_state)"
