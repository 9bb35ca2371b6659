# --record-dir under load: scx_arbor --no-model records into /tmp/rec with a
# new file every arbor.rotate_secs (default 2) while the load runs for
# arbor.load_secs (default 7), then SIGINT. Marks: uname host= kernel=;
# dir files= parts= (closed .csv.gz files and .part files left after the
# exit); one mark file name= rows= (data rows, header excluded) per closed
# file and its first two lines as block head:NAME (gunzipped by busybox, an
# independent reader of the gzip stream); the scheduler's log (with its
# exit totals) is dumped by sched_stop. Block status_end: the status before
# the exit.
. /scenarios/_lib.sh

dir=/tmp/rec
rotate=${ARBOR_ROTATE_SECS:-2}
mark uname "host=$(uname -n)" "kernel=$(uname -r)"
sched_start --no-model --record-dir "$dir" --record-rotate-secs "$rotate" \
	--record-workload "vm test" --sample-every 1 ||
	fail "scx_arbor --record-dir did not attach"
load_start "${ARBOR_LOAD_SECS:-7}"
load_wait
status status_end
sched_stop INT
files=$(find "$dir" -name 'arbor-*.csv.gz' | sort)
parts=$(find "$dir" -name '*.part' | wc -l)
mark dir "files=$(echo "$files" | grep -c .)" "parts=$parts"
for f in $files; do
	name=$(basename "$f")
	mark file "name=$name" "rows=$(($(gunzip -c "$f" | wc -l) - 1))"
	block "head:$name" sh -c "gunzip -c '$f' | head -n 2"
done
mark done "state=$(scx_state)"
