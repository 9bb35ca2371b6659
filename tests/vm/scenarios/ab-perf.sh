# scx_arbor ab with `perf bench sched messaging` (Debian's linux-perf, passed
# in with run.sh --bin /usr/bin/perf) as the command of every arm-round:
# EEVDF against scx_arbor, interleaved. Prints the ab table and JSON, and
# perf's own output in arm-round order (block perf).
# Args: arbor.rounds (5), arbor.warmup (1), arbor.groups (4), arbor.loops (100).
. /scenarios/_lib.sh

command -v perf >/dev/null || fail "perf is not in the initramfs (run.sh --bin /usr/bin/perf)"
block perf_version perf version
t0=$(now_ms)
scx_arbor ab --rounds "${ARBOR_ROUNDS:-5}" --warmup "${ARBOR_WARMUP:-1}" \
	--attach-timeout 60 --json /tmp/ab.json --cmd-output /tmp/perf.out -- \
	perf bench sched messaging -g "${ARBOR_GROUPS:-4}" -l "${ARBOR_LOOPS:-100}" \
	>/tmp/ab.out 2>/tmp/ab.err
rc=$?
mark ab "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)"
block table cat /tmp/ab.out
block stderr tail -n 20 /tmp/ab.err
block perf cat /tmp/perf.out
[ -f /tmp/ab.json ] && block json cat /tmp/ab.json
exit 0
