#!/usr/bin/env bash
# Resolve ARBOR_KERNEL_LINE=LINE (6.12, 7.2, ...) to a kernel of the kernel
# matrix: the image tests/vm/build-kernel.sh built and cached in
# $ARBOR_CACHE/kernels/KREL/, checked against tests/vm/kernel-matrix.sha256.
# tests/vm/fetch-kernel.sh hands over to this script when ARBOR_KERNEL_LINE is
# set (and not "pinned"), so `ARBOR_KERNEL_LINE=6.12 tests/vm/run.sh attach`
# boots that kernel; without the variable nothing changes.
#
# Usage: kernel-line.sh [--kver]   (same contract as fetch-kernel.sh: prints a
# vmlinuz path whose directory holds config-KREL; --kver prints KREL)
#
# Never builds (a build takes tens of minutes): a missing kernel is an error
# that names the build command. The cached bzImage and config must have the
# sha256 recorded for them; ARBOR_KERNEL_UNPINNED=1 accepts a local build that
# differs or a line not recorded at all (the line's last build, checked only
# against the cache's own SHA256SUMS then).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

line=${ARBOR_KERNEL_LINE:-}
[ -n "$line" ] && [ "$line" != pinned ] || die "kernel-line.sh: ARBOR_KERNEL_LINE is not set"
[[ $line =~ ^[0-9]+\.[0-9]+$ ]] || die "ARBOR_KERNEL_LINE wants a kernel line such as 6.12, got '$line'"
record="$here/kernel-matrix.sha256"

# The recorded bzImage of this line: "SHA  KREL/bzImage" with KREL = LINE.*
entry=$(awk -v l="$line." 'length($1) == 64 && $1 ~ /^[0-9a-f]+$/ && index($2, l) == 1 && $2 ~ /\/bzImage$/' "$record")
unpinned=${ARBOR_KERNEL_UNPINNED:-0}
if [ -n "$entry" ]; then
	[ "$(echo "$entry" | wc -l)" = 1 ] || die "$record records more than one kernel of line $line"
	krel=$(echo "$entry" | awk '{ sub(/\/bzImage$/, "", $2); print $2 }')
elif [ "$unpinned" = 1 ] && [ -f "$ARBOR_CACHE/kernels/line-$line" ]; then
	# Not recorded: the line's last local build (build-kernel.sh's index).
	krel=$(awk '{ print $2 }' "$ARBOR_CACHE/kernels/line-$line")
else
	have=$(awk 'length($1) == 64 && $1 ~ /^[0-9a-f]+$/ && $2 ~ /\/bzImage$/ { sub(/\/bzImage$/, "", $2); printf "%s ", $2 }' "$record")
	die "no kernel of line $line is recorded in $record (recorded: ${have:-none}); build and record one with: tests/vm/build-kernel.sh --record $line (or build it and set ARBOR_KERNEL_UNPINNED=1)"
fi
if [ "${1:-}" = --kver ]; then
	echo "$krel"
	exit 0
fi
want_img=$(echo "$entry" | awk '{ print $1 }')
want_cfg=$(awk -v p="$krel/config" '$2 == p { print $1 }' "$record")
[ -z "$entry" ] || [ -n "$want_cfg" ] || die "$record has no line for $krel/config"

d="$ARBOR_CACHE/kernels/$krel"
[ -f "$d/bzImage" ] && [ -f "$d/config" ] ||
	die "kernel $krel (line $line) is not built on this machine ($d): run tests/vm/build-kernel.sh $line (tens of minutes on 2 cores)"
got_img=$(sha256_of "$d/bzImage")
got_cfg=$(sha256_of "$d/config")
if [ "$got_img" != "$want_img" ] || [ "$got_cfg" != "$want_cfg" ]; then
	if [ "$unpinned" = 1 ]; then
		(cd "$d" && sha256sum --quiet -c SHA256SUMS) >&2 ||
			die "$d does not match its own SHA256SUMS (a damaged build): rebuild with tests/vm/build-kernel.sh $line"
		what="differs from the build recorded in $record"
		[ -n "$entry" ] || what="is not recorded in $record"
		echo "kernel-line: WARNING: ARBOR_KERNEL_UNPINNED=1: $d $what (a local build)" >&2
	else
		die "$d/bzImage or config does not have the sha256 recorded in $record (bzImage $got_img, want $want_img; config $got_cfg, want $want_cfg): a build on another toolchain or with another config. Set ARBOR_KERNEL_UNPINNED=1 to boot it anyway, or record it with tests/vm/build-kernel.sh --record $line"
	fi
fi

# The names the harness expects, side by side.
stage="$ARBOR_CACHE/kernel-line/$krel"
mkdir -p "$stage"
ln -sfn "$d/bzImage" "$stage/vmlinuz-$krel"
ln -sfn "$d/config" "$stage/config-$krel"
echo "$stage/vmlinuz-$krel"
