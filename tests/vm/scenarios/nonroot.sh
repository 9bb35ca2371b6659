# The control channel serves root only: as uid 65534 `status` and `swap`
# must be refused, both by the socket's 0600 mode and, with the mode opened
# up, by the server's peer-credential check. Root is still served.
. /scenarios/_lib.sh

grep -q '^nobody:' /etc/passwd 2>/dev/null ||
	echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
sched_start --model /models/const_class_1.onnx || fail "scx_arbor did not attach"
mark socket "mode=$(stat -c %a /run/scx_arbor.sock)" "owner=$(stat -c %u /run/scx_arbor.sock)"
block nobody_status su nobody -s /bin/sh -c 'scx_arbor status --json'
chmod 666 /run/scx_arbor.sock
block nobody_status_open su nobody -s /bin/sh -c 'scx_arbor status --json'
block nobody_swap_open su nobody -s /bin/sh -c 'scx_arbor swap /models/const_class_2.onnx'
chmod 600 /run/scx_arbor.sock
status root_status
sched_stop INT
