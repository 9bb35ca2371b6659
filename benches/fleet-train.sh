#!/usr/bin/env bash
# arbor_fleet at fleet scale: train on N synthetic samples (default 10
# million) with --engine dask (a 2-worker LocalCluster) and --engine local,
# and report each run's time per million rows and the peak RSS of its whole
# process tree (python -m arbor_fleet.measure samples every descendant's RSS
# every 0.2 s).
#
# The samples are drawn from the recorded fixture hosts
# (python/arbor_fleet/tests/fixtures/hosts): `arbor_fleet synth`, a smoothed
# bootstrap per host (see python/arbor_fleet/synth.py), 12 synthetic hosts of
# 250,000-row gzip files in the proposed directory-mode format. 3 of the 12
# hosts are held out (leave-hosts-out), so 3/4 of the rows are trained on.
#
# Usage: benches/fleet-train.sh [--rows N] [--out DIR] [--engines dask,local,spark]
# Needs ARBOR_BIN (default target/release/scx_arbor). Runs under nice 10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=10000000 out= engines=dask,local
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--engines) engines=$2; shift 2 ;;
	*) echo "usage: fleet-train.sh [--rows N] [--out DIR] [--engines dask,local,spark]" >&2; exit 2 ;;
	esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/arbor-fleet-bench.XXXXXX")}
export ARBOR_BIN=${ARBOR_BIN:-$root/target/release/scx_arbor}
[ -x "$ARBOR_BIN" ] || { echo "fleet-train.sh: no scx_arbor at $ARBOR_BIN (build it or set ARBOR_BIN)" >&2; exit 1; }
venv=$("$root/python/arbor_fleet/install.sh" | tail -n 1)
py=$venv/bin/python
cd "$root/python"
mkdir -p "$out"

if [ ! -f "$out/synth/.done-$rows" ]; then
	rm -rf "$out/synth"
	t0=$(date +%s)
	nice -n 10 "$py" -m arbor_fleet synth --samples "$root/python/arbor_fleet/tests/fixtures/hosts/*/samples.csv.gz" \
		--rows "$rows" --hosts 12 --rows-per-file 250000 --out "$out/synth" >"$out/synth.log"
	echo "synth: $rows rows in $(($(date +%s) - t0)) s, $(du -sm "$out/synth" | cut -f1) MB on disk" | tee -a "$out/summary.txt"
	touch "$out/synth/.done-$rows"
fi

{
	echo "host: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "scx_arbor: $("$ARBOR_BIN" --version)"
} | tee -a "$out/summary.txt"
for e in ${engines//,/ }; do
	nice -n 10 "$py" -m arbor_fleet.measure --out "$out/$e.measure.json" -- \
		"$py" -m arbor_fleet train --samples "$out/synth/*/*.csv.gz" --engine "$e" \
		--holdout-share 0.25 --out "$out/$e/model.onnx" >"$out/$e.log" 2>&1 ||
		{ echo "fleet-train.sh: --engine $e failed, see $out/$e.log" >&2; tail -20 "$out/$e.log" >&2; exit 1; }
	"$py" - "$out/$e" "$out/$e.measure.json" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1] + "/model.report.json"))
m = json.load(open(sys.argv[2]))
t = r["timings_s"]
rows = r["samples"]["rows"]
trained = sum(h["rows"] for h in r["hosts"].values() if h["role"] == "train")
print(f"{r['engine']['engine']:>5}: {rows:,} rows ({trained:,} trained on) | wall {m['wall_s']:.0f} s = "
      f"{m['wall_s'] / rows * 1e6:.1f} s per million rows, CPU (sampled) {m['cpu_s_sampled']:.0f} s = "
      f"{m['cpu_s_sampled'] / rows * 1e6:.1f} s per million rows, CPU (wait4) {m['cpu_s']:.0f} s "
      f"(load average after: {m['load_avg_after'][0]:.1f}) | read+count {t['read_and_count']:.0f} s, "
      f"train {t['train']:.0f} s ({t['train'] / trained * 1e6:.1f} s per million trained rows), "
      f"score {t['score']:.0f} s, verify {t['verify']:.0f} s | peak RSS of the process tree "
      f"{m['peak_tree_rss_mib']:,.0f} MiB (largest process {m['peak_single_process_rss_mib']:,.0f} MiB) | "
      f"held-out score {r['scores']['holdout']['score']:.2f} | {r['model']['summary']}")
PY
done
echo "results in $out (summary.txt, ENGINE.log, ENGINE/model.report.md)"
