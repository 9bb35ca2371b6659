#!/usr/bin/env bash
# Build a guest kernel of one kernel line from Debian's linux-source-* package
# with the small config of tests/vm/kernel-config/arbor.config, for the kernel
# matrix (benches/kernel-matrix.sh). Not part of tests/run-all.sh: a build
# takes tens of minutes on 2 cores. The pinned kernel (tests/vm/kernel.sha256)
# stays the CI kernel.
#
# Usage: build-kernel.sh [--record] [LINE]     LINE defaults to $ARBOR_KERNEL_LINE
#        build-kernel.sh --list
#   LINE      6.12 | 7.2 | 7.3 (the table below)
#   --record  write the result's sha256 into tests/vm/kernel-matrix.sha256
#   --list    print the table of lines
# Prints the path of the bzImage on stdout; everything else goes to stderr.
#
# Result, cached and reused while the package version, the config fragment and
# this script's recipe are unchanged (idempotent; a second run prints the path):
#   $ARBOR_CACHE/kernels/KREL/  bzImage  config  vmlinux.btf  System.map
#                              build.log  meta  SHA256SUMS
# where KREL is the kernel's release (uname -r), e.g. 6.12.118-arbor.
# vmlinux.btf is the raw .BTF section of vmlinux (bpftool btf dump file ...).
#
# Sources: the exact linux-source-* package version below, through a private
# apt configuration ($ARBOR_CACHE/apt-kmatrix: its own sources list naming
# bookworm-security, trixie, trixie-backports and sid; the system's apt sources
# are never touched). BTF needs pahole >= 1.26 (bookworm has 1.24): the
# `pahole` package of trixie and the libraries it needs are unpacked into
# $ARBOR_CACHE/tools/pahole-trixie/ and run through trixie's own ELF
# interpreter, so nothing is installed on the host.
#
# Environment:
#   ARBOR_KERNEL_LINE            the line when no argument is given
#   ARBOR_KERNEL_SOURCE_VERSION  another Debian version of the line's package
#   ARBOR_KBUILD_DIR             sources and objects (default $ARBOR_CACHE/kbuild)
#   ARBOR_KBUILD_JOBS            make -j (default 2); the build runs under
#                                nice -n 19 and ionice -c3
#   ARBOR_KBUILD_CLEAN=1         remove the sources and objects after a build
#   ARBOR_OFFLINE=1              never download (fail if the package is missing)
# Host packages needed: gcc make bc bison flex libssl-dev libelf-dev xz-utils
# (apt-get install them; the script says which is missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(repo_root)

# The recipe's version: bump it when a change here alters the kernel built.
RECIPE=2
FRAGDIR="$here/kernel-config"
RECORD="$here/kernel-matrix.sha256"
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# line  package  version  suite
LINES="6.12 linux-source-6.12 6.12.118-1~deb12u1 bookworm-security
7.2 linux-source-7.2 7.2.13-1 sid
7.3 linux-source-7.3 7.3.4-1~bpo13+1 trixie-backports"

log() { echo "build-kernel: $*" >&2; }

record=0 line=
while [ $# -gt 0 ]; do
	case $1 in
	--record) record=1; shift ;;
	--list) echo "$LINES"; exit 0 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$line" ] || die "one LINE at a time"; line=$1; shift ;;
	esac
done
line=${line:-${ARBOR_KERNEL_LINE:-}}
[ -n "$line" ] || die "which kernel line? build-kernel.sh LINE or ARBOR_KERNEL_LINE=LINE; lines: $(echo "$LINES" | cut -d' ' -f1 | tr '\n' ' ')"
row=$(echo "$LINES" | awk -v l="$line" '$1 == l')
[ -n "$row" ] || die "unknown kernel line '$line'; lines: $(echo "$LINES" | cut -d' ' -f1 | tr '\n' ' ')"
read -r _ pkg ver suite <<<"$row"
ver=${ARBOR_KERNEL_SOURCE_VERSION:-$ver}
# The common fragment, then the line's own (kernel-config/LINE.config) if any;
# a later line for the same symbol wins, as in merge_config.sh.
frags=("$FRAGDIR/arbor.config")
[ -f "$FRAGDIR/$line.config" ] && frags+=("$FRAGDIR/$line.config")
# The effective settings: comments dropped, one line per symbol (the last).
effective() {
	local f l sym
	declare -A last
	for f in "${frags[@]}"; do
		while IFS= read -r l; do
			case $l in
			CONFIG_*=*) sym=${l%%=*} ;;
			"# CONFIG_"*" is not set") sym=${l#\# }; sym=${sym%% *} ;;
			*) continue ;;
			esac
			last[$sym]=$l
		done <"$f"
	done
	for sym in "${!last[@]}"; do echo "${last[$sym]}"; done | LC_ALL=C sort
}

missing=()
for t in gcc make bc bison flex xz perl objcopy dpkg-deb apt-get flock; do
	command -v "$t" >/dev/null || missing+=("$t")
done
for h in /usr/include/openssl/ssl.h /usr/include/libelf.h /usr/include/gelf.h; do
	[ -f "$h" ] || missing+=("$h")
done
[ ${#missing[@]} = 0 ] ||
	die "missing on the host: ${missing[*]} (apt-get install gcc make bc bison flex libssl-dev libelf-dev xz-utils)"

kcache="$ARBOR_CACHE/kernels"
kbuild=${ARBOR_KBUILD_DIR:-$ARBOR_CACHE/kbuild}
mkdir -p "$kcache" "$kbuild"
exec 9>"$kcache/.lock-$line"
flock 9

# The cache key: everything that decides what is built (the fragments' effective
# settings, not their comments or order).
key=$({
	echo "recipe=$RECIPE package=$pkg version=$ver"
	effective
} | sha256sum | cut -c1-16)

# record_result DIR: replace this line's entries in $RECORD by DIR's.
record_result() {
	local d=$1 krel
	krel=$(basename "$d")
	local m_pkg m_ver m_suite m_pahole m_gcc
	m_pkg=$(sed -n 's/^package=//p' "$d/meta") m_ver=$(sed -n 's/^version=//p' "$d/meta")
	m_suite=$(sed -n 's/^suite=//p' "$d/meta") m_pahole=$(sed -n 's/^pahole=//p' "$d/meta")
	m_gcc=$(sed -n 's/^gcc=//p' "$d/meta")
	[ -f "$RECORD" ] || die "$RECORD is missing"
	local tmp="$RECORD.tmp.$$"
	awk -v l="$line" '
		$1 == "#" && $2 == l":" { next }
		length($1) == 64 && $1 ~ /^[0-9a-f]+$/ && index($2, l".") == 1 { next }
		{ print }' "$RECORD" >"$tmp"
	{
		echo "# $line: $m_pkg $m_ver ($m_suite), kernel-config/{$(echo "${frags[*]##*/}" | tr ' ' ',')} (key $key), pahole $m_pahole, gcc $m_gcc"
		awk -v k="$krel" '$2 == "bzImage" || $2 == "config" { print $1 "  " k "/" $2 }' "$d/SHA256SUMS"
	} >>"$tmp"
	mv -f "$tmp" "$RECORD"
	log "recorded $krel in $RECORD"
}

# A finished build of this key: its directory name is in the "line" index.
index="$kcache/line-$line"
if [ -f "$index" ]; then
	read -r ikey krel <"$index" || true
	d="$kcache/${krel:-none}"
	if [ "${ikey:-}" = "$key" ] && [ -f "$d/SHA256SUMS" ] &&
		(cd "$d" && sha256sum --quiet -c SHA256SUMS) >&2; then
		log "cached: $d (key $key)"
		[ $record = 1 ] && record_result "$d"
		echo "$d/bzImage"
		exit 0
	fi
fi

# ---- pahole >= 1.26 from trixie, unpacked with its libraries ----
apt_dir="$ARBOR_CACHE/apt-kmatrix"
apt_ready=0
apt_init() {
	[ $apt_ready = 1 ] && return 0
	[ "${ARBOR_OFFLINE:-0}" != 1 ] || die "ARBOR_OFFLINE=1 but $1 must be downloaded"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/parts"
	{
		echo "deb [signed-by=$KEYRING] $SECURITY_MIRROR bookworm-security main"
		local s
		for s in trixie trixie-backports sid; do
			echo "deb [signed-by=$KEYRING] $DEBIAN_MIRROR $s main"
		done
	} >"$apt_dir/sources.list"
	log "updating the private apt lists in $apt_dir"
	private_apt "$apt_dir" update -qq >&2 || die "apt-get update with $apt_dir/sources.list failed"
	apt_ready=1
}
# download DIR PKG=VER|PKG/SUITE...: exact packages into DIR.
download() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && private_apt "$apt_dir" download -qq "$@") 2>&1 | grep -v 'unsandboxed as root' >&2 || true
}

PAHOLE_PKGS="pahole libc6 libbpf1 libdw1t64 libelf1t64 zlib1g liblzma5 libbz2-1.0 libzstd1"
pdir="$ARBOR_CACHE/tools/pahole-trixie"
pahole="$pdir/pahole"
if [ ! -x "$pahole" ] || ! "$pahole" --version >/dev/null 2>&1; then
	apt_init "pahole"
	rm -rf "$pdir"
	mkdir -p "$pdir"
	pkgs=()
	for p in $PAHOLE_PKGS; do pkgs+=("$p/trixie"); done
	download "$pdir/debs" "${pkgs[@]}"
	for p in $PAHOLE_PKGS; do
		ls "$pdir/debs/${p}_"*.deb >/dev/null 2>&1 || die "could not download $p from trixie"
	done
	for d in "$pdir"/debs/*.deb; do dpkg-deb -x "$d" "$pdir/root"; done
	# trixie's pahole needs glibc 2.38 and libbpf 1.5: run it with trixie's
	# own ELF interpreter and libraries, never the host's.
	cat >"$pahole" <<-EOF
		#!/bin/sh
		R=$pdir/root
		exec "\$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu" "\$R/usr/bin/pahole" "\$@"
	EOF
	chmod +x "$pahole"
	rm -rf "$pdir/debs"
fi
pv=$("$pahole" --version) || die "$pahole does not run"
pvn=$(echo "$pv" | sed 's/^v//; s/\.//')
[ "$pvn" -ge 126 ] 2>/dev/null ||
	die "pahole $pv is older than 1.26: kfunc prototypes in BTF would break sched_ext (see shared/platform.md)"
log "pahole $pv ($pahole)"

# ---- the source package ----
srcroot="$kbuild/$pkg-$ver"
src="$srcroot/src"
obj="$srcroot/obj"
if [ ! -f "$src/.arbor-unpacked" ]; then
	deb=$(ls "$kbuild/debs/${pkg}_${ver//:/%3a}_all.deb" 2>/dev/null || true)
	if [ -z "$deb" ]; then
		apt_init "$pkg=$ver"
		private_apt_cache "$apt_dir" show "$pkg=$ver" >/dev/null 2>&1 ||
			die "$pkg=$ver is not in the private apt lists ($suite); Debian may have dropped it: $(private_apt_cache "$apt_dir" madison "$pkg" 2>/dev/null | awk '{ printf "%s ", $3 }')(set ARBOR_KERNEL_SOURCE_VERSION=... to one of those)"
		log "downloading $pkg=$ver ($suite)"
		download "$kbuild/debs" "$pkg=$ver"
		deb=$(ls "$kbuild/debs/${pkg}_${ver//:/%3a}_all.deb" 2>/dev/null || true)
		[ -n "$deb" ] || die "downloading $pkg=$ver failed"
	fi
	log "unpacking $deb"
	rm -rf "$srcroot"
	mkdir -p "$src"
	tarball="usr/src/$pkg.tar.xz"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$tarball" >"$srcroot/src.tar.xz" ||
		die "$deb has no $tarball"
	nice -n 19 tar -xJf "$srcroot/src.tar.xz" -C "$src" --strip-components=1
	sha256_of "$deb" >"$src/.arbor-deb-sha256"
	rm -f "$srcroot/src.tar.xz"
	touch "$src/.arbor-unpacked"
fi

# The source tarball's mtime inside the package dates the build: the same
# KBUILD_BUILD_TIMESTAMP (uname -v) on every machine (recipe 1 used the time
# of unpacking).
if [ ! -s "$src/.arbor-epoch-v2" ]; then
	deb=$(ls "$kbuild/debs/${pkg}_${ver//:/%3a}_all.deb" 2>/dev/null || true)
	[ -n "$deb" ] || die "the package $pkg=$ver is gone from $kbuild/debs: remove $srcroot to start over"
	stamp=$(dpkg-deb --fsys-tarfile "$deb" | TZ=UTC tar --full-time -tv "./usr/src/$pkg.tar.xz" | awk '{ print $4, $5 }')
	[ -n "$stamp" ] || die "no date for usr/src/$pkg.tar.xz in $deb"
	TZ=UTC date -d "$stamp" +%s >"$src/.arbor-epoch-v2"
fi
epoch=$(cat "$src/.arbor-epoch-v2")

# ---- config: tinyconfig + the fragments, then check they held ----
export KBUILD_BUILD_TIMESTAMP
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S UTC')
export KBUILD_BUILD_USER=arbor KBUILD_BUILD_HOST=kmatrix KBUILD_BUILD_VERSION=1
jobs=${ARBOR_KBUILD_JOBS:-2}
kmake() { nice -n 19 ionice -c3 make -C "$src" O="$obj" PAHOLE="$pahole" "$@"; }
mkdir -p "$obj"
blog="$obj/arbor-build.log"
: >"$blog"
log "configuring in $obj (tinyconfig + ${frags[*]##*/})"
{
	kmake tinyconfig
	KCONFIG_CONFIG="$obj/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}"
	kmake olddefconfig
} >>"$blog" 2>&1 || { tail -n 30 "$blog" >&2; die "configuring failed (log: $blog)"; }

# Every fragment line must hold, unless this line's Kconfig has no such symbol.
bad=() absent=()
while IFS= read -r l; do
	case $l in
	CONFIG_*=*) sym=${l%%=*} want=$l ;;
	"# CONFIG_"*" is not set") sym=${l#\# }; sym=${sym%% *} want=$l ;;
	*) continue ;;
	esac
	if [[ $want == *"is not set" ]]; then
		grep -q "^$sym=" "$obj/.config" || continue
	else
		grep -qxF "$want" "$obj/.config" && continue
	fi
	if grep -rqE --include='Kconfig*' "^[[:space:]]*(menu)?config ${sym#CONFIG_}\$" "$src"; then
		bad+=("$want (got: $(grep -E "^$sym=|^# $sym is not set" "$obj/.config" || echo unset))")
	else
		absent+=("$sym")
	fi
done < <(effective)
[ ${#absent[@]} = 0 ] || log "not in $pkg's Kconfig (ignored): ${absent[*]}"
if [ ${#bad[@]} != 0 ]; then
	printf '  %s\n' "${bad[@]}" >&2
	die "Kconfig dropped the fragment lines above (a dependency is missing): fix ${frags[*]}"
fi

# ---- build ----
log "building bzImage with make -j$jobs under nice -n 19 (log: $blog)"
# Objects left by an earlier configuration are reused (make decides what
# to rebuild); the meta says so.
incremental=no
[ -f "$obj/vmlinux" ] && incremental=yes
t0=$(date +%s)
if ! kmake -j"$jobs" bzImage >>"$blog" 2>&1; then
	grep -E 'error|Error' "$blog" | tail -n 20 >&2 || true
	tail -n 20 "$blog" >&2
	die "the kernel build failed (log: $blog)"
fi
t1=$(date +%s)
krel=$(kmake -s kernelrelease 2>/dev/null | tail -n1)
[ -n "$krel" ] || die "no kernelrelease"
grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$obj/.config" || die "CONFIG_SCHED_CLASS_EXT is not set in the result"

out="$kcache/$krel"
tmp=$(mktemp -d "$kcache/.new.XXXXXX")
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/.config" "$tmp/config"
cp "$obj/System.map" "$tmp/System.map"
objcopy -O binary --only-section=.BTF "$obj/vmlinux" "$tmp/vmlinux.btf"
[ -s "$tmp/vmlinux.btf" ] || die "vmlinux has no .BTF section"
cp "$blog" "$tmp/build.log"
{
	echo "line=$line"
	echo "package=$pkg"
	echo "version=$ver"
	echo "suite=$suite"
	echo "deb_sha256=$(cat "$src/.arbor-deb-sha256")"
	echo "kernelrelease=$krel"
	echo "key=$key"
	echo "recipe=$RECIPE"
	echo "fragments=${frags[*]##*/}"
	echo "fragment_sha256=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)"
	echo "pahole=$pv"
	echo "gcc=$(gcc -dumpfullversion)"
	echo "jobs=$jobs"
	echo "build_seconds=$((t1 - t0))"
	echo "incremental=$incremental"
	echo "built_at=$(date -u +%FT%TZ)"
	echo "build_timestamp=$KBUILD_BUILD_TIMESTAMP"
} >"$tmp/meta"
(cd "$tmp" && sha256sum bzImage config vmlinux.btf >SHA256SUMS)
chmod 0644 "$tmp"/*
chmod 0755 "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
echo "$key $krel" >"$index"
log "built $krel in $((t1 - t0)) s: $out"
sed 's/^/build-kernel:   /' "$out/SHA256SUMS" >&2
[ $record = 1 ] && record_result "$out"
if [ "${ARBOR_KBUILD_CLEAN:-0}" = 1 ]; then
	rm -rf "$srcroot"
fi
echo "$out/bzImage"
