#!/bin/sh
# RUSTC_WRAPPER for fuzz/run.sh: adds libFuzzer's coverage instrumentation
# to the code under test only (scx_arbor and the crates the targets reach:
# arbor-model, arbor-proto), so the dependencies
# are built exactly as for the tests and their build is reused.
rustc=$1
shift
case " $* " in
*" --crate-name scx_arbor "* | *" --crate-name arbor_model "* | *" --crate-name arbor_proto "*)
	exec "$rustc" "$@" -Cpasses=sancov-module \
		-Cllvm-args=-sanitizer-coverage-level=4 \
		-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
		-Cllvm-args=-sanitizer-coverage-pc-table \
		-Cllvm-args=-sanitizer-coverage-trace-compares
	;;
esac
exec "$rustc" "$@"
