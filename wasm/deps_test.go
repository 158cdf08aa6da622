//go:build !js

package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestWasmLeavesTheStoreClientsOut checks, natively, what the browser's
// console links: it talks to stores through the gateway only, so the etcd,
// Consul and NATS clients must not be in it, nor net/http's client, which
// would nearly double its size (webclient calls fetch itself). Listing the
// packages needs no build, so the modules shimmed by scripts/build-wasm.sh
// do not matter here; the script checks the same on every build.
func TestWasmLeavesTheStoreClientsOut(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command in PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps (GOOS=js): %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/leasectl/leasectl/webclient") {
		t.Fatalf("go list -deps (GOOS=js) = %d packages without webclient: not the console's list", len(deps))
	}
	forbidden := []string{"go.etcd.io/", "github.com/hashicorp/consul", "github.com/nats-io/", "net/http"}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(d, f+"/")) {
				t.Errorf("the wasm console imports %s", d)
			}
		}
	}
}
