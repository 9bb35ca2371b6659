# --record writes one CSV row per sampled burst. Prints the row count and an
# evenly spaced sample of at most arbor.rows (default 3000) rows, header first.
# Args: arbor.model=NAME (default: --no-model; "embedded": the model built
# into the binary), arbor.load_secs (default 6).
. /scenarios/_lib.sh

csv=/tmp/s.csv
if [ "${ARBOR_MODEL:-}" = embedded ]; then
	set --
elif [ -n "${ARBOR_MODEL:-}" ]; then
	need_file "/models/$ARBOR_MODEL.onnx"
	set -- --model "/models/$ARBOR_MODEL.onnx"
else
	set -- --no-model
fi
sched_start "$@" --record "$csv" --sample-every 1 || fail "scx_arbor did not attach"
load_start "${ARBOR_LOAD_SECS:-6}"
load_wait
status status_end
sched_stop INT
[ -f "$csv" ] || fail "no $csv after the scheduler exited"
rows=$(($(wc -l <"$csv") - 1))
max=${ARBOR_ROWS:-3000}
step=$(((rows + max - 1) / max))
[ "$step" -ge 1 ] || step=1
mark csv "rows=$rows" "bytes=$(wc -c <"$csv")" "step=$step"
block csv awk -v step="$step" 'NR == 1 || (NR - 2) % step == 0' "$csv"
