# A waker whose period is longer than the hogs' slices: each hog runs on
# through several slice refills between two wakeups, so the deadline a
# waker compares against is the one the hog got at its latest refill, not
# at its last switch. `scx_arbor ab` on the latency mix (1 waker at
# arbor.period µs, 50 µs bursts, 2 hogs on the 2 CPUs) in interleaved
# rounds: EEVDF, scx_arbor with its default model (hogs get the long
# class's 8 ms slices), and --no-model. Block json (the ab JSON), table.
# Args: arbor.period (20011), arbor.rounds (3), arbor.duration (3),
#       arbor.other (none): other schedulers as arms, as in ab.sh
#       (NAME:PATH[+ARG...]), e.g. a build before a change.
. /scenarios/_lib.sh

mark before "state=$(scx_state)"
set -- --workload latency --wakers 1 --period-us "${ARBOR_PERIOD:-20011}" \
	--burst-us 50 --hogs 2 --rounds "${ARBOR_ROUNDS:-3}" --duration "${ARBOR_DURATION:-3}" \
	--warmup 1 --arms eevdf,default,nomodel --attach-timeout 60 --json /tmp/ab.json
for o in $(echo "${ARBOR_OTHER:-}" | tr ',' ' '); do
	set -- "$@" --arm "$(echo "$o" | sed 's/:/=/; s/+/ /g')"
done
scx_arbor ab "$@" >/tmp/ab.out 2>/tmp/ab.err
rc=$?
mark ab "rc=$rc" "state=$(scx_state)"
block table cat /tmp/ab.out
block stderr tail -n 20 /tmp/ab.err
[ -f /tmp/ab.json ] && block json cat /tmp/ab.json
exit 0
