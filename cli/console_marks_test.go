package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConsoleSourcesCarryMarks checks that the console's sources carry
// each configured store's colour and production mark.
func TestConsoleSourcesCarryMarks(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yaml")
	yml := "operator: alice\naudit_log: " + filepath.Join(dir, "audit.jsonl") + `
stores:
  - name: prod
    kind: memory
    color: "#d70000"
    production: true
  - name: staging
    kind: memory
    color: 33
  - name: scratch
    kind: memory
`
	if err := os.WriteFile(conf, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	setup, err := setupConsole(t.Context(), Env{}, &globals{config: conf})
	if err != nil {
		t.Fatalf("setupConsole() = %v", err)
	}
	defer setup.stop()
	want := []struct {
		name, color string
		production  bool
	}{{"prod", "#d70000", true}, {"staging", "33", false}, {"scratch", "", false}}
	src := setup.opts.Sources
	if len(src) != len(want) {
		t.Fatalf("%d sources, want %d", len(src), len(want))
	}
	for i, w := range want {
		if s := src[i]; s.Name != w.name || s.Color != w.color || s.Production != w.production {
			t.Errorf("sources[%d] = %s color %q production %v, want %s %q %v", i, s.Name, s.Color, s.Production, w.name, w.color, w.production)
		}
	}
}
