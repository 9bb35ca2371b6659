# Wakeup-latency grid in one VM boot: for every cell of
#   wakers x period set x hogs
# run `scx_arbor ab --workload latency` with the third arm arbor-nomodel
# (--walk-cost) and print the cell's JSON as block json:CELL.
# Cells are named wW-SET-hH, e.g. w4-diff-h2. Period sets (µs, waker i takes
# list[i % len]; all off multiples of the 4 ms tick):
#   eq   2017                   every waker the same period
#   diff 1009,2017,2503,10007   each waker its own (1 waker: 1009; 2: 1009,2017)
# Per cell: mark cell (before), mark cell_done rc= ms= state= arbor_procs=
# (both with up_ms=, the guest's uptime, to line cells up with host figures),
# block json:CELL (the ab JSON), block table:CELL (ab's table), and on failure
# block stderr:CELL. Ends with mark grid cells= failed= ms=. Exit 1 if any
# cell failed, 2 if a cell left sched_ext enabled (later cells would be void).
# Args: arbor.rounds (3), arbor.duration (3), arbor.warmup (1),
#       arbor.wakers (1,2,4), arbor.sets (eq,diff), arbor.hogs (2,4),
#       arbor.cells (all; comma-separated shell patterns over cell names,
#       e.g. w4-*,w1-eq-h2), arbor.order (alternate), arbor.burst_us (50),
#       arbor.seed (ab's default), arbor.attach_timeout (60),
#       arbor.arms (eevdf,default,nomodel through --walk-cost; else ab's
#       --arms LIST), arbor.other (none): other schedulers as arms, as in
#       ab.sh (NAME:PATH[+ARG...], comma-separated; binaries passed in with
#       run.sh --bin), e.g. a build before a change, to compare it in the
#       same boot: --bin old/scx_arbor_before --arg other=before:/usr/bin/scx_arbor_before.
. /scenarios/_lib.sh
set -f # arbor.cells holds patterns, not file names

rounds=${ARBOR_ROUNDS:-3}
duration=${ARBOR_DURATION:-3}
warmup=${ARBOR_WARMUP:-1}
wakers_list=$(echo "${ARBOR_WAKERS:-1,2,4}" | tr ',' ' ')
sets_list=$(echo "${ARBOR_SETS:-eq,diff}" | tr ',' ' ')
hogs_list=$(echo "${ARBOR_HOGS:-2,4}" | tr ',' ' ')
cells_filter=$(echo "${ARBOR_CELLS:-*}" | tr ',' ' ')

periods_of() {
	case $1 in
	eq) echo 2017 ;;
	diff) echo 1009,2017,2503,10007 ;;
	*) fail "unknown period set $1 (have: eq, diff)" ;;
	esac
}

selected() {
	for _pat in $cells_filter; do
		# shellcheck disable=SC2254 # the pattern is meant to match
		case $1 in $_pat) return 0 ;; esac
	done
	return 1
}

mark before "state=$(scx_state)" "nr_cpus=$(nproc)"
[ "$(scx_state)" = disabled ] || fail "sched_ext is $(scx_state) before the grid"

t_grid=$(now_ms)
n=0
failed=0
for w in $wakers_list; do
	for pset in $sets_list; do
		periods=$(periods_of "$pset")
		for h in $hogs_list; do
			cell="w$w-$pset-h$h"
			selected "$cell" || continue
			n=$((n + 1))
			mark cell "name=$cell" "wakers=$w" "set=$pset" "periods=$periods" "hogs=$h" \
				"up_ms=$(now_ms)"
			set -- --workload latency --wakers "$w" --period-us "$periods" --hogs "$h" \
				--rounds "$rounds" --duration "$duration" --warmup "$warmup" \
				--order "${ARBOR_ORDER:-alternate}" \
				--attach-timeout "${ARBOR_ATTACH_TIMEOUT:-60}" --json /tmp/cell.json
			if [ -n "${ARBOR_ARMS:-}" ]; then
				set -- "$@" --arms "$ARBOR_ARMS"
			else
				set -- "$@" --walk-cost
			fi
			for o in $(echo "${ARBOR_OTHER:-}" | tr ',' ' '); do
				set -- "$@" --arm "$(echo "$o" | sed 's/:/=/; s/+/ /g')"
			done
			[ -n "${ARBOR_BURST_US:-}" ] && set -- "$@" --burst-us "$ARBOR_BURST_US"
			[ -n "${ARBOR_SEED:-}" ] && set -- "$@" --seed "$ARBOR_SEED"
			rm -f /tmp/cell.json
			t0=$(now_ms)
			scx_arbor ab "$@" >/tmp/cell.out 2>/tmp/cell.err
			rc=$?
			mark cell_done "name=$cell" "rc=$rc" "ms=$(($(now_ms) - t0))" "up_ms=$(now_ms)" \
				"state=$(scx_state)" "arbor_procs=$(pgrep -f 'scx_arbor --' | wc -l)"
			[ -f /tmp/cell.json ] && block "json:$cell" cat /tmp/cell.json
			block "table:$cell" cat /tmp/cell.out
			if [ $rc != 0 ]; then
				failed=$((failed + 1))
				block "stderr:$cell" tail -n 30 /tmp/cell.err
			fi
			if [ "$(scx_state)" != disabled ]; then
				mark grid "cells=$n" "failed=$failed" "ms=$(($(now_ms) - t_grid))"
				fail "cell $cell left sched_ext $(scx_state)"
			fi
		done
	done
done
mark grid "cells=$n" "failed=$failed" "ms=$(($(now_ms) - t_grid))"
[ $n -gt 0 ] || fail "no cell matches arbor.cells=${ARBOR_CELLS:-}"
[ $failed = 0 ] || exit 1
exit 0
