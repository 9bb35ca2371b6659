#!/usr/bin/env bash
# Does the model beat the heuristic? `scx_arbor ab` in the VM (QEMU/TCG:
# software emulation, not hardware) with the arms eevdf, arbor (the shipped
# model), arbor-heuristic (--heuristic: the class of the average burst),
# arbor-nomodel (--no-model) and arbor-oracle (an oracle build fed by the
# workload), interleaved round by round, on a grid of cells. Writes one
# ab JSON per cell and a markdown table of the headline figures: per arm
# the median, and the model's and the oracle's ratios to the heuristic with
# the Mann-Whitney p of the comparison.
#
# Usage: benches/vm-baselines-grid.sh [--rounds N] [--duration S] [--cells LIST]
#          [--out DIR] [--oracle-bin PATH] [--model FILE] [--guard]
#          [--published LIST]
#   --cells       comma-separated cell names (default: all, see CELLS below)
#   --oracle-bin  an oracle build to use instead of building one
#   --model       the model the model arm runs (and the oracle arm falls
#                 back to) instead of the shipped one: an ONNX file
#   --guard       one more arm, guarded: the model arm with --guard on
#   --published   published sched_ext schedulers as more arms, by name
#                 (e.g. cosmos,pandemonium): built from crates.io at the
#                 versions pinned in benches/published.sh, into
#                 target/scx-published, and run with their default options
# Needs what tests/run-all.sh needs; builds scx_arbor (debug) twice, once
# with --features oracle. One cell takes about (arms x rounds x workloads x
# (warm-up + duration) + attach) seconds of VM time: ~5 min at the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}

rounds=3
duration=3
cells_wanted=
oracle_bin=
model=
guard=0
published=
out=${TMPDIR:-/tmp}/arbor-baselines-$(date -u +%Y%m%dT%H%M%S)
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--cells) cells_wanted=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--oracle-bin) oracle_bin=$2; shift 2 ;;
	--model) model=$2; shift 2 ;;
	--guard) guard=1; shift ;;
	--published) published=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done

# name|smp|workloads|extra ab options (words joined by +)
CELLS=(
	"mix-2cpu|2|requests,fanout,phases,latency|--load+0.25"
	"requests-busy-2cpu|2|requests|--load+0.4+--long-share+0.2"
	"requests-runs-2cpu|2|requests|--load+0.3+--long-runs+4"
	"requests-sticky-2cpu|2|requests|--load+0.3+--long-share+0.2+--long-runs+8+--long-runs-p+0.9"
	"fanout-wide-2cpu|2|fanout|--batch+2,8+--batch-p+0.5,0.5"
	"mix-8cpu-2llc|8,sockets=2,cores=4|requests,fanout,phases,latency|--load+0.25"
)
ARMS=eevdf,default,heuristic,nomodel,oracle

mkdir -p "$out"
echo "results in $out"
bin_dir=$out/bin
mkdir -p "$bin_dir"
if [ -n "$oracle_bin" ]; then
	cp "$oracle_bin" "$bin_dir/scx_arbor_oracle"
else
	cargo build --features oracle --bin scx_arbor
	cp target/debug/scx_arbor "$bin_dir/scx_arbor_oracle"
fi
cargo build --bin scx_arbor --bin scx_arbor_tools
git rev-parse --short HEAD >"$out/commit" 2>/dev/null || true
model_opts=()
if [ -n "$model" ]; then
	[ -f "$model" ] || { echo "no model file $model" >&2; exit 2; }
	cp "$model" "$out/model.onnx"
	model_opts=(--file "$model:/models/grid.onnx" --arg sched_args=--model+/models/grid.onnx)
fi
other=
if [ "$guard" = 1 ]; then
	other=guarded:/usr/bin/scx_arbor+--guard+on
	[ -n "$model" ] && other=$other+--model+/models/grid.onnx
fi
published_bins=()
if [ -n "$published" ]; then
	. "$root/benches/published.sh"
	pub_dir=${CARGO_TARGET_DIR:-$root/target}/scx-published
	for name in ${published//,/ }; do
		published_install "$pub_dir" "scx_$name" "$(published_version "$name")"
		"$pub_dir/bin/scx_$name" --version >>"$out/build.txt"
		published_bins+=(--bin "$pub_dir/bin/scx_$name")
		other="$other${other:+,}$name:/usr/bin/scx_$name"
	done
fi
[ -n "$other" ] && model_opts+=(--arg other="$other")
nr_arms=$((5 + guard + ${#published_bins[@]} / 2))

for cell in "${CELLS[@]}"; do
	IFS='|' read -r name smp workloads extra <<<"$cell"
	if [ -n "$cells_wanted" ] && ! echo ",$cells_wanted," | grep -q ",$name,"; then
		continue
	fi
	echo "=== cell $name (smp $smp, $workloads, $extra) $(date -u +%H:%M:%S)"
	cpus=${smp%%,*}
	budget=$((rounds * nr_arms * (duration + 1 + 6) * $(echo "$workloads" | tr ',' '\n' | wc -l) + 240))
	[ "$cpus" -gt 2 ] && budget=$((budget * 2))
	rc=0
	tests/vm/run.sh ab --bin target/debug/scx_arbor --bin "$bin_dir/scx_arbor_oracle" \
		"${published_bins[@]}" \
		--smp "$smp" --timeout "$budget" --out "$out/$name" --quiet \
		--arg rounds="$rounds" --arg duration="$duration" --arg warmup=1 \
		--arg workload="$workloads" --arg arms="$ARMS" \
		--arg oracle_exe=/usr/bin/scx_arbor_oracle --arg extra="$extra" \
		"${model_opts[@]}" || rc=$?
	c=$out/$name/console.log
	awk '/ARBOR-BEGIN json/ {on=1; next} /ARBOR-END json/ {on=0} on' "$c" | tr -d '\r' >"$out/$name.json"
	awk '/ARBOR-BEGIN table/ {on=1; next} /ARBOR-END table/ {on=0} on' "$c" | tr -d '\r' >"$out/$name.txt"
	[ "$rc" = 0 ] && [ -s "$out/$name.json" ] || echo "cell $name: run.sh rc=$rc, JSON $(wc -c <"$out/$name.json") bytes"
done

python3 "$root/benches/baselines-table.py" "$out"/*.json | tee "$out/table.md"
