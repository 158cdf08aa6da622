#!/usr/bin/env bash
# test-wasm.sh proves the browser console: it builds it (build-wasm.sh), runs
# the console's Go tests compiled for GOOS=js under Node (package tui, and
# the page's side in wasm/, whose TestRunShowsTheDemo drives the real demo
# through a fake page), then smoke-tests the built site: wasm/smoke.cjs runs
# build/wasm/v/<hash>/leasectl.wasm in @xterm/headless and checks the
# frames. build-wasm.sh itself fails when the wasm imports the etcd, Consul
# or NATS clients, or net/http.
#
# Needs Node 20 or later and npm. Extra arguments go to go test, e.g.
#   scripts/test-wasm.sh -run TestView -v
set -euo pipefail
export GOTOOLCHAIN=local

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
GO="${GO:-go}"

command -v node >/dev/null || { echo "test-wasm: node is needed (Node 20 or later)" >&2; exit 1; }

start=$SECONDS
scripts/build-wasm.sh
echo "test-wasm: built in $((SECONDS - start))s" >&2

# go test runs a js/wasm test binary through go_js_wasm_exec, which Go ships
# in $GOROOT/lib/wasm (it runs node with wasm_exec_node.js). -race does not
# exist for js.
PATH="$("$GO" env GOROOT)/lib/wasm:$PATH" \
	GOWORK="$root/build/wasm-work/go.work" GOOS=js GOARCH=wasm \
	"$GO" test -count=1 -timeout 10m "$@" ./tui/... ./wasm/...

# The versioned folder of the build (build/wasm/v/<hash>/).
versioned=(build/wasm/v/*/)
[[ ${#versioned[@]} -eq 1 && -d ${versioned[0]} ]] || { echo "test-wasm: want one build/wasm/v/<hash>/, got ${versioned[*]}" >&2; exit 1; }
node wasm/smoke.cjs "${versioned[0]}" build/wasm-work/npm/node_modules
