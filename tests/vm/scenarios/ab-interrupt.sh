# scx_arbor ab interrupted mid-run (SIGINT while an arm runs): it must stop,
# detach scx_arbor and leave the system on EEVDF.
# Args: arbor.after (seconds before the SIGINT, default 12).
. /scenarios/_lib.sh

scx_arbor ab --rounds 5 --duration 4 --warmup 1 --workload latency \
	--attach-timeout 60 --json /tmp/ab.json >/tmp/ab.out 2>/tmp/ab.err &
pid=$!
# Interrupt while scx_arbor is attached, if it gets there in time.
end=$(($(now_ms) + 60000))
while [ "$(scx_state)" != enabled ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
sleep "${ARBOR_AFTER:-2}"
mark interrupt "state=$(scx_state)" "ops=$(scx_ops)"
kill -INT "$pid"
t0=$(now_ms)
wait "$pid"
rc=$?
mark ab "rc=$rc" "ms=$(($(now_ms) - t0))" "state=$(scx_state)" \
	"arbor_procs=$(pgrep -f 'scx_arbor --' | wc -l)"
block stderr tail -n 20 /tmp/ab.err
exit 0
