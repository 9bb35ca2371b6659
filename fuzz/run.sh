#!/usr/bin/env bash
# Build the fuzz targets with libFuzzer's coverage instrumentation on the
# scx_arbor library (stable toolchain, no cargo-fuzz needed; set
# CARGO_TARGET_DIR to the tests' target directory to reuse its build) and run each for SECS seconds (default
# 600) at nice 19, one at a time. The hand-written seeds (fuzz/seeds/TARGET)
# and the committed corpus (fuzz/corpus/TARGET) start each run; new inputs go
# to fuzz/work/TARGET. `--merge` replaces the corpus with a smallest set of
# inputs covering every edge reached (libFuzzer's set-cover merge on edge
# coverage alone, to keep the committed corpus small). Crashes land in
# fuzz/artifacts/TARGET/.
#   fuzz/run.sh [--merge] [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx_import csv_rows control_request)
export BPF_CLANG=${BPF_CLANG:-clang-19}
# Same dependency versions as the scheduler's own build.
[ -f Cargo.lock ] || cp ../Cargo.lock Cargo.lock
export RUSTC_WRAPPER=$PWD/rustc-wrapper.sh
nice -n 19 cargo build --bins
bin=${CARGO_TARGET_DIR:-target}/debug
for t in "${targets[@]}"; do
	c=corpus/$t
	w=work/$t
	mkdir -p "$c" "$w" "artifacts/$t"
	echo "=== $t: ${secs} s"
	nice -n 19 "$bin/$t" -max_total_time="$secs" -print_final_stats=1 \
		-max_len=65536 -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" "$w" "$c" "seeds/$t" 2>&1 |
		tee "work/$t.log" | grep -E '^(#[0-9]+.*(INITED|DONE|pulse))|stat::|ERROR|panicked' || true
	if [ "$merge" = 1 ]; then
		rm -rf "work/$t.merged"
		mkdir -p "work/$t.merged"
		nice -n 19 "$bin/$t" -set_cover_merge=1 -use_cmp=0 -use_counters=0 \
			"work/$t.merged" "$c" "$w" 2>&1 | tail -n 1
		rm -rf "$c"
		mv "work/$t.merged" "$c"
	fi
done
