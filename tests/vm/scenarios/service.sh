# scx_arbor run the way dist/scx_arbor.service runs it (EnvironmentFile,
# ExecStart, SIGINT), its scx_stats server read by a generic client (socat
# and plain JSON lines), --monitor, and one run per scx_loader mode of
# dist/scx_loader.toml started through the unit with the mode's flags.
# Files: /etc/systemd/system/scx_arbor.service, /etc/default/scx_arbor,
# /etc/scx_loader/config.toml, socat (and its libraries).
. /scenarios/_lib.sh

UNIT=/etc/systemd/system/scx_arbor.service
LOADER=/etc/scx_loader/config.toml
STATS_SOCK=/var/run/scx/root/stats
need_file "$UNIT"
need_file /etc/default/scx_arbor
need_file "$LOADER"
command -v socat >/dev/null || fail "socat is not in the initramfs"

envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$UNIT")
exec_line=$(sed -n 's/^ExecStart=//p' "$UNIT")
[ -n "$envfile" ] && [ -n "$exec_line" ] || fail "no EnvironmentFile= or ExecStart= in $UNIT"
unit_bin=${exec_line%% *}
mark unit "envfile=$envfile" "bin=$unit_bin" "kill_signal=$(sed -n 's/^KillSignal=//p' "$UNIT")"
# Installed where the unit expects it.
if [ ! -x "$unit_bin" ]; then
	mkdir -p "$(dirname "$unit_bin")"
	ln -s "$(command -v scx_arbor)" "$unit_bin"
fi

# What systemd does with the unit: read EnvironmentFile, expand $VAR in
# ExecStart split at whitespace. Prints the argv, one word per line.
unit_argv() (
	set -a
	. "$envfile"
	set +a
	eval "set -- $exec_line"
	for w in "$@"; do echo "$w"; done
)

# unit_start: start the unit's argv through sched_start (which waits for
# sched_ext to be enabled and marks attach state= ops=).
unit_start() {
	unit_argv >/tmp/argv || fail "cannot expand ExecStart"
	mark execstart "argv=$(tr '\n' ',' </tmp/argv)"
	# sched_start runs `scx_arbor ARGS &`: make that exec the unit's argv.
	scx_arbor() { exec "$@"; }
	# shellcheck disable=SC2046 # one word per line, no whitespace inside
	sched_start $(cat /tmp/argv)
	_rc=$?
	unset -f scx_arbor
	return $_rc
}

# ---- the unit with /etc/default/scx_arbor as shipped ----
unit_start || fail "scx_arbor did not attach when started as the unit does"
load_start 14
sleep 2
status status_before
# A generic scx_stats client: one connection, stats_meta, stats, then
# (after the control socket's counters are read) stats again.
{
	echo '{"req":"stats_meta","args":{}}'
	echo '{"req":"stats","args":{}}'
	sleep 1
	scx_arbor status --json >/tmp/status_mid 2>&1
	sleep 2
	echo '{"req":"stats","args":{}}'
	sleep 1
} | socat -t 5 - "UNIX-CONNECT:$STATS_SOCK" >/tmp/client.out 2>&1
mark client "rc=$?" "socket_mode=$(stat -c %a "$STATS_SOCK" 2>/dev/null || echo none)"
status status_end
block status_mid cat /tmp/status_mid
block stats_client cat /tmp/client.out
block monitor timeout -s INT 6 scx_arbor --monitor 1
block help_stats scx_arbor --help-stats
load_wait
sched_stop "$(sed -n 's/^KillSignal=SIG//p' "$UNIT")"
mark after "state=$(scx_state)" "ops=$(scx_ops)" "stats_socket=$([ -S "$STATS_SOCK" ] && echo 1 || echo 0)"

# ---- one run per scx_loader mode, flags in /etc/default/scx_arbor ----
for mode in auto gaming lowlatency powersave server; do
	flags=$(sed -n "s/^${mode}_mode = \[\(.*\)\]\$/\1/p" "$LOADER" | tr -d '",')
	grep -q "^${mode}_mode = \[" "$LOADER" || fail "no ${mode}_mode in $LOADER"
	echo "SCX_ARBOR_FLAGS=\"$flags --stats 1\"" >/etc/default/scx_arbor
	mark mode "name=$mode"
	# Keep this run's log after sched_stop has shown and removed it.
	ln -sf "/tmp/mode-$mode.log" "$LOGS/sched.log"
	unit_start || fail "scx_arbor did not attach in mode $mode"
	load_start 3
	sleep 4
	load_wait
	sched_stop INT
	block "log:mode:$mode" cat "/tmp/mode-$mode.log"
done
