#!/usr/bin/env bash
# Build the VM tests' initramfs.
#
# Usage: mkinitramfs.sh OUT.cpio[.gz] --bin PATH [--bin PATH ...]
#                       [--file SRC:DEST ...] [--config KERNEL_CONFIG]
#                       [--scenario PATH ...]
#
# OUT is three concatenated newc archives (the kernel unpacks them in order;
# uncompressed unless ARBOR_INITRAMFS_COMPRESS=gzip):
#  - a base cached in $ARBOR_CACHE/initramfs/ (busybox-static with its applet
#    links, stress-ng, hackbench, their libraries and ELF interpreter), rebuilt
#    only when one of those host files changes;
#  - the --bin binaries as /usr/bin/NAME (debug info stripped) with their
#    libraries, cached by the binaries' size and mtime;
#  - a small per-run part: /init, the kernel config as /boot/config-$KVER, tests/vm/scenarios/*.sh (and any --scenario file) in
#    /scenarios/, and each --file SRC at DEST (e.g. a model at /models/x.onnx).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

usage() { die "usage: mkinitramfs.sh OUT.cpio.gz --bin PATH [--file SRC:DEST ...] [--config FILE] [--scenario PATH ...]"; }
[ $# -ge 1 ] || usage
out=$1
shift
bins=() files=() scenarios=() config=
while [ $# -gt 0 ]; do
	case $1 in
	--bin) [ $# -ge 2 ] || usage; bins+=("$2"); shift 2 ;;
	--file) [ $# -ge 2 ] || usage; files+=("$2"); shift 2 ;;
	--config) [ $# -ge 2 ] || usage; config=$2; shift 2 ;;
	--scenario) [ $# -ge 2 ] || usage; scenarios+=("$2"); shift 2 ;;
	*) usage ;;
	esac
done
[ ${#bins[@]} -gt 0 ] || usage
KVER=$("$here/fetch-kernel.sh" --kver)
if [ -z "$config" ]; then
	vmlinuz=$("$here/fetch-kernel.sh")
	config="$(dirname "$vmlinuz")/config-$KVER"
fi
[ -f "$config" ] || die "kernel config $config not found"
for t in busybox stress-ng hackbench cpio gzip; do
	command -v "$t" >/dev/null || die "$t not found on the host: run tests/vm/install-host-deps.sh"
done
file -L "$(command -v busybox)" | grep -q 'statically linked' ||
	die "$(command -v busybox) is not static: install busybox-static"

# add_elf STAGE FILE [DEST]: FILE at DEST (default: same path) plus every
# library ldd names and the ELF interpreter, at their host paths.
add_elf() {
	local stage=$1 src=$2 dest=${3:-$2}
	mkdir -p "$stage$(dirname "$dest")"
	cp -L "$src" "$stage$dest"
	local lib
	# "name => /path (addr)", "/lib64/ld-linux... (addr)"; skip the vdso.
	for lib in $(ldd "$src" 2>/dev/null | awk '/=> \// { print $3; next } /^\t\// { print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}

# ARBOR_INITRAMFS_COMPRESS=none (default: the guest boots faster without
# inflating ~100 MB under TCG) or gzip; ARBOR_STRIP=debug
# (default: keep symbols for backtraces) or all.
compress=${ARBOR_INITRAMFS_COMPRESS:-none}
strip=${ARBOR_STRIP:-debug}
case $compress in gzip) ext=.gz ;; none) ext= ;; *) die "ARBOR_INITRAMFS_COMPRESS must be gzip or none" ;; esac
case $strip in debug | all) ;; *) die "ARBOR_STRIP must be debug or all" ;; esac

# pack STAGE OUT: newc archive of STAGE, root-owned, gzip -1 unless
# ARBOR_INITRAMFS_COMPRESS=none.
pack() {
	if [ "$compress" = gzip ]; then
		(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$2"
	else
		(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
	fi
}

t0=$(date +%s.%N)
cache="$ARBOR_CACHE/initramfs"
mkdir -p "$cache"

# ---- base: cached by the identity of everything it holds ----
base_tools=("$(command -v busybox)" "$(command -v stress-ng)" "$(command -v hackbench)")
base_key=$({
	sha256_of "$0"
	for t in "${base_tools[@]}"; do
		echo "compress=$compress"
		stat -L -c '%n %s %Y' "$t"
		ldd "$t" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' | xargs -r stat -L -c '%n %s %Y'
	done
} | sha256sum | cut -c1-16)
base="$cache/base-$base_key.cpio$ext"
exec 9>"$cache/.lock"
flock 9
if [ ! -s "$base" ]; then
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,boot,scenarios,models,mnt}
	cp "$(command -v busybox)" "$stage/bin/busybox"
	# Applet links; skip busybox's own entry or the link replaces the binary.
	for applet in $(busybox --list-full); do
		[ "$(basename "$applet")" = busybox ] && continue
		[ -e "$stage/$applet" ] && continue
		mkdir -p "$stage/$(dirname "$applet")"
		ln -s /bin/busybox "$stage/$applet"
	done
	add_elf "$stage" "$(command -v stress-ng)" /usr/bin/stress-ng
	add_elf "$stage" "$(command -v hackbench)" /usr/bin/hackbench
	echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"
	pack "$stage" "$base.tmp.$$"
	mv -f "$base.tmp.$$" "$base"
	rm -rf "$stage"
	# Keep only the newest few bases.
	ls -t "$cache"/base-*.cpio* 2>/dev/null | tail -n +5 | xargs -r rm -f
fi
flock -u 9
t1=$(date +%s.%N)

# ---- binaries: cached by their identity (a test run boots the same binary
# many times; stripping and compressing a debug build takes seconds) ----
bin_key=$({
	sha256_of "$0"
	echo "strip=$strip compress=$compress"
	for b in "${bins[@]}"; do
		[ -f "$b" ] && [ -x "$b" ] || die "--bin $b is not an executable file"
		stat -L -c '%n %s %Y' "$b"
		ldd "$b" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' | xargs -r stat -L -c '%n %s %Y'
	done
} | sha256sum | cut -c1-16)
binpart="$cache/bin-$bin_key.cpio$ext"
flock 9
if [ ! -s "$binpart" ]; then
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	mkdir -p "$stage/usr/bin"
	for b in "${bins[@]}"; do
		name=$(basename "$b")
		add_elf "$stage" "$b" "/usr/bin/$name"
		# Debug info is useless in the guest and dominates a debug build's size.
		objcopy "--strip-$strip" "$stage/usr/bin/$name" 2>/dev/null || true
	done
	pack "$stage" "$binpart.tmp.$$"
	mv -f "$binpart.tmp.$$" "$binpart"
	rm -rf "$stage"
	ls -t "$cache"/bin-*.cpio* 2>/dev/null | tail -n +6 | xargs -r rm -f
fi
flock -u 9
t2=$(date +%s.%N)

# ---- the rest: small, built every time ----
stage=$(mktemp -d "${TMPDIR:-/tmp}/arbor-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{boot,scenarios,models}
cp "$config" "$stage/boot/config-$KVER"
cp "$here/init.sh" "$stage/init"
chmod 0755 "$stage/init"
for s in "$here"/scenarios/*.sh "${scenarios[@]}"; do
	[ -f "$s" ] || die "scenario $s not found"
	cp "$s" "$stage/scenarios/"
done
for f in "${files[@]}"; do
	src=${f%%:*} dest=${f#*:}
	[ "$src" != "$f" ] && [ "${dest#/}" != "$dest" ] || die "--file wants SRC:/ABS/DEST, got $f"
	[ -e "$src" ] || die "--file source $src not found"
	mkdir -p "$stage$(dirname "$dest")"
	cp -rL "$src" "$stage$dest"
done
mkdir -p "$(dirname "$out")"
pack "$stage" "$out.overlay.$$"
cat "$base" "$binpart" "$out.overlay.$$" >"$out.tmp.$$"
rm -f "$out.overlay.$$"
mv -f "$out.tmp.$$" "$out"
t3=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v sz="$(stat -c %s "$out")" -v bs="$(stat -c %s "$base")" -v ns="$(stat -c %s "$binpart")" \
	'BEGIN { printf "mkinitramfs: %.1f MB (base %.1f MB, binaries %.1f MB) in %.2f s (base %.2f s, binaries %.2f s, rest %.2f s)\n", sz/1e6, bs/1e6, ns/1e6, d-a, b-a, c-b, d-c }' >&2
