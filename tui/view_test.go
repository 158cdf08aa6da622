package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("View() of %s differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", name, path, got, want)
	}
}

// goldenConsole is a console with two stores and a third that cannot be
// reached, at w×h.
func goldenConsole(t *testing.T, w, hgt int) *harness {
	t.Helper()
	prod := newHistoryStore(t)
	staging := newStore(t)
	if err := staging.Delete(t.Context(), "exports/evil"); err != nil {
		t.Fatal(err)
	}
	down := Source{Name: "broken", Kind: "etcd", Connect: func(context.Context) (Backend, func() error, error) {
		return nil, nil, errors.New("etcd: dial 10.0.0.9:2379: connection refused")
	}}
	r := newRig(t, &auditLog{})
	opts := Options{
		Sources: []Source{r.source("prod", listOnlyHistory{prod, prod}), down, r.source("staging", listOnly{staging})},
		Demo:    true,
	}
	return newHarness(t, r, opts, w, hgt)
}

func TestViewGolden(t *testing.T) {
	tests := []struct {
		name  string
		w, h  int
		steps func(h *harness)
	}{
		{"main", 120, 30, func(h *harness) {}},
		{"main-100x30", 100, 30, func(h *harness) {}},
		{"detail", 120, 30, func(h *harness) {
			h.selectKey("prod", "exports/checkpoint")
			h.press("enter")
		}},
		{"detail-binary", 120, 30, func(h *harness) {
			h.selectKey("prod", "exports/binary")
			h.press("enter")
		}},
		{"takeover", 120, 30, func(h *harness) {
			h.selectKey("prod", "exports/orders")
			h.press("T")
			h.press("tab")
			h.typeText("incident 4711: exporter wedged")
		}},
		{"help", 120, 30, func(h *harness) { h.press("?") }},
		{"filter", 120, 30, func(h *harness) {
			h.press("/")
			h.typeText("expired")
		}},
		// Tiny panes: the stores pane, then the key help and the header
		// give way so that a lease shows.
		{"tiny-80x2", 80, 2, func(h *harness) {}},
		{"tiny-20x5", 20, 5, func(h *harness) {}},
		{"tiny-40x6", 40, 6, func(h *harness) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := goldenConsole(t, tt.w, tt.h)
			tt.steps(h)
			golden(t, tt.name, h.screen())
		})
	}
}

// sgr matches one Select Graphic Rendition sequence: the only escape
// sequence a styled frame may contain.
var sgr = regexp.MustCompile(`^\x1b\[[0-9;:]*m`)

// cursor matches the virtual cursor of a focused text input: reverse video
// over one character.
var cursor = regexp.MustCompile(`\x1b\[7m(.)\x1b\[m`)

func TestViewNeverEmitsStoreEscapes(t *testing.T) {
	screens := map[string]func(h *harness){
		"main":   func(h *harness) {},
		"detail": func(h *harness) { h.selectKey("prod", "exports/evil"); h.press("enter") },
		"acquire": func(h *harness) {
			h.selectKey("prod", "exports/evil")
			h.press("a")
		},
		"status": func(h *harness) {
			h.selectKey("prod", "exports/evil")
			h.press("a", "enter") // lost: the status line quotes the holder
		},
	}
	for name, steps := range screens {
		t.Run(name+"/plain", func(t *testing.T) {
			r := newRig(t, &auditLog{})
			h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{newStore(t)})}}, 120, 40)
			h.m.setStyles(plainStyles())
			steps(h)
			// The only styling left is the text input's block cursor.
			out := cursor.ReplaceAllString(h.m.View().Content, "$1")
			if i := strings.IndexByte(out, 0x1b); i >= 0 {
				t.Errorf("View() with no styles contains ESC at byte %d: %q", i, out[max(i-20, 0):min(i+20, len(out))])
			}
			if !strings.Contains(out, "␛[2J␛]0;pwn") {
				t.Errorf("View() does not show the holder's escapes as control pictures:\n%s", out)
			}
		})
		t.Run(name+"/styled", func(t *testing.T) {
			r := newRig(t, &auditLog{})
			h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{newStore(t)})}}, 120, 40)
			steps(h)
			out := h.m.View().Content
			for i := 0; i < len(out); i++ {
				if out[i] != 0x1b {
					continue
				}
				if !sgr.MatchString(out[i:]) {
					t.Fatalf("View() contains an escape sequence other than SGR at byte %d: %q", i, out[i:min(i+20, len(out))])
				}
			}
		})
	}
}

// TestTinyPanesShowALease checks that a pane of any size, however small,
// shows at least one lease, in exactly as many lines as the pane has.
func TestTinyPanesShowALease(t *testing.T) {
	for _, size := range [][2]int{{80, 2}, {20, 5}, {40, 6}, {120, 3}, {30, 1}, {100, 7}} {
		w, hgt := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, hgt), func(t *testing.T) {
			h := goldenConsole(t, w, hgt)
			screen := h.screen()
			lines := strings.Split(screen, "\n")
			if len(lines) != hgt {
				t.Errorf("%dx%d: the screen has %d lines, want %d:\n%s", w, hgt, len(lines), hgt, screen)
			}
			if !strings.Contains(screen, "exports/") {
				t.Errorf("%dx%d: no lease shows:\n%s", w, hgt, screen)
			}
		})
	}
}

// TestEverySizeRenders renders every screen at every small size: nothing
// panics, and no frame is taller or wider than the pane.
func TestEverySizeRenders(t *testing.T) {
	screens := map[string]func(h *harness){
		"table":    func(h *harness) {},
		"filter":   func(h *harness) { h.press("/"); h.typeText("or") },
		"detail":   func(h *harness) { h.press("enter") },
		"help":     func(h *harness) { h.press("?") },
		"takeover": func(h *harness) { h.selectKey("prod", "exports/orders"); h.press("T") },
	}
	for name, steps := range screens {
		t.Run(name, func(t *testing.T) {
			h := goldenConsole(t, 120, 30)
			steps(h)
			for w := 1; w <= 44; w += 3 {
				for hgt := 1; hgt <= 12; hgt++ {
					h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
					lines := strings.Split(h.screen(), "\n")
					if len(lines) != hgt {
						t.Errorf("%s at %dx%d: %d lines", name, w, hgt, len(lines))
					}
					for i, l := range lines {
						if lw := ansi.StringWidth(l); lw > w {
							t.Errorf("%s at %dx%d: line %d is %d cells wide: %q", name, w, hgt, i, lw, l)
							break
						}
					}
				}
			}
		})
	}
}
