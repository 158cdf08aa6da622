#!/usr/bin/env bash
# test-wasm.sh proves the browser console: it builds it (build-wasm.sh), runs
# the console's Go tests compiled for GOOS=js under Node (package tui, and
# the page's side in wasm/, whose TestRunShowsTheDemo drives the real demo
# through a fake page), then smoke-tests the built site: wasm/smoke.cjs runs
# build/wasm/leasectl.wasm in @xterm/headless and checks the frames.
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

node wasm/smoke.cjs build/wasm build/wasm-work/npm/node_modules
