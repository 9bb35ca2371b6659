#!/usr/bin/env bash
# The project's whole check: formatting, clippy, and every test including
# the VM tests (they boot QEMU; see tests/vm/). Needs the host dependencies
# (tests/vm/install-host-deps.sh) and a guest kernel (tests/vm/fetch-kernel.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export BPF_CLANG=${BPF_CLANG:-clang-19}

step() { echo "=== $* ($(date -u +%H:%M:%S))"; }

step cargo fmt --check
cargo fmt --check

step cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
	step cargo nextest run --all-targets
	cargo nextest run --all-targets --profile "${NEXTEST_PROFILE:-ci}"
else
	step "cargo test --all-targets (cargo-nextest not installed)"
	cargo test --all-targets --no-fail-fast
fi
step done
