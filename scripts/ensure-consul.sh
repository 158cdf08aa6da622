#!/usr/bin/env bash
# ensure-consul.sh prints the path of a Consul agent binary at the version the
# Consul driver's tests are pinned to, building it from tools/consul (its own
# Go module, so Consul's dependency graph stays out of leasectl's go.mod) when
# the cache does not hold a working one yet.
#
#   scripts/ensure-consul.sh            # prints e.g. ~/.cache/leasectl/consul-v1.14.11/consul
#   LEASECTL_CONSUL=$(scripts/ensure-consul.sh) go test ./stores/consul/
#
# Cache: ${LEASECTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leasectl}/consul-<version>/consul
# The build (a few minutes on two cores) writes a temporary file and renames it
# into place, under a lock, so concurrent callers build once and never see a
# half-written binary. Only the path goes to stdout; progress goes to stderr.
set -euo pipefail

readonly version=v1.14.11
readonly module=github.com/hashicorp/consul

die() {
	echo "ensure-consul: $*" >&2
	exit 1
}

# works reports whether $1 is an executable that says it is Consul $version.
# (No `| head`: with pipefail, consul dying of SIGPIPE would fail the check.)
works() {
	[[ -x $1 ]] || return 1
	local out
	out=$("$1" version 2>/dev/null) || return 1
	[[ ${out%%$'\n'*} == "Consul $version" ]]
}

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P) ||
	die "cannot locate the repository root from $0"
tools=$root/tools/consul
cache=${LEASECTL_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/leasectl}
dir=$cache/consul-$version
bin=$dir/consul

if works "$bin"; then
	echo "$bin"
	exit 0
fi

command -v flock >/dev/null || die "flock(1) not found (util-linux); cannot build $bin safely"
mkdir -p -- "$dir" || die "cannot create cache directory $dir"
exec 9>"$dir/.lock" || die "cannot open lock file $dir/.lock"
if ! flock -n 9; then
	echo "ensure-consul: another build of consul $version is running; waiting for it" >&2
	flock 9 || die "cannot lock $dir/.lock"
fi

# Someone else may have built it while we waited for the lock.
if works "$bin"; then
	echo "$bin"
	exit 0
fi

[[ -f $tools/go.mod ]] || die "tools module not found at $tools"
command -v go >/dev/null || die "go not found in PATH; it is needed to build consul $version"
tmp=$(mktemp -- "$dir/consul.build.XXXXXX") || die "cannot create a temporary file in $dir"
trap 'rm -f -- "$tmp"' EXIT

echo "ensure-consul: building consul $version into $bin (a few minutes)" >&2
start=$SECONDS
if ! (cd -- "$tools" && GOTOOLCHAIN=local GOWORK=off go build -trimpath -o "$tmp" "$module") >&2; then
	die "building $module ($version) in $tools failed; see the output above"
fi
works "$tmp" || die "the freshly built binary does not report Consul $version: $("$tmp" version 2>&1 || true)"
mv -f -- "$tmp" "$bin" || die "cannot move the build into place at $bin"
echo "ensure-consul: built consul $version in $((SECONDS - start))s" >&2
echo "$bin"
