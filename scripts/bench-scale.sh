#!/usr/bin/env bash
# bench-scale.sh runs the fleet-scale benchmark of issue 9 (bench/scale): it
# installs what the benchmark drives when it is missing, builds leasectl,
# the baselines and the benchmark, and runs it; arguments go to the
# benchmark (bench/scale/doc.go; `build/bench-scale/scale -h` lists them).
#
#   scripts/bench-scale.sh -n 100000 -sizes 1000,10000,100000
#
# What it needs besides Go: tmux (the console runs in it), etcdctl (the etcd
# baseline) and curl (the raw Consul listing; without it a Go GET is used),
# installed from Debian's packages when missing (tmux, etcd-client), and
# the Consul agent, built once per machine by scripts/ensure-consul.sh.
# Without an etcd-client package, etcdctl is built from source at the
# version of the etcd server the tests embed, with go install, into the
# same cache as Consul.
#
# The report goes to standard output and build/bench-scale/report-<UTC>.txt;
# profiles to build/bench-scale/profiles/.
set -euo pipefail

die() {
	echo "bench-scale: $*" >&2
	exit 1
}

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P) || die "cannot locate the repository root"
cd -- "$root"
export GOTOOLCHAIN=local
out=build/bench-scale
cache=${LEASECTL_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/leasectl}

# apt_install installs Debian packages, as scripts/ensure-tools.sh does.
apt_install() {
	command -v apt-get >/dev/null 2>&1 || return 1
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || return 1
		sudo=sudo
	fi
	echo "bench-scale: installing $* (apt-get)" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq &&
		$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v tmux >/dev/null 2>&1 || apt_install tmux || die "tmux is needed (the console runs in it) and could not be installed"

etcdctl=$(command -v etcdctl || true)
if [ -z "$etcdctl" ]; then
	if apt_install etcd-client && command -v etcdctl >/dev/null 2>&1; then
		etcdctl=$(command -v etcdctl)
	else
		# The documented equivalent: the same tool from the etcd
		# repository, at the embedded server's version.
		version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
		dir=$cache/etcdctl-$version
		echo "bench-scale: no etcd-client package; building etcdctl $version into $dir" >&2
		if [ ! -x "$dir/etcdctl" ]; then
			GOBIN=$dir GOFLAGS=-mod=mod go install "go.etcd.io/etcd/etcdctl/v3@$version" || die "go install etcdctl $version failed"
		fi
		etcdctl=$dir/etcdctl
	fi
fi

consul=$(scripts/ensure-consul.sh)

mkdir -p "$out"
go build -o bin/leasectl .
go build -o "$out/leasectlprof" ./bench/scale/leasectlprof
go build -o "$out/natswatch" ./bench/scale/natswatch
go build -o "$out/httpget" ./bench/scale/httpget
go build -o "$out/rusage" ./bench/scale/rusage
go build -o "$out/scale" ./bench/scale

# What the binary was built from, for the report (builds may not stamp it).
source="commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- 2>/dev/null || source+=" with uncommitted changes"

report=$out/report-$(date -u +%Y%m%dT%H%M%SZ).txt
exec "$out/scale" -consul "$consul" -etcdctl "$etcdctl" -dir "$out" -source "$source" -out "$report" "$@"
