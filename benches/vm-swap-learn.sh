#!/usr/bin/env bash
# Benchmark: model swap latency (swap command -> the BPF side deciding with
# the new generation), retraining time per candidate and the daemon's CPU
# share (whole process and per thread), measured in the 2-vCPU TCG VM under
# hackbench + stress-ng with a release build. Prints a markdown table.
# Figures are emulated-VM figures: compare them with each other, not with
# hardware.
#
# Usage: benches/vm-swap-learn.sh [SWAPS] [STEADY_SECS]
#   ARBOR_BIN=path/to/scx_arbor  measure that binary instead of building
#                                (e.g. an older commit's, for before/after)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}
swaps=${1:-100}
steady=${2:-30}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${ARBOR_BIN:-}
if [ -z "$bin" ]; then
	cargo build --release --quiet
	bin=$target/release/scx_arbor
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/arbor-bench.XXXXXX")
mkdir -p "$target/tmp"
# The VM lock: the Rust VM tests take the same one (one TCG VM at a time).
flock "$target/tmp/vm.lock" tests/vm/run.sh bench-swap-learn --bin "$bin" --timeout 600 --quiet \
	--out "$out" --arg swaps="$swaps" --arg steady_secs="$steady" >/dev/null
python3 - "$out/console.log" <<'PY'
import json, re, statistics, sys

text = open(sys.argv[1], errors="replace").read()
lines = [l.split("ARBOR-MARK ", 1)[1].split() for l in text.splitlines() if "ARBOR-MARK " in l]
tags = [l[0] for l in lines]
marks = [dict(kv.split("=", 1) for kv in l[1:] if "=" in kv) for l in lines]
swaps = [m for t, m in zip(tags, marks) if t == "swap"]
inst = sorted(int(m["install_us"]) for m in swaps if m["install_us"].isdigit())
vis = sorted(int(m["visible_us"]) for m in swaps if m["visible_us"].isdigit())
steady = [m for t, m in zip(tags, marks) if t == "steady"][0]
block = re.search(r"ARBOR-BEGIN status_end\n(.*?)\nARBOR-END status_end", text, re.S).group(1)
status = json.loads(block.strip().splitlines()[-1])

def pct(xs, p):
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")

secs = int(steady["ms"]) / 1000
hz = int(steady["user_hz"])
share = int(steady["ticks"]) / hz / secs
trained = status["learn_eval_train_rows"] > 0
print(f"| metric | value |\n|---|---|")
print(f"| swaps answered | {len(swaps)} ({len(inst)} with timings) |")
if inst:
    print(f"| install (compile + map fill + slot swap), p50 / p99 / max | {pct(inst,50)} / {pct(inst,99)} / {max(inst)} µs |")
if vis:
    print(f"| swap command to BPF deciding with it, p50 / p99 / max | {pct(vis,50)} / {pct(vis,99)} / {max(vis)} µs |")
print(f"| torn reads | {status['torn_reads']} |")
print(f"| retrain per candidate (last: {status['learn_eval_train_rows'] if trained else '-'} rows) | {status['learn_eval_train_ms'] if trained else float('nan'):.0f} ms |")
print(f"| candidates trained / promoted / rejected | {status['learn_candidates']} / {status['learn_promoted']} / {status['learn_rejected']} |")
print(f"| samples reaching the learner | {status['learn_samples_per_sec']:.0f} /s (queue drops {status['learn_dropped']}, ring drops {status['samples_dropped']}) |")
print(f"| daemon CPU at steady state, learning on | {share * 100:.1f} % of one CPU ({steady['ticks']} ticks in {secs:.0f} s, {steady['nr_cpus']} CPUs) |")
t0 = [m for t, m in zip(tags, marks) if t == "threads_start"]
t1 = [m for t, m in zip(tags, marks) if t == "threads_end"]
if t0 and t1:
    for name in sorted(t1[0]):
        d = int(t1[0][name]) - int(t0[0].get(name, 0))
        print(f"| thread {name} | {d / hz / secs * 100:.1f} % of one CPU |")
PY
echo "console: $out/console.log"
