#!/usr/bin/env bash
# Regenerate the default model: record outcome samples in the VM under varied
# workloads (tests/vm/scenarios/record-mix.sh), then train a tree on them
# with `scx_arbor model train`. Writes models/default.onnx,
# models/default.samples.csv.gz (the samples) and models/default.train.txt
# (the training report quoted in models/README.md).
#
# Usage: [ARBOR_BIN=PATH] models/make-default.sh [--phase-secs N] [--out-dir DIR]
#   (needs what tests/run-all.sh needs; --out-dir writes the three files
#   there instead of models/, for a candidate that is not yet the default)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BPF_CLANG=${BPF_CLANG:-clang-19}
phase_secs=8
dest=models
while [ $# -gt 0 ]; do
	case $1 in
	--phase-secs) phase_secs=$2; shift 2 ;;
	--out-dir) dest=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$dest"

# ARBOR_BIN=PATH: use that scx_arbor (and the scx_arbor_tools beside it)
# instead of building the release binaries.
if [ -n "${ARBOR_BIN:-}" ]; then
	bin=$ARBOR_BIN
else
	cargo build --release
	bin=$root/target/release/scx_arbor
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/arbor-default.XXXXXX")
# One TCG guest at a time: the VM tests take the same lock.
mkdir -p "$root/target/tmp"
flock "$root/target/tmp/vm.lock" tests/vm/run.sh record-mix --bin "$bin" --timeout 600 --quiet --out "$work/vm" \
	--arg phase_secs="$phase_secs"
console=$work/vm/console.log
# The base64 text sits between the ARBOR-BEGIN/END lines of block csv.gz.b64.
awk '/ARBOR-BEGIN csv.gz.b64/ {on=1; next} /ARBOR-END csv.gz.b64/ {on=0} on' "$console" |
	tr -d '\r' | base64 -d | gunzip >"$work/samples.csv"
grep 'ARBOR-MARK phase' "$console" | sed 's/.*ARBOR-MARK //' >"$work/phases.txt"
echo "recorded $(($(wc -l <"$work/samples.csv") - 1)) samples in $work/samples.csv"

gzip -9 -c "$work/samples.csv" >"$dest"/default.samples.csv.gz
{
	echo "# recorded by tests/vm/scenarios/record-mix.sh (models/make-default.sh), $(date -u +%Y-%m-%d), 2-vCPU TCG VM, kernel 7.3.4+deb13-cloud-amd64"
	echo "# workload phases:"
	sed 's/^phase /#   /' "$work/phases.txt"
	"$bin" model train --csv "$work/samples.csv" --out "$dest"/default.onnx \
		--max-depth 8 --min-samples-leaf 50 | grep -v '^wrote'
} >"$dest"/default.train.txt
cat "$dest"/default.train.txt
"$bin" model verify "$dest"/default.onnx
echo "wrote $dest/default.onnx, $dest/default.train.txt, $dest/default.samples.csv.gz"
