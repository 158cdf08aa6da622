package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/leasectl/leasectl/stores"
)

// flakyList is a list-only store whose listings fail while the test says
// so: a store the console only lists, going down and coming back.
type flakyList struct {
	stores.Store
	mu  sync.Mutex
	err error
}

func (f *flakyList) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *flakyList) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Store.List(ctx, prefix)
}

// markedConsole is a console on two list-only stores holding the fixture:
// prod, red and production, whose listings the test can make fail, and
// staging, without a colour.
func markedConsole(t *testing.T, w, hgt int) (*harness, *flakyList) {
	t.Helper()
	prod := &flakyList{Store: newStore(t)}
	r := newRig(t, &auditLog{})
	p := r.source("prod", prod)
	p.Color, p.Production = "#D70000", true
	opts := Options{Sources: []Source{p, r.source("staging", listOnly{newStore(t)})}}
	return newHarness(t, r, opts, w, hgt), prod
}

// tick moves the console's clock on by d and lets it notice.
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.clock.Add(d)
	h.send(tickMsg{})
}

// pres are the escape sequences that open the cells the tests look for,
// on a row selected or not.
type pres struct{ cell, stale, red, redStale string }

func presOf(s *Styles, selected bool) pres {
	ink := func(st lipgloss.Style) string {
		if selected {
			st = st.Inherit(s.Selected)
		}
		return inkOf(st).pre
	}
	return pres{
		cell:     ink(s.Cell),
		stale:    ink(s.RowStale),
		red:      ink(s.storeStyle(s.Cell, "#D70000", false)),
		redStale: ink(s.storeStyle(s.RowStale, "#D70000", true)),
	}
}

// prodLine returns the screen line of key in prod, plain and styled.
func (h *harness) prodLine(key string) (string, string) {
	h.t.Helper()
	for _, l := range strings.Split(h.m.View().Content, "\n") {
		if p := plain(l); strings.Contains(p, key) && strings.Contains(p, "prod ") && !strings.Contains(p, "staging") {
			return p, l
		}
	}
	h.t.Fatalf("no line shows prod's %s:\n%s", key, h.screen())
	return "", ""
}

// checkRow checks the row of key in prod: current (in the normal inks,
// the store cell red) or stale (dimmed, faint red, marked, the age given).
func checkRow(t *testing.T, h *harness, key, age string) {
	t.Helper()
	r, _ := h.m.table.Selected()
	p := presOf(h.m.styles, r != nil && r.store == "prod" && r.entry.Key == key)
	line, styled := h.prodLine(key)
	if age == "" {
		if strings.Contains(line, "stale") || strings.Contains(line, "~prod") {
			t.Errorf("a current row is marked stale: %q", line)
		}
		if !strings.Contains(styled, p.cell+key) || !strings.Contains(styled, p.red+"prod") {
			t.Errorf("a current row is not in the cell ink with its store in red: %q", styled)
		}
		return
	}
	if !strings.Contains(line, "~prod") || !strings.Contains(line, "stale "+age) {
		t.Errorf("a stale row is not marked ~ and stale %s: %q", age, line)
	}
	if !strings.Contains(styled, p.stale+key) || !strings.Contains(styled, p.redStale+"prod") {
		t.Errorf("a stale row is not dimmed with its store in faint red: %q", styled)
	}
}

// TestStaleRowsOfAListedStore fails the listing of a store the console
// only lists: its rows stay, dimmed and marked with the age of the
// listing, the action dialogs say so, and all of it goes when a listing
// succeeds again. The frames before and after each change are rendered in
// the same second, so a row the cache kept would show.
func TestStaleRowsOfAListedStore(t *testing.T) {
	h, prod := markedConsole(t, 120, 30)
	h.tick(time.Minute)
	checkRow(t, h, "exports/orders", "")

	prod.setErr(errors.New("etcd: dial 10.0.0.9:2379: connection refused"))
	h.press("r")
	checkRow(t, h, "exports/orders", "1m")
	if l := h.line("prod    exports/skewed"); !strings.Contains(l, "stale 1m skewed") {
		t.Errorf("the stale mark does not lead the flags: %q", l)
	}
	if l := h.line("staging exports/orders"); strings.Contains(l, "stale") || strings.Contains(l, "~") {
		t.Errorf("the rows of a store that is fine are marked stale: %q", l)
	}
	h.tick(2*time.Minute + 5*time.Second)
	checkRow(t, h, "exports/orders", "3m")
	if l := h.line("● prod"); !strings.Contains(l, "rows stale 3m · error: etcd: dial") {
		t.Errorf("the stores pane does not say the rows are stale: %q", l)
	}

	for _, tt := range []struct{ key, press string }{{"exports/invoices", "a"}, {"exports/orders", "T"}, {"exports/orders", "X"}} {
		h.selectKey("prod", tt.key)
		h.press(tt.press)
		if !h.m.screen.dialog() {
			t.Fatalf("%s on %s opened no dialog: %s", tt.press, tt.key, h.statusText())
		}
		if sc := h.screen(); !strings.Contains(sc, "STALE 3m: store prod is in error, so this is the lease as last seen 3m ago") {
			t.Errorf("the %s dialog does not say its lease is stale:\n%s", tt.press, sc)
		}
		h.press("esc")
	}

	prod.setErr(nil)
	h.press("r")
	checkRow(t, h, "exports/orders", "")
	if l := h.line("● prod"); strings.Contains(l, "stale") || strings.Contains(l, "error") {
		t.Errorf("the stores pane still shows the outage: %q", l)
	}
	h.press("a")
	if sc := h.screen(); strings.Contains(sc, "STALE") {
		t.Errorf("the dialog on a store that recovered says stale:\n%s", sc)
	}
}

// TestStaleRowsOfAWatchedStore drives a watch by hand: an error marks the
// rows stale from the last moment the store was seen live, a dialog open
// on one says so and stops saying so when the store recovers, and a watch
// that ends leaves the rows stale too.
func TestStaleRowsOfAWatchedStore(t *testing.T) {
	mem := &chanStore{Store: newStore(t), ch: make(chan stores.Event, 16)}
	r := newRig(t, &auditLog{})
	src := r.source("prod", mem)
	src.Color = "#D70000"
	h := newHarness(t, r, Options{Sources: []Source{src}}, 120, 30, withAsync())
	s := func(m Model) *storeState { return m.byName["prod"] }
	h.waitFor("the watch", func(m Model) bool { return s(m).watching })
	mem.ch <- put("exports/orders", record("node-a", now0, now0+600), 1)
	mem.ch <- put("exports/invoices", record("node-b", now0, now0+600), 2)
	mem.ch <- stores.Event{Kind: stores.EventSynced}
	h.waitFor("the snapshot", func(m Model) bool { return s(m).conn == connLive && m.rows.count["prod"] == 2 })
	h.tick(10 * time.Second)
	checkRow(t, h, "exports/orders", "")

	mem.ch <- stores.Event{Kind: stores.EventError, Err: errors.New("etcd: lost leader")}
	h.waitFor("the error", func(m Model) bool { return s(m).err != nil })
	checkRow(t, h, "exports/orders", "0s")
	if got, want := s(h.m).staleSince, t0.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("stale since %v, want %v: the last moment the store was live", got, want)
	}
	h.tick(2 * time.Minute)
	checkRow(t, h, "exports/orders", "2m")

	h.selectKey("prod", "exports/orders")
	h.press("T")
	if sc := h.screen(); !strings.Contains(sc, "STALE 2m") {
		t.Errorf("the takeover dialog does not say its lease is stale:\n%s", sc)
	}
	// The store recovers under the dialog: it stops saying so.
	mem.ch <- put("exports/invoices", record("node-c", now0+130, now0+700), 3)
	h.waitFor("the recovery", func(m Model) bool { return s(m).err == nil })
	if sc := h.screen(); strings.Contains(sc, "STALE") || !strings.Contains(sc, "FORCE TAKEOVER") {
		t.Errorf("the dialog over a store that recovered still says stale:\n%s", sc)
	}
	h.press("esc")
	checkRow(t, h, "exports/orders", "")

	h.tick(time.Minute)
	close(mem.ch)
	h.waitFor("the end of the watch", func(m Model) bool { return s(m).conn == connFailed })
	checkRow(t, h, "exports/orders", "0s")
	if l := h.line("✗ prod"); !strings.Contains(l, "rows stale 0s") {
		t.Errorf("the stores pane does not say the rows are stale: %q", l)
	}
}

// TestProductionBanner opens every action dialog on a production store and
// on one that is not: only the first carries the banner, and the stores
// pane marks it, in full and in its one-line summary.
func TestProductionBanner(t *testing.T) {
	h, _ := markedConsole(t, 120, 40)
	for _, store := range []string{"prod", "staging"} {
		for _, tt := range []struct{ key, press string }{{"exports/invoices", "a"}, {"exports/orders", "T"}, {"exports/orders", "X"}} {
			h.selectKey(store, tt.key)
			h.press(tt.press)
			if !h.m.screen.dialog() {
				t.Fatalf("%s on %s/%s opened no dialog: %s", tt.press, store, tt.key, h.statusText())
			}
			sc := h.screen()
			banner := strings.Contains(sc, "│  PRODUCTION · prod ")
			if banner != (store == "prod") || strings.Contains(sc, "STALE") {
				t.Errorf("%s dialog on %s: banner %v, want %v:\n%s", tt.press, store, banner, store == "prod", sc)
			}
			h.press("esc")
		}
	}
	if l := h.line("● prod"); !strings.Contains(l, "prod    memory  PRODUCTION  · live") {
		t.Errorf("the stores pane does not mark prod: %q", l)
	}
	if l := h.line("● staging"); strings.Contains(l, "PRODUCTION") {
		t.Errorf("the stores pane marks staging production: %q", l)
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 6}) // the pane is one line
	if sc := h.screen(); !strings.Contains(sc, "2 stores · 2 live ·  1 PRODUCTION") {
		t.Errorf("the one-line stores pane does not count production stores:\n%s", sc)
	}
}

// TestMarksWithoutStyles renders the marks with plain styles (what a
// terminal without colour shows): no escape sequence, and every mark in
// words.
func TestMarksWithoutStyles(t *testing.T) {
	h, prod := markedConsole(t, 120, 40)
	h.m.setStyles(plainStyles())
	prod.setErr(errors.New("down"))
	h.tick(time.Minute)
	h.press("r")
	h.selectKey("prod", "exports/orders")
	h.press("T")
	out := cursor.ReplaceAllString(h.m.View().Content, "$1")
	if i := strings.IndexByte(out, 0x1b); i >= 0 {
		t.Errorf("View() with no styles contains ESC at byte %d: %q", i, out[max(i-20, 0):min(i+20, len(out))])
	}
	for _, want := range []string{"PRODUCTION · prod", "STALE 1m", "FORCE TAKEOVER  prod / exports/orders"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dialog without styles lacks %q:\n%s", want, out)
		}
	}
	h.press("esc")
	if l := h.line("prod    exports/orders"); !strings.Contains(l, "~prod") || !strings.Contains(l, "stale 1m") {
		t.Errorf("a stale row without styles is not marked: %q", l)
	}
}

// TestStaleEverySize renders stale rows at every small size: the mark that
// may push the flags past their column never makes a line wider than the
// pane.
func TestStaleEverySize(t *testing.T) {
	h, prod := markedConsole(t, 120, 30)
	prod.setErr(errors.New("down"))
	h.tick(time.Hour)
	h.press("r")
	for w := 1; w <= 130; w += 3 {
		for _, hgt := range []int{1, 3, 8, 30} {
			h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
			lines := strings.Split(h.screen(), "\n")
			if len(lines) != hgt {
				t.Errorf("%dx%d: %d lines", w, hgt, len(lines))
			}
			for i, l := range lines {
				if lw := lipgloss.Width(l); lw > w {
					t.Errorf("%dx%d: line %d is %d cells wide: %q", w, hgt, i, lw, l)
					break
				}
			}
		}
	}
}

// TestMarkedGolden pins a stale production store and a dialog on it.
func TestMarkedGolden(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps func(h *harness)
	}{
		{"stale", func(h *harness) {}},
		{"stale-takeover", func(h *harness) {
			h.selectKey("prod", "exports/orders")
			h.takeover("incident 4711: exporter wedged", "")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, prod := markedConsole(t, 120, 30)
			h.tick(30 * time.Second)
			prod.setErr(errors.New("etcd: dial 10.0.0.9:2379: connection refused"))
			h.press("r")
			h.tick(2 * time.Minute)
			tt.steps(h)
			golden(t, tt.name, h.screen())
		})
	}
}

// TestSnapshotAfterFailedDialIsFresh dials a store that fails at first:
// the rows its first snapshot brings are not stale, even before the
// snapshot is complete, for nothing older was ever shown.
func TestSnapshotAfterFailedDialIsFresh(t *testing.T) {
	mem := &chanStore{Store: newStore(t), ch: make(chan stores.Event, 16)}
	r := newRig(t, &auditLog{})
	b := r.backend("prod", mem)
	var dials atomic.Int32
	src := Source{Name: "prod", Kind: "etcd", Connect: func(context.Context) (Backend, func() error, error) {
		if dials.Add(1) == 1 {
			return nil, nil, errors.New("etcd: dial 10.0.0.9:2379: connection refused")
		}
		return b, nil, nil
	}}
	h := newHarness(t, r, Options{Sources: []Source{src}}, 120, 30, withAsync())
	s := func(m Model) *storeState { return m.byName["prod"] }
	h.waitFor("the failed dial", func(m Model) bool { return s(m).conn == connFailed && len(h.scheduled) > 0 })
	h.tick(time.Minute)
	h.send(h.scheduled[0]) // the retry
	h.waitFor("the watch", func(m Model) bool { return s(m).watching })
	mem.ch <- put("exports/orders", record("node-a", now0, now0+600), 1)
	h.waitFor("the first row", func(m Model) bool { return m.rows.count["prod"] == 1 })
	if l := h.line("exports/orders"); strings.Contains(l, "stale") || strings.Contains(l, "~") {
		t.Errorf("a row of a first snapshot is marked stale: %q", l)
	}
	mem.ch <- stores.Event{Kind: stores.EventError, Err: errors.New("etcd: lost leader")}
	h.waitFor("the error", func(m Model) bool { return s(m).err != nil })
	if l := h.line("exports/orders"); !strings.Contains(l, "stale 0s") {
		t.Errorf("a row of a snapshot cut short is not marked stale: %q", l)
	}
}

// BenchmarkViewStale renders frames of 100,000 leases, each a second after
// the last so that every visible row is rendered again, with the store
// live and with it in error (every row stale): the cost of the stale
// marks, for comparison.
func BenchmarkViewStale(b *testing.B) {
	for _, stale := range []bool{false, true} {
		name := "live"
		if stale {
			name = "stale"
		}
		b.Run(name, func(b *testing.B) {
			m := benchConsole(b, 100_000)
			if stale {
				m.byName["prod"].err = errors.New("etcd: lost leader")
				m.syncStores()
				if _, ok := m.table.marks["prod"].staleFor(m.now); !ok {
					b.Fatal("the store is not stale")
				}
			}
			now := m.now
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Second)
				m.table.SetNow(now)
				_ = m.View()
			}
		})
	}
}
