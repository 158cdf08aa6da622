package consultest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("moduleRoot() = %v", err)
	}
	want, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if root != want {
		t.Errorf("moduleRoot() = %s, want %s", root, want)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "ensure-consul.sh")); err != nil {
		t.Errorf("the module root lacks the script: %v", err)
	}
}

func TestFindBinaryEnv(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "consul")
	t.Setenv("LEASECTL_CONSUL", missing)
	if bin, err := findBinary(); err == nil || !strings.Contains(err.Error(), "LEASECTL_CONSUL="+missing) {
		t.Errorf("findBinary() with a missing $LEASECTL_CONSUL = %q, %v; want an error naming it", bin, err)
	}
	if err := os.WriteFile(missing, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if bin, err := findBinary(); err != nil || bin != missing {
		t.Errorf("findBinary() = %q, %v; want %q", bin, err, missing)
	}
}
