package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// chanStore is a memory store whose watch stream the test writes by hand,
// to send what a driver sends after a server restart (EventError,
// EventReset).
type chanStore struct {
	stores.Store
	ch chan stores.Event
}

func (c *chanStore) Watch(context.Context, string) (<-chan stores.Event, error) { return c.ch, nil }

func put(key string, value []byte, rev uint64) stores.Event {
	return stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: key, Value: value, Revision: rev}}
}

func TestWatchEvents(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &chanStore{Store: mem, ch: make(chan stores.Event, 16)}
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("w", st)}}, 120, 30, withAsync())
	s := func(m Model) *storeState { return m.byName["w"] }
	h.waitFor("the watch", func(m Model) bool { return s(m).watching })

	st.ch <- put("a", record("node-a", now0, now0+60), 1)
	st.ch <- put("b", record("node-b", now0, now0+60), 2)
	st.ch <- stores.Event{Kind: stores.EventSynced}
	h.waitFor("the snapshot", func(m Model) bool { return s(m).conn == connLive && m.rows.count["w"] == 2 })
	if r, _ := h.row("w", "a"); !r.changed().IsZero() {
		t.Error("a snapshot row is marked as changed")
	}

	st.ch <- put("a", record("node-x", now0, now0+60), 3)
	h.waitFor("the change of a", func(m Model) bool { r, _ := m.rows.get("w", "a"); return r.entry.Revision == 3 })
	if r, _ := h.row("w", "a"); r.holder() != "node-x" || !r.changed().Equal(t0) {
		t.Errorf("a = %q changed %v, want node-x marked", r.holder(), r.changed())
	}

	st.ch <- stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: "b", Revision: 4}}
	h.waitFor("the deletion of b", func(m Model) bool { _, ok := m.rows.get("w", "b"); return !ok })

	st.ch <- stores.Event{Kind: stores.EventError, Err: errors.New("etcd: lost leader\x1b]0;x\x07")}
	h.waitFor("the error", func(m Model) bool { return s(m).err != nil })
	if !strings.Contains(h.screen(), "error: etcd: lost leader␛]0;x␇") {
		t.Errorf("the stores pane does not show the cleaned error:\n%s", h.screen())
	}

	st.ch <- stores.Event{Kind: stores.EventReset}
	h.waitFor("the reset", func(m Model) bool { return m.rows.count["w"] == 0 && s(m).conn == connSyncing })
	st.ch <- put("c", record("node-c", now0, now0+60), 5)
	st.ch <- stores.Event{Kind: stores.EventSynced}
	h.waitFor("the new snapshot", func(m Model) bool { return s(m).conn == connLive && m.rows.count["w"] == 1 })
	if _, ok := h.row("w", "a"); ok {
		t.Error("a row from before the reset survived it")
	}
	if s(h.m).err != nil {
		t.Errorf("the error survived the new snapshot: %v", s(h.m).err)
	}

	close(st.ch)
	h.waitFor("the end of the watch", func(m Model) bool { return !s(m).watching })
	if len(h.scheduled) == 0 || !strings.Contains(h.screen(), "watch ended") {
		t.Errorf("no retry scheduled (%v) or not shown:\n%s", h.scheduled, h.screen())
	}
	if _, ok := h.row("w", "c"); !ok {
		t.Error("the rows were dropped when the watch ended")
	}
}

func TestWatchMemoryStore(t *testing.T) {
	st := newStore(t)
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("prod", st)}}, 120, 40, withAsync())
	h.waitFor("the snapshot", func(m Model) bool {
		return m.byName["prod"].conn == connLive && m.rows.count["prod"] == len(fixture)
	})
	if !strings.Contains(h.screen(), "prod memory · live") || strings.Contains(h.screen(), "no watch") {
		t.Errorf("the stores pane does not show a live watch:\n%s", h.screen())
	}

	if _, err := st.Create(t.Context(), "exports/new", record("node-n", now0, now0+60)); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the new key", func(m Model) bool { _, ok := m.rows.get("prod", "exports/new"); return ok })
	if err := st.Delete(t.Context(), "exports/orders"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the deleted key", func(m Model) bool { _, ok := m.rows.get("prod", "exports/orders"); return !ok })

	// A takeover whose dialog was opened before a change: the dialog says
	// so, and the CAS against what the operator saw fails.
	h.selectKey("prod", "exports/invoices")
	h.takeover("incident", "invoices")
	seen := get(t, st, "exports/invoices")
	if _, err := st.Update(t.Context(), "exports/invoices", record("node-w", now0, now0+60), seen.Revision); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the change under the dialog", func(m Model) bool { return m.dialog.stale })
	if !strings.Contains(h.screen(), "Changed since this dialog opened") {
		t.Errorf("the dialog does not warn of the change:\n%s", h.screen())
	}
	h.press("enter")
	h.waitFor("the outcome", func(m Model) bool { return !m.screen.dialog() })
	if got := h.statusText(); !strings.HasPrefix(got, "changed since you looked: prod/exports/invoices is now held by node-w") {
		t.Errorf("status = %q", got)
	}
	if got := holderOf(t, st, "exports/invoices"); got != "node-w" {
		t.Errorf("holder = %q, want node-w", got)
	}
}

// TestRelistClearsWatchError re-lists a watched store whose watch reported
// an error (a server restart it resumed from without any key changing):
// the store answered, so the stores pane no longer shows the error.
func TestRelistClearsWatchError(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &chanStore{Store: mem, ch: make(chan stores.Event, 16)}
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("w", st)}}, 120, 30, withAsync())
	s := func(m Model) *storeState { return m.byName["w"] }
	h.waitFor("the watch", func(m Model) bool { return s(m).watching })
	st.ch <- stores.Event{Kind: stores.EventSynced}
	st.ch <- stores.Event{Kind: stores.EventError, Err: errors.New("natskv: watch: connection lost (RECONNECTING)")}
	h.waitFor("the error", func(m Model) bool { return s(m).err != nil })
	h.press("r")
	h.waitFor("the listing", func(m Model) bool { return !strings.Contains(m.status.text, "re-listing") || s(m).err == nil })
	if line := lineWith(h.screen(), "w "); strings.Contains(line, "error") || !strings.Contains(line, "live") {
		t.Errorf("after a re-list the stores pane shows %q, want the store live without the old error", line)
	}
}

// lineWith returns the first line of screen holding text, or "".
func lineWith(screen, text string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, text) {
			return l
		}
	}
	return ""
}
