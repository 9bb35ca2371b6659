#!/usr/bin/env bash
# Benchmark: wakeup latency of scx_arbor (with its model and with --no-model)
# against EEVDF over a grid of workload shapes, in ONE boot of the TCG VM
# (scenario tests/vm/scenarios/latency-grid.sh) with a release build:
#   wakers {1,2,4} x periods {eq: 2017; diff: 1009,2017,2503,10007} x hogs {2,4}
# Every cell is a complete `scx_arbor ab --workload latency --walk-cost` run
# (arms eevdf, arbor, arbor-nomodel, interleaved rounds). Prints a markdown
# table, one row per cell, and a count of the cells where arbor's p99 is worse
# than EEVDF's and where the model's p99 is above no-model's. Raw JSON per cell
# goes to OUT/CELL.json (the console log to OUT/vm/console.log).
#
# The VM's two vCPUs are two host threads: anything else running on the host
# (builds, other VMs) delays them and inflates every arm's latency. The script
# samples the host's CPU use outside the VM every 2 s (OUT/hostload.log) and
# shows it per cell; cells with more than 0.25 CPU of other load are flagged.
# The table also shows the share of waker periods missed (a wakeup later than
# a whole period skips deadlines: those count as missed, not as samples).
#
# Figures are emulated-VM figures: compare the arms with each other, not with
# hardware. With 3 rounds no verdict can be significant (smallest attainable
# Mann-Whitney p is 0.10); use --rounds 5 or more for verdicts.
#
# Usage: benches/vm-latency-grid.sh [--rounds R] [--duration S] [--warmup S]
#          [--cells PATTERNS] [--wakers LIST] [--sets LIST] [--hogs LIST]
#          [--order alternate|abba|random] [--smp SPEC] [--out DIR]
#          [--timeout S] [--parse-only]
#   --cells    comma-separated shell patterns over cell names wW-SET-hH
#              (e.g. 'w4-*,w1-eq-h2'); default: all
#   --smp      passed to tests/vm/run.sh (e.g. 8,sockets=2,cores=4)
#   --out      output directory (default target/latency-grid/DATE-TIME)
#   --timeout  the scenario's budget in the guest (default: from the estimate)
#   --parse-only  do not build or boot: parse OUT/vm/console.log again
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}
target=${CARGO_TARGET_DIR:-$root/target}

rounds=3 duration=3 warmup=1 cells='*' wakers=1,2,4 sets=eq,diff hogs=2,4
order=alternate smp= out= timeout= parse_only=0
usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--cells) cells=$2; shift 2 ;;
	--wakers) wakers=$2; shift 2 ;;
	--sets) sets=$2; shift 2 ;;
	--hogs) hogs=$2; shift 2 ;;
	--order) order=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--parse-only) parse_only=1; shift ;;
	-h | --help) usage ;;
	*) echo "vm-latency-grid.sh: unknown argument $1" >&2; usage ;;
	esac
done
for v in "$rounds" "$duration" "$warmup"; do
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "not a number: $v" >&2; exit 2; }
done
[ -n "$out" ] || out=$target/latency-grid/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

# The cells the guest will run (same names and filter as the scenario).
ncells=0
set -f
for w in ${wakers//,/ }; do
	for s in ${sets//,/ }; do
		for h in ${hogs//,/ }; do
			for pat in ${cells//,/ }; do
				# shellcheck disable=SC2053 # pattern match intended
				if [[ w$w-$s-h$h == $pat ]]; then
					ncells=$((ncells + 1))
					break
				fi
			done
		done
	done
done
set +f
[ $ncells -gt 0 ] || { echo "no cell matches --cells $cells" >&2; exit 2; }

if [ $parse_only = 0 ]; then
	# Per cell: 3 arms x rounds x (warm-up + duration), plus attaching and
	# detaching the scheduler (2 scheduler arms per round, ~1.7 s each measured under
	# TCG, more with 8 vCPUs) and starting ab.
	per_sched=2
	[ -z "$smp" ] || [ "${smp%%,*}" -le 2 ] || per_sched=15
	est=$(awk -v n=$ncells -v r="$rounds" -v d="$duration" -v w="$warmup" -v a=$per_sched \
		'BEGIN { printf "%d", n * (r * 3 * (w + d) + r * 2 * a + 3) }')
	[ -n "$timeout" ] || timeout=$((est * 2 + 120))
	echo "vm-latency-grid: $ncells cells x $rounds rounds x 3 arms x (${warmup}+${duration}) s;" \
		"estimate ~$((est / 60)) min $((est % 60)) s in the guest (budget ${timeout} s) + build + boot" >&2

	cargo build --release --quiet
	# Which scheduler was measured (the default model is embedded in it).
	dirty=
	git diff --quiet HEAD -- src bpf models build.rs Cargo.toml Cargo.lock 2>/dev/null || dirty=+dirty
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty," \
		"scx_arbor sha256 $(sha256sum "$target/release/scx_arbor" | cut -c1-12)," \
		"models/default.onnx sha256 $(sha256sum models/default.onnx | cut -c1-12)" >"$out/build.txt"
	mkdir -p "$target/tmp"
	smp_args=()
	[ -z "$smp" ] || smp_args=(--smp "$smp")
	# Host CPU outside the VM, every 2 s: epoch, busy ticks of all CPUs,
	# ticks of our QEMU, its pid, its start (epoch). Guest uptimes in the
	# cell marks map to host time from QEMU's start.
	tck=$(getconf CLK_TCK)
	btime=$(awk '/^btime/ { print $2 }' /proc/stat)
	(
		while :; do
			q=$(pgrep -n -f -- "^qemu-system-x86_64 .*-initrd $out/vm/initramfs.cpio" || true)
			qs="0 0"
			[ -z "$q" ] || qs=$(awk -v b="$btime" -v t="$tck" '{ printf "%d %.2f\n", $14 + $15, b + $22 / t }' "/proc/$q/stat" 2>/dev/null || echo "0 0")
			busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
			echo "$(date +%s.%N) $busy ${qs% *} ${q:-0} ${qs#* } $tck"
			sleep 2
		done
	) >"$out/hostload.log" 2>/dev/null &
	monpid=$!
	t0=$(date +%s)
	set +e
	# The VM lock: the Rust VM tests take the same one, so two TCG VMs never
	# share the two host cores.
	flock "$target/tmp/vm.lock" tests/vm/run.sh latency-grid --bin "$target/release/scx_arbor" \
		--timeout "$timeout" --quiet --out "$out/vm" "${smp_args[@]}" \
		--arg rounds="$rounds" --arg duration="$duration" --arg warmup="$warmup" \
		--arg wakers="$wakers" --arg sets="$sets" --arg hogs="$hogs" \
		--arg cells="$cells" --arg order="$order" >/dev/null
	vmrc=$?
	set -e
	kill "$monpid" 2>/dev/null || true
	wait "$monpid" 2>/dev/null || true
	echo "vm-latency-grid: VM run rc=$vmrc, $(($(date +%s) - t0)) s wall" >&2
else
	vmrc=0
fi
[ -f "$out/vm/console.log" ] || { echo "no console log in $out/vm" >&2; exit 2; }

python3 - "$out" <<'PY'
import json, os, re, sys

out = sys.argv[1]
text = open(os.path.join(out, "vm", "console.log"), "rb").read().decode("utf-8", "replace")
lines = text.replace("\r", "").split("\n")

def marks(tag):
    res = []
    for l in lines:
        if "ARBOR-MARK " not in l:
            continue
        f = l.split("ARBOR-MARK ", 1)[1].split()
        if f and f[0] == tag:
            res.append(dict(kv.split("=", 1) for kv in f[1:] if "=" in kv))
    return res

def block(name):
    """Body of the last block NAME, checked against its END counts; None if absent."""
    begin, end = f"ARBOR-BEGIN {name}", f"ARBOR-END {name} "
    starts = [i for i, l in enumerate(lines) if l.endswith(begin)]
    if not starts:
        return None
    s = starts[-1]
    for j in range(s + 1, len(lines)):
        if lines[j].startswith(end):
            body = lines[s + 1:j]
            want = dict(kv.split("=", 1) for kv in lines[j][len(end):].split() if "=" in kv)
            nl, nb = len(body), sum(len(b.encode()) + 1 for b in body)
            ok = lambda n, b: int(want.get("lines", n)) == n and int(want.get("bytes", b)) == b
            if not (ok(nl, nb) or (nl > 0 and ok(nl - 1, nb - 1))):
                raise SystemExit(f"block {name} is mangled: {nl} lines / {nb} bytes, guest sent {want}")
            return "\n".join(body)
    raise SystemExit(f"block {name} has no END line")

# Host samples: (epoch, busy ticks, qemu ticks, qemu pid, qemu start, CLK_TCK).
host = []
try:
    for l in open(os.path.join(out, "hostload.log")):
        f = l.split()
        if len(f) == 6:
            host.append((float(f[0]), float(f[1]), float(f[2]), int(f[3]), float(f[4]), float(f[5])))
except OSError:
    pass
qemus = [h for h in host if h[3]]
qpid, qstart = (qemus[-1][3], qemus[-1][4]) if qemus else (0, 0.0)

def host_other(up0_ms, up1_ms):
    """Mean host CPUs busy outside our QEMU while the guest's uptime was in [up0, up1]."""
    if not qpid:
        return None
    a, b = qstart + up0_ms / 1000, qstart + up1_ms / 1000
    other = dt = 0.0
    for p, q in zip(host, host[1:]):
        if p[3] != qpid or q[3] != qpid or not (a <= (p[0] + q[0]) / 2 <= b):
            continue
        other += ((q[1] - p[1]) - (q[2] - p[2])) / q[5]
        dt += q[0] - p[0]
    return other / dt if dt > 0 else None

def median(v):
    v = sorted(v)
    return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)

def missed_pct(doc, arm):
    v = []
    for r in doc["rounds"]:
        lat = r.get("latency")
        if r["arm"] == arm and lat:
            n = lat["missed_periods"] + lat["percentiles"]["samples"]
            if n:
                v.append(100 * lat["missed_periods"] / n)
    m = median(v)
    return "-" if m is None else f"{m:.0f}"

def fmt(x, d=2):
    return "-" if x is None else f"{x:.{d}f}"

def short(v):
    return {"better": "better", "worse": "WORSE", "no significant difference": "n.s.",
            "n/a": "n/a"}.get(v, v or "-")

rows, worse_p99, model_gt, cells_ok, errors = [], [], [], 0, []
worse_sig, model_sig, busy_cells = [], [], []
done = {m["name"]: m for m in marks("cell_done")}
for c in marks("cell"):
    name = c["name"]
    d = done.get(name, {})
    raw = block(f"json:{name}")
    if raw is None:
        errors.append(f"{name}: no JSON (rc={d.get('rc', 'none')})")
        rows.append(f"| {name} | {c['wakers']} | {c['periods']} | {c['hogs']} |" + " - |" * 13
                    + f" no result (rc={d.get('rc', 'none')}) |")
        continue
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        f.write(raw + "\n")
    doc = json.loads(raw)
    s = doc["summary"]
    cmp = {(x["arm"], x["metric"]): x for x in s["comparisons"]}
    mvn = {x["metric"]: x for x in s.get("model_vs_nomodel", [])}
    g = lambda arm, m: cmp.get((arm, m), {})
    a50, a99 = g("arbor", "lat_p50_us"), g("arbor", "lat_p99_us")
    n50, n99 = g("arbor-nomodel", "lat_p50_us"), g("arbor-nomodel", "lat_p99_us")
    m99 = mvn.get("lat_p99_us", {})
    if doc.get("error") or d.get("rc") != "0":
        errors.append(f"{name}: rc={d.get('rc')} error={doc.get('error')}")
    else:
        cells_ok += 1
    if a99.get("ratio") is not None and a99["ratio"] > 1:
        worse_p99.append(name)
    if a99.get("verdict") == "worse":
        worse_sig.append(name)
    if m99.get("verdict") == "worse":
        model_sig.append(name)
    if m99.get("ratio") is not None and m99["ratio"] > 1:
        model_gt.append(name)
    notes = []
    hl = host_other(float(c.get("up_ms", "nan")), float(d.get("up_ms", "nan"))) if "up_ms" in c and "up_ms" in d else None
    if hl is not None and hl > 0.25:
        notes.append("host busy")
        busy_cells.append(name)
    if doc.get("error"):
        notes.append("error")
    if len(doc["rounds"]) < 3 * doc["config"]["rounds"]:
        notes.append(f"{len(doc['rounds'])} arm-rounds")
    rows.append(
        f"| {name} | {c['wakers']} | {c['periods']} | {c['hogs']} "
        f"| {fmt(a50.get('median_baseline'), 0)} / {fmt(a99.get('median_baseline'), 0)} "
        f"| {fmt(a50.get('ratio'))} | {fmt(a99.get('ratio'))} "
        f"| {fmt(n50.get('ratio'))} | {fmt(n99.get('ratio'))} | {fmt(m99.get('ratio'))} "
        f"| {short(a50.get('verdict'))} / {short(a99.get('verdict'))} "
        f"| {short(n50.get('verdict'))} / {short(n99.get('verdict'))} "
        f"| {short(m99.get('verdict'))} "
        f"| {missed_pct(doc, 'eevdf')} / {missed_pct(doc, 'arbor')} / {missed_pct(doc, 'arbor-nomodel')} "
        f"| {fmt(hl)} | {', '.join(notes)} |")

grid = (marks("grid") or [{}])[-1]
cfg = None
for f in sorted(os.listdir(out)):
    if f.endswith(".json"):
        cfg = json.load(open(os.path.join(out, f)))
        break
if cfg:
    cc = cfg["config"]
    print(f"wakeup-latency grid: {cc['rounds']} rounds x 3 arms (eevdf, arbor, arbor-nomodel), "
          f"{cc['duration']} s measured after {cc['warmup']} s warm-up, order {cc['order']}, "
          f"burst {cc['burst_us']} µs, kernel {cfg['kernel']}, {cfg['nr_cpus']} CPUs; "
          f"grid {int(grid.get('ms', 0)) / 1000:.0f} s in the guest")
    if os.path.exists(os.path.join(out, "build.txt")):
        print("build: " + open(os.path.join(out, "build.txt")).read().strip())
    print()
print("Ratios are medians over rounds (arm / baseline; < 1: arm lower). "
      "Verdicts: better/WORSE only if the bootstrap 95% CI excludes 1 and Mann-Whitney p < 0.05; n.s. otherwise.")
print()
print("| cell | wakers | periods µs | hogs | EEVDF p50 / p99 µs | arbor/EEVDF p50 | arbor/EEVDF p99 "
      "| nomodel/EEVDF p50 | nomodel/EEVDF p99 | model/nomodel p99 | arbor verdict p50 / p99 "
      "| nomodel verdict p50 / p99 | model vs nomodel p99 | missed % e/a/n | host other CPUs | notes |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(r)
print()
n = len(rows)
print(f"arbor p99 worse than EEVDF (ratio > 1): {len(worse_p99)} of {n} cells"
      + (f" ({', '.join(worse_p99)})" if worse_p99 else "")
      + f"; model p99 > nomodel p99: {len(model_gt)} of {n} cells"
      + (f" ({', '.join(model_gt)})" if model_gt else "")
      + f". Significant: arbor p99 WORSE in {len(worse_sig)}, model p99 WORSE than nomodel in {len(model_sig)}."
      + (f" Host busy (> 0.25 CPU outside the VM) during {len(busy_cells)} cells." if busy_cells else ""))
for e in errors:
    print(f"error: {e}", file=sys.stderr)
PY
echo "raw JSON per cell: $out/*.json; console: $out/vm/console.log" >&2
[ "$vmrc" = 0 ] || echo "vm-latency-grid: the VM run ended with rc=$vmrc (see the console)" >&2
exit "$vmrc"
