# Sourced by the benchmarks that run published sched_ext schedulers as `ab`
# arms: builds each from crates.io at a pinned version (once; kept under
# BINDIR) with `cargo install --locked`.
#
#   published_install BINDIR CRATE VERSION   # -> BINDIR/bin/CRATE

# The published schedulers, NAME=VERSION (scx_NAME on crates.io).
# bpfland, cosmos and lavd are the sched-ext/scx schedulers of the scx_utils
# 1.1 line; pandemonium is the adaptive scheduler that learns online.
PUBLISHED_VERSIONS="bpfland=1.1.4 cosmos=1.1.7 lavd=1.1.4 pandemonium=5.23.1"

# The version pinned for NAME in PUBLISHED_VERSIONS (fails if none).
published_version() { # name
	local nv
	for nv in $PUBLISHED_VERSIONS; do
		[ "${nv%=*}" = "$1" ] && { echo "${nv#*=}"; return 0; }
	done
	echo "no pinned version for scx_$1 (PUBLISHED_VERSIONS in benches/published.sh)" >&2
	return 1
}

published_install() { # bindir crate version
	local have
	have=$("$1/bin/$2" --version 2>/dev/null | awk '{ print $2 }' || true)
	if [ "$have" != "$3" ]; then
		echo "building $2 $3 from crates.io (several minutes)" >&2
		BPF_CLANG=${BPF_CLANG:-clang-19} CARGO_TARGET_DIR=$1/target cargo install --quiet --locked --force \
			--root "$1" "$2" --version "=$3"
	fi
}
