# Guest script of benches/kernel-matrix.sh (tests/vm/run.sh takes a script
# path): start scx_arbor with -v -v (libbpf's debug log, and the verifier's
# log of a program it rejects) and show why it did or did not attach.
# Blocks: vv-verdict (libbpf's failure lines and the last lines of the
# verifier log of the program it rejected), vv-errors (every error-looking
# line but libbpf's notes on absent struct_ops members and poisoned CO-RE
# relocations), vv-tail (the log's last 300 lines).
# Args: arbor.attach_secs (default 30).
. /scenarios/_lib.sh

mark kernel "release=$(uname -r)" "btf=$([ -r /sys/kernel/btf/vmlinux ] && echo 1 || echo 0)" \
	"state=$(scx_state)" "ops_dir=$([ -d /sys/kernel/sched_ext ] && echo 1 || echo 0)"
scx_arbor --no-model -v -v >/tmp/vv.log 2>&1 &
pid=$!
t0=$(now_ms)
deadline=$((t0 + ${ARBOR_ATTACH_SECS:-30} * 1000))
rc=none
while :; do
	[ "$(scx_state)" = enabled ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		rc=$?
		break
	fi
	[ "$(now_ms)" -ge "$deadline" ] && break
	sleep 0.05
done
state=$(scx_state)
if kill -0 "$pid" 2>/dev/null; then
	kill -INT "$pid"
	wait "$pid"
	rc=$?
fi
mark vv "state_seen=$state" "rc=$rc" "ms=$(($(now_ms) - t0))" "log_lines=$(wc -l </tmp/vv.log)"
verdict() {
	awk '
	/-- BEGIN PROG LOAD LOG --/ { inlog = 1; n = 0; next }
	/-- END PROG LOAD LOG --/ { inlog = 0; for (i = (n > 4 ? n - 4 : 0); i < n; i++) print buf[i]; next }
	inlog { buf[n++] = $0; next }
	/skipping it|BPF token|substituting insn/ { next }
	/failed to load|load failed|wasn.t resolved|not found|incompatible|Failed|[Ee]rror:|too old/ { print }
	' /tmp/vv.log | tail -n 20
}
block vv-verdict verdict
block vv-errors sh -c "grep -n -i -E 'error|fail|invalid|not found|missing|unknown|too old|incompatible|unsupported|refus' /tmp/vv.log | grep -v -E 'skipping it as|substituting insn' | head -n 150"
block vv-tail tail -n 300 /tmp/vv.log
true
