# Faults, in one boot (tests/vm_faults.rs reads the marks and blocks):
#  hostile  hostile control clients and model paths while const_class_1 runs;
#           then a swap must still work
#  second   a second scx_arbor while one runs: exit 1, naming it, socket kept
#  kill9    kill -9 of scx_arbor --learn on under load: sched_ext back to
#           disabled, load finishes, a new scx_arbor attaches and works
#  stress   scx CI's stress-ng command for 31 s, with --learn on, then with
#           --no-model (arbor.stress=0 skips both)
# /bin/hostile-client is tests/vm/hostile-client.c, built by the test.
. /scenarios/_lib.sh

SOCK=/run/scx_arbor.sock
need_file /models/const_class_1.onnx
need_file /models/const_class_2.onnx
need_file /bin/hostile-client
grep -q '^nobody:' /etc/passwd 2>/dev/null ||
	echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd

# --- hostile -----------------------------------------------------------------
sched_start --model /models/const_class_1.onnx || fail "scx_arbor did not attach"
status hostile_before
for m in garbage longline half hangup noread flood; do
	block "hostile:$m" hostile-client "$SOCK" "$m"
done
# Model paths that are not model files, each refused by `swap`.
mkfifo /tmp/fifo
mkdir -p /tmp/dir.onnx
truncate -s 1G /tmp/sparse.onnx
ln -sf /tmp/loop-b /tmp/loop-a
ln -sf /tmp/loop-a /tmp/loop-b
cp /models/const_class_2.onnx /tmp/theirs.onnx
chown 4242 /tmp/theirs.onnx
chmod 600 /tmp/theirs.onnx
for p in /dev/zero /tmp/fifo /tmp/dir.onnx /tmp/sparse.onnx /tmp/loop-a; do
	block "path:$p" timeout 20 scx_arbor swap "$p"
done
# Only uid 4242 may read it; uid 65534 is refused reading it.
block "path:theirs" timeout 20 su nobody -s /bin/sh -c 'scx_arbor swap /tmp/theirs.onnx'
status hostile_after
block "hostile:swap" scx_arbor swap /models/const_class_2.onnx
status hostile_swapped
mark hostile "state=$(scx_state)" "alive=$(sched_alive && echo 1 || echo 0)"

# --- second ------------------------------------------------------------------
block second timeout 30 scx_arbor --no-model
mark second "socket=$([ -S "$SOCK" ] && echo 1 || echo 0)" "state=$(scx_state)" \
	"alive=$(sched_alive && echo 1 || echo 0)"
status second_status
sched_stop INT
# Not a model file for --model either: refused before anything is loaded.
block "startup:/dev/zero" timeout 20 scx_arbor --model /dev/zero
mark startup "state=$(scx_state)"

# --- kill9 -------------------------------------------------------------------
sched_start --learn on --model-dir /tmp/md || fail "scx_arbor --learn on did not attach"
load_start 60
sleep 3
status kill9_before
_t0=$(now_ms)
kill -KILL "$SCHED_PID"
ms=$(wait_state disabled 30)
_ok=$?
wait "$SCHED_PID"
_rc=$?
SCHED_PID=
mark kill9 "rc=$_rc" "disabled_ms=$ms" "reached=$((_ok == 0))" "state=$(scx_state)"
# Nothing stuck under the restored default scheduler: new work runs.
block kill9_hackbench timeout 60 hackbench -g 2 -f 5 -l 50
load_stop
block kill9_socket ls -l "$SOCK"
sched_start --learn on --model-dir /tmp/md || fail "scx_arbor did not attach again after kill -9"
status kill9_again
block kill9_swap scx_arbor swap /models/const_class_2.onnx
sched_stop INT

# --- stress ------------------------------------------------------------------
if [ "${ARBOR_STRESS:-1}" = 1 ]; then
	n=$(nproc)
	for variant in learn nomodel; do
		case $variant in
		learn) sched_start --learn on --model-dir /tmp/md-stress ;;
		nomodel) sched_start --no-model ;;
		esac || fail "scx_arbor ($variant) did not attach"
		block "stress:$variant" stress-ng -t 31 --aggressive -M -c "$n" -f "$n" \
			--affinity 1 --affinity-delay 1 --affinity-pin
		mark "stress_$variant" "n=$n" "state=$(scx_state)" "ops=$(scx_ops)" \
			"alive=$(sched_alive && echo 1 || echo 0)"
		status "stress_status_$variant"
		sched_stop INT
	done
fi
block dmesg dmesg
