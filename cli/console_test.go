package cli

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/tui"
)

// noConfig makes config.Path find nothing and keeps the demo's audit log in
// a temporary directory.
func noConfig(t *testing.T) {
	t.Setenv("LEASECTL_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
}

// connect dials a source the way the console does.
func connect(t *testing.T, src tui.Source) stores.Store {
	t.Helper()
	st, closer, err := src.Connect(t.Context())
	if err != nil {
		t.Fatalf("Connect(%s) = %v", src.Name, err)
	}
	if closer != nil {
		t.Cleanup(func() { closer() })
	}
	return st
}

func TestConsoleSetupDemo(t *testing.T) {
	noConfig(t)
	for _, readOnly := range []bool{false, true} {
		setup, err := setupConsole(t.Context(), Env{}, &globals{readOnly: readOnly})
		if err != nil {
			t.Fatalf("setupConsole() = %v", err)
		}
		o := setup.opts
		if !o.Demo || len(o.Sources) != 1 || o.Sources[0].Name != demo.StoreName || o.Auditor == nil || o.Operator == "" {
			t.Errorf("demo options = %+v, want one source %q, Demo, an auditor and an operator", o, demo.StoreName)
		}
		if o.ReadOnly != readOnly || o.Sources[0].ReadOnly != readOnly {
			t.Errorf("--read-only=%v: options read-only %v, source %v", readOnly, o.ReadOnly, o.Sources[0].ReadOnly)
		}
		entries, err := connect(t, o.Sources[0]).List(t.Context(), "")
		if err != nil {
			t.Fatalf("List() = %v", err)
		}
		if !slices.ContainsFunc(entries, func(e stores.Entry) bool { return e.Key == "exports/legacy-billing" }) || len(entries) < 6 {
			t.Errorf("the demo store holds %d keys without exports/legacy-billing: the fleet was not seeded", len(entries))
		}
		if !strings.HasPrefix(setup.notice, "leasectl: that was the demo") || !strings.Contains(setup.notice, "leasectl-demo-") {
			t.Errorf("notice = %q, want the demo's audit log named", setup.notice)
		}
		setup.stop()
	}
}

func TestConsoleSetupDemoRefusesStore(t *testing.T) {
	noConfig(t)
	_, err := setupConsole(t.Context(), Env{}, &globals{stores: []string{"prod"}})
	if ee, ok := errors.AsType[*exitError](err); !ok || ee.code != ExitUsage {
		t.Errorf("setupConsole(--store prod) without config = %v, want a usage error", err)
	}
}

func TestConsoleSetupConfig(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		g          globals
		want       []string
		wantRO     []bool
		wantGlobal bool
	}{
		{"all stores", globals{}, []string{"fleet", "fleet-ro"}, []bool{false, true}, false},
		{"--store", globals{stores: []string{"fleet-ro"}}, []string{"fleet-ro"}, []bool{true}, false},
		{"--read-only", globals{readOnly: true}, []string{"fleet", "fleet-ro"}, []bool{true, true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			g.config = f.config
			setup, err := setupConsole(t.Context(), Env{}, &g)
			if err != nil {
				t.Fatalf("setupConsole() = %v", err)
			}
			defer setup.stop()
			o := setup.opts
			var names []string
			var ro []bool
			for _, s := range o.Sources {
				names, ro = append(names, s.Name), append(ro, s.ReadOnly)
				st := connect(t, s)
				if stores.IsReadOnly(st) != s.ReadOnly {
					t.Errorf("source %s: store read-only %v, source says %v", s.Name, stores.IsReadOnly(st), s.ReadOnly)
				}
				if _, err := st.List(t.Context(), ""); err != nil {
					t.Errorf("source %s: List() = %v", s.Name, err)
				}
			}
			if !slices.Equal(names, tt.want) || !slices.Equal(ro, tt.wantRO) {
				t.Errorf("sources = %v read-only %v, want %v %v", names, ro, tt.want, tt.wantRO)
			}
			if o.Demo || o.Operator != "alice" || o.ReadOnly != tt.wantGlobal || o.Auditor == nil {
				t.Errorf("options = demo %v, operator %q, read-only %v, auditor %v", o.Demo, o.Operator, o.ReadOnly, o.Auditor)
			}
		})
	}
}

func TestConsoleSetupErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		g    globals
	}{
		{"missing config file", globals{config: filepath.Join(t.TempDir(), "nope.yaml")}},
		{"unknown store", globals{config: f.config, stores: []string{"nope"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := setupConsole(context.Background(), Env{}, &tt.g)
			if ee, ok := errors.AsType[*exitError](err); !ok || ee.code != ExitUsage {
				t.Errorf("setupConsole() = %v, want a usage error (exit 2)", err)
			}
		})
	}
}

func TestConsoleNeedsTerminal(t *testing.T) {
	noConfig(t)
	r := runEnv(t, Env{IsTerminal: func() bool { return false }})
	if r.code != ExitUsage || !strings.Contains(r.stderr, "the console needs a terminal") {
		t.Errorf("leasectl without a terminal: exit %d, stderr %q; want 2 and a hint", r.code, r.stderr)
	}
}
