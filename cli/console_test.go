package cli

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/lease"
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
func connect(t *testing.T, src tui.Source) tui.Backend {
	t.Helper()
	b, closer, err := src.Connect(t.Context())
	if err != nil {
		t.Fatalf("Connect(%s) = %v", src.Name, err)
	}
	if closer != nil {
		t.Cleanup(func() { closer() })
	}
	return b
}

// refusesWrites reports whether b refuses an acquire as read-only. The
// request's ttl of zero breaks a rule checked after read-only, so that a
// writable backend refuses it too and nothing is audited or written.
func refusesWrites(t *testing.T, b tui.Backend) bool {
	t.Helper()
	_, err := b.Do(t.Context(), lease.Request{Action: lease.ActionAcquire, Key: "exports/orders"})
	if !errors.Is(err, lease.ErrInvalidRequest) {
		t.Fatalf("Do(acquire with ttl 0) = %v, want a refusal by the rules", err)
	}
	return errors.Is(err, stores.ErrReadOnly)
}

func TestConsoleSetupDemo(t *testing.T) {
	noConfig(t)
	for _, readOnly := range []bool{false, true} {
		setup, err := setupConsole(t.Context(), Env{}, &globals{readOnly: readOnly})
		if err != nil {
			t.Fatalf("setupConsole() = %v", err)
		}
		o := setup.opts
		if !o.Demo || len(o.Sources) != 1 || o.Sources[0].Name != demo.StoreName || o.Operator == "" {
			t.Errorf("demo options = %+v, want one source %q, Demo and an operator", o, demo.StoreName)
		}
		if o.ReadOnly != readOnly || o.Sources[0].ReadOnly != readOnly {
			t.Errorf("--read-only=%v: options read-only %v, source %v", readOnly, o.ReadOnly, o.Sources[0].ReadOnly)
		}
		b := connect(t, o.Sources[0])
		if readOnly && !refusesWrites(t, b) {
			t.Errorf("--read-only: the demo backend does not refuse writes")
		}
		entries, err := b.List(t.Context())
		if err != nil {
			t.Fatalf("List() = %v", err)
		}
		if !slices.ContainsFunc(entries, func(e stores.Entry) bool { return e.Key == "exports/legacy-billing" }) || len(entries) < 6 {
			t.Errorf("the demo store holds %d keys without exports/legacy-billing: the fleet was not seeded", len(entries))
		}
		if h, err := b.History(t.Context(), "exports/legacy-billing"); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("History() of the demo = %v, %v; want errors.ErrUnsupported (the memory store keeps none)", h, err)
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
				b := connect(t, s)
				if got := refusesWrites(t, b); got != s.ReadOnly {
					t.Errorf("source %s: backend refuses writes %v, source read-only %v", s.Name, got, s.ReadOnly)
				}
				if _, err := b.List(t.Context()); err != nil {
					t.Errorf("source %s: List() = %v", s.Name, err)
				}
				// No read-only wrapper may hide the store's watch or history.
				ctx, cancel := context.WithCancel(t.Context())
				if _, err := b.Watch(ctx); err != nil {
					t.Errorf("source %s: Watch() = %v, want a watch (NATS KV can be watched)", s.Name, err)
				}
				cancel()
				if _, err := b.History(t.Context(), "exports/orders"); errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("source %s: History() = %v, want NATS KV's history", s.Name, err)
				}
			}
			if !slices.Equal(names, tt.want) || !slices.Equal(ro, tt.wantRO) {
				t.Errorf("sources = %v read-only %v, want %v %v", names, ro, tt.want, tt.wantRO)
			}
			if o.Demo || o.Operator != "alice" || o.ReadOnly != tt.wantGlobal {
				t.Errorf("options = demo %v, operator %q, read-only %v", o.Demo, o.Operator, o.ReadOnly)
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
