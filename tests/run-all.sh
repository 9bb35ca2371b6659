#!/usr/bin/env bash
# The project's whole check, runnable on a fresh Debian 12 machine:
# host dependencies (as root), the pinned guest kernel, then formatting,
# clippy, and every test including the VM tests (they boot QEMU; see
# tests/vm/). A VM test that cannot run fails; none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export BPF_CLANG=${BPF_CLANG:-clang-19}
t0=$(date +%s)

step() { echo "=== $* ($(date -u +%H:%M:%S))"; }

step host dependencies
if [ "$(id -u)" = 0 ]; then
	tests/vm/install-host-deps.sh
else
	echo "not root: assuming tests/vm/install-host-deps.sh has been run"
fi

step guest kernel
tests/vm/fetch-kernel.sh

step cargo fmt --check
cargo fmt --check

step cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
	# Unit, integration and VM tests. Benchmarks are not tests: clippy
	# above compiles them; run them with cargo bench / benches/*.sh.
	step cargo nextest run
	cargo nextest run --profile "${NEXTEST_PROFILE:-ci}"
else
	step "cargo test (cargo-nextest not installed)"
	cargo test --no-fail-fast
fi
step "done in $(($(date +%s) - t0)) s"
