#!/usr/bin/env bash
# Print the path of a verified guest vmlinuz for the VM tests. Its config is
# always next to it as config-$KVER (KVER from tests/vm/kernel.sha256).
#
# Sources, in order (every file is checked against tests/vm/kernel.sha256):
#   1. $ARBOR_KERNEL (a bzImage) and $ARBOR_KERNEL_CONFIG (default: config-$KVER
#      or config next to it). ARBOR_KERNEL_UNPINNED=1 accepts another kernel.
#   2. the cache, $ARBOR_CACHE/kernel/
#   3. Debian trixie-backports through a private apt configuration: the exact
#      packages linux-binary-unsigned-$KVER (vmlinuz) and linux-base-$KVER
#      (config); never a meta-package. ARBOR_OFFLINE=1 skips this step.
#   4. $ARBOR_SHARED_KERNELS, then ../shared/kernels/ beside the repository.
# Before all of these: ARBOR_KERNEL_LINE=LINE (not "pinned") hands over to
# kernel-line.sh, a kernel of the kernel matrix (docs/kernels.md).
# Usage: fetch-kernel.sh [--kver]   (--kver prints the pinned kernel version)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(repo_root)

# 0. ARBOR_KERNEL_LINE=6.12 (etc.): a kernel of the kernel matrix, built by
#    tests/vm/build-kernel.sh and checked against tests/vm/kernel-matrix.sha256
#    (tests/vm/kernel-line.sh). Unset or "pinned": everything below, unchanged.
if [ -n "${ARBOR_KERNEL_LINE:-}" ] && [ "$ARBOR_KERNEL_LINE" != pinned ]; then
	[ -z "${ARBOR_KERNEL:-}" ] || die "set ARBOR_KERNEL or ARBOR_KERNEL_LINE, not both"
	exec "$here/kernel-line.sh" "$@"
fi

pins="$here/kernel.sha256"
KVER=$(sed -n 's/^[0-9a-f]\{64\}  vmlinuz-//p' "$pins")
[ -n "$KVER" ] || die "no vmlinuz-* line in $pins"
if [ "${1:-}" = --kver ]; then
	echo "$KVER"
	exit 0
fi
pin_of() { awk -v f="$1" '$2 == f { print $1 }' "$pins"; }
VMLINUZ_SHA=$(pin_of "vmlinuz-$KVER")
CONFIG_SHA=$(pin_of "config-$KVER")
[ -n "$CONFIG_SHA" ] || die "no config-$KVER line in $pins"

log() { echo "fetch-kernel: $*" >&2; }
tried=()

# good FILE SHA: FILE exists and has the pinned hash.
good() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

# 1. explicit override
if [ -n "${ARBOR_KERNEL:-}" ]; then
	[ -f "$ARBOR_KERNEL" ] || die "ARBOR_KERNEL=$ARBOR_KERNEL does not exist"
	kdir=$(cd "$(dirname "$ARBOR_KERNEL")" && pwd)
	cfg=${ARBOR_KERNEL_CONFIG:-}
	if [ -z "$cfg" ]; then
		for c in "$kdir/config-$KVER" "$kdir/config"; do
			[ -f "$c" ] && cfg=$c && break
		done
	fi
	[ -n "$cfg" ] && [ -f "$cfg" ] ||
		die "ARBOR_KERNEL is set but no kernel config was found: set ARBOR_KERNEL_CONFIG (the guest needs /boot/config-\$(uname -r))"
	if [ "${ARBOR_KERNEL_UNPINNED:-0}" = 1 ]; then
		log "WARNING: ARBOR_KERNEL_UNPINNED=1: $ARBOR_KERNEL is not checked against $pins"
	else
		good "$ARBOR_KERNEL" "$VMLINUZ_SHA" ||
			die "ARBOR_KERNEL=$ARBOR_KERNEL does not match the pinned sha256 of vmlinuz-$KVER in $pins (set ARBOR_KERNEL_UNPINNED=1 to use another kernel on purpose)"
		good "$cfg" "$CONFIG_SHA" ||
			die "kernel config $cfg does not match the pinned sha256 of config-$KVER in $pins"
	fi
	# Stage both side by side under the names the rest of the harness expects.
	odir="$ARBOR_CACHE/kernel-override"
	mkdir -p "$odir"
	ln -sfn "$(realpath "$ARBOR_KERNEL")" "$odir/vmlinuz-$KVER"
	ln -sfn "$(realpath "$cfg")" "$odir/config-$KVER"
	echo "$odir/vmlinuz-$KVER"
	exit 0
fi

cdir="$ARBOR_CACHE/kernel"
mkdir -p "$cdir"
vmlinuz="$cdir/vmlinuz-$KVER"
config="$cdir/config-$KVER"

cached() { good "$vmlinuz" "$VMLINUZ_SHA" && good "$config" "$CONFIG_SHA"; }

# install_pair VMLINUZ CONFIG: verify, then move/copy atomically into the cache.
install_pair() {
	local v=$1 c=$2
	if ! good "$v" "$VMLINUZ_SHA"; then
		log "sha256 mismatch: $v (want $VMLINUZ_SHA)"
		return 1
	fi
	if ! good "$c" "$CONFIG_SHA"; then
		log "sha256 mismatch: $c (want $CONFIG_SHA)"
		return 1
	fi
	cp "$v" "$vmlinuz.tmp.$$" && mv -f "$vmlinuz.tmp.$$" "$vmlinuz"
	cp "$c" "$config.tmp.$$" && mv -f "$config.tmp.$$" "$config"
	chmod 0644 "$vmlinuz" "$config"
}

# 3. Debian package, exact names only.
from_debian() {
	local apt_dir="$ARBOR_CACHE/apt-trixie-backports"
	local bin_pkg="linux-binary-unsigned-$KVER" base_pkg="linux-base-$KVER"
	log "downloading $bin_pkg and $base_pkg from trixie-backports"
	private_apt_init "$apt_dir" trixie-backports >&2 || return 1
	local p
	for p in "$bin_pkg" "$base_pkg"; do
		if ! private_apt_cache "$apt_dir" show "$p" >/dev/null 2>&1; then
			log "$p is not in the trixie-backports lists (mirror unreachable, or the version was dropped)"
			return 1
		fi
	done
	local tmp
	tmp=$(mktemp -d "$cdir/dl.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	(cd "$tmp" && private_apt "$apt_dir" download -qq "$bin_pkg" "$base_pkg") >&2 || return 1
	local deb
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/x" || return 1
	done
	install_pair "$tmp/x/usr/lib/modules/$KVER/vmlinuz.unsigned" "$tmp/x/usr/lib/modules/$KVER/config"
}

# 4. A verified copy shared beside the repository.
from_shared() {
	local d
	for d in ${ARBOR_SHARED_KERNELS:+"$ARBOR_SHARED_KERNELS"} "$root/../shared/kernels"; do
		tried+=("shared copy in $d")
		[ -f "$d/vmlinuz-$KVER" ] || continue
		log "using the shared copy in $d"
		install_pair "$d/vmlinuz-$KVER" "$d/config-$KVER" && return 0
	done
	return 1
}

# Serialize concurrent fetches (parallel test runs share the cache).
exec 9>"$cdir/.lock"
flock 9

tried+=("cache $cdir")
if ! cached; then
	ok=0
	if [ "${ARBOR_OFFLINE:-0}" != 1 ]; then
		tried+=("Debian trixie-backports (linux-binary-unsigned-$KVER, linux-base-$KVER)")
		from_debian && ok=1
	fi
	[ $ok = 1 ] || from_shared || true
	if ! cached; then
		{
			echo "error: no verified guest kernel $KVER for the VM tests. Tried:"
			printf '  - %s\n' "${tried[@]}"
			echo "Set ARBOR_KERNEL=/path/to/vmlinuz (and ARBOR_KERNEL_CONFIG) or ARBOR_SHARED_KERNELS=DIR holding vmlinuz-$KVER and config-$KVER."
		} >&2
		exit 1
	fi
fi
echo "$vmlinuz"
