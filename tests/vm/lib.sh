# Shared helpers for the scx_arbor VM harness (sourced, not executed).
#
# private_apt DIR SUITE... runs apt-get with a configuration of its own: its own
# sources list, lists and cache under DIR, the system's Debian archive keyring.
# The system's apt sources are never edited.

ARBOR_CACHE=${ARBOR_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/scx_arbor}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "error: $*" >&2
	exit 1
}

# private_apt_init DIR SUITE...: write DIR/sources.list for the suites and update.
private_apt_init() {
	local dir=$1
	shift
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
	: >"$dir/sources.list"
	local suite
	for suite in "$@"; do
		echo "deb [signed-by=$KEYRING] $DEBIAN_MIRROR $suite main" >>"$dir/sources.list"
	done
	private_apt "$dir" update -qq
}

# private_apt DIR ARGS...: apt-get against DIR's configuration.
private_apt() {
	local dir=$1
	shift
	apt-get \
		-o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts="$dir/parts" \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache::Archives="$dir/archives" \
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
		-o APT::Sandbox::User=root \
		-o Acquire::http::Timeout="${ARBOR_APT_TIMEOUT:-30}" \
		-o Acquire::Retries=1 \
		"$@"
}

# private_apt_cache DIR ARGS...: apt-cache against DIR's configuration.
private_apt_cache() {
	local dir=$1
	shift
	apt-cache \
		-o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts="$dir/parts" \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
		"$@"
}

# repo_root: the checkout that holds this tests/vm directory.
repo_root() (
	cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
)

# sha256_of FILE: the file's sha256, hex.
sha256_of() {
	sha256sum "$1" | cut -d' ' -f1
}
