#!/usr/bin/env bash
# Install what building scx_arbor and booting its VM tests need on a Debian 12
# (bookworm) host: the BPF toolchain, the guest's userspace (busybox, workloads),
# Chromium for the plot test and QEMU 10 from bookworm-backports through a
# private apt configuration.
# Idempotent; run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || die "install-host-deps.sh must run as root (it calls apt-get install)"

# chromium: tests/plot_browser.rs renders `ab --plot`'s SVG in it (headless),
# with a font for its text whatever apt's Recommends setting is. bpftool:
# tests/vm_hardcases.rs copies it into the guest to count the kernel's BPF
# maps and programs.
base_pkgs=(clang-19 libclang-19-dev llvm-19 libelf-dev zlib1g-dev pkg-config
	busybox-static cpio stress-ng rt-tests python3-venv socat chromium
	fonts-dejavu-core bpftool)
missing=()
for p in "${base_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# QEMU: bookworm's 7.2 was never validated with this kernel; 10.0 from
# bookworm-backports is. Install it with a private apt config.
if ! qemu-system-x86_64 --version 2>/dev/null | grep -qE 'version (9|1[0-9])\.'; then
	apt_dir="$ARBOR_CACHE/apt-bookworm-backports"
	private_apt_init "$apt_dir" bookworm bookworm-updates bookworm-backports
	DEBIAN_FRONTEND=noninteractive private_apt "$apt_dir" install -y -qq \
		-t bookworm-backports qemu-system-x86 >/dev/null
fi
qemu-system-x86_64 --version | head -1
clang-19 --version | head -1

# The Python example's venv (tests/example_python.rs), cached.
"$here/install-python-env.sh"
