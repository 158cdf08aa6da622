package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/timeline"
)

// TestTimelineObserved follows a store that keeps no history through its
// watch: the details of a key that changed draw its timeline from what the
// console observed, with the time each change was seen, and say so; a key
// that never changed keeps nothing.
func TestTimelineObserved(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	st := &chanStore{Store: mem, ch: make(chan stores.Event, 16)}
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("w", st)}}, 80, 50, withAsync())
	s := func(m Model) *storeState { return m.byName["w"] }
	h.waitFor("the watch", func(m Model) bool { return s(m).watching })

	// The snapshot: a round running when the console started, and a quiet key.
	st.ch <- put("exports/orders", record("node-a", now0-30, now0+30), 1)
	st.ch <- put("exports/quiet", record("node-q", now0-30, now0+30), 2)
	st.ch <- stores.Event{Kind: stores.EventSynced}
	h.waitFor("the snapshot", func(m Model) bool { return s(m).conn == connLive && m.rows.count["w"] == 2 })

	// node-a completes at now0; then abandons 10 s later, seen then.
	done := lease.Record{HolderID: "node-a", AcquiredAtUnix: now0 - 30, ExpiresAtUnix: now0 + 30, CompletedCursorHex: "2a"}
	st.ch <- put("exports/orders", done.Encode(), 3)
	h.waitFor("the completion", func(m Model) bool { r, _ := m.rows.get("w", "exports/orders"); return r.entry.Revision == 3 })
	r.clock.Add(10 * time.Second)
	st.ch <- put("exports/orders", []byte{}, 4)
	h.waitFor("the abandon", func(m Model) bool { r, _ := m.rows.get("w", "exports/orders"); return r.entry.Revision == 4 })

	if got := h.m.detail.obs.changes("w", "exports/orders"); len(got) != 3 || got[0].Entry.Revision != 1 || !got[0].At.IsZero() ||
		got[1].Entry.Revision != 3 || got[2].Entry.Revision != 4 || !got[2].At.Equal(t0.Add(10*time.Second)) {
		t.Errorf("observed changes of exports/orders = %v, want revisions 1 (the row before, time unknown), 3, 4 (seen at t0+10s)", revisions(got))
	}
	if got := h.m.detail.obs.changes("w", "exports/quiet"); got != nil {
		t.Errorf("a key that never changed kept %v", revisions(got))
	}

	h.selectKey("w", "exports/orders")
	h.press("enter")
	h.waitFor("the history", func(m Model) bool { return !m.detail.histLoading })
	screen := h.screen()
	for _, want := range []string{
		"not kept by w (memory)",
		"timeline from the 3 changes this console observed since it started",
		"timeline ", "from this process's watch",
		"node-a ",
		"completed cursor 2a",
		"abandoned",
		"observed",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the details do not show %q:\n%s", want, screen)
		}
	}
	golden(t, "detail-timeline-observed-80x50", screen)

	// The audit log's actions on the key join the timeline; others' do not.
	release := audit.Entry{ID: "0123456789ab", Time: t0.Add(10 * time.Second), Operator: "alice", Store: "w", Key: "exports/orders",
		Action: lease.ActionRelease, Reason: "stuck", Outcome: lease.OutcomeWon, RevisionAfter: 4, ValueAfter: []byte{}}
	other := release
	other.Key, other.ID = "exports/quiet", "ba9876543210"
	h.m.detail.SetActions([]audit.Entry{release, other})
	screen = h.screen()
	if !strings.Contains(screen, "released by alice") || !strings.Contains(screen, "observed+audit") || strings.Contains(screen, "ba98") {
		t.Errorf("the details do not show alice's release of this key (and only it):\n%s", screen)
	}
}

func revisions(cs []timeline.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%d@%v ", c.Entry.Revision, c.At)
	}
	return b.String()
}

// TestTimelineObservedByListing: a store that cannot be watched is
// re-listed; the keys a re-listing shows changed are kept for their
// timelines, with the time of the listing.
func TestTimelineObservedByListing(t *testing.T) {
	h, store := actionConsole(t, &auditLog{})
	st := h.m.byName["prod"]
	if !st.noWatch {
		t.Fatal("prod is watched; this test needs a store that is only listed")
	}
	e, ok := h.m.rows.get("prod", "exports/orders")
	if !ok {
		t.Fatal("no exports/orders in prod")
	}
	done := lease.Record{HolderID: "node-z", AcquiredAtUnix: now0, ExpiresAtUnix: now0 + 60}
	rev, err := store.Update(t.Context(), "exports/orders", done.Encode(), e.entry.Revision)
	if err != nil {
		t.Fatal(err)
	}
	h.press("r")
	h.waitFor("the re-listing", func(m Model) bool { r, _ := m.rows.get("prod", "exports/orders"); return r.entry.Revision == rev })
	got := h.m.detail.obs.changes("prod", "exports/orders")
	if len(got) != 2 || got[0].Entry.Revision != e.entry.Revision || got[1].Entry.Revision != rev || !got[1].At.Equal(h.m.now) {
		t.Errorf("observed = %s, want the row before and the change at the listing's time", revisions(got))
	}
	if n := len(h.m.detail.obs.changes("prod", "exports/invoices")); n != 0 {
		t.Errorf("a key the re-listing shows unchanged kept %d changes", n)
	}
}

// TestTimelineActionsFromTheAuditLog opens the details with an audit source:
// the operator actions the log holds for the key are drawn in its timeline.
func TestTimelineActionsFromTheAuditLog(t *testing.T) {
	src := &entrySource{}
	h, st := actionConsole(t, &auditLog{}, func(_ *rig, _ *memory.Store, o *Options) { o.Audit = src })
	cur, err := st.Get(t.Context(), "exports/orders")
	if err != nil {
		t.Fatal(err)
	}
	takeover := audit.Entry{ID: "0123456789ab", Time: t0.Add(-time.Minute), Operator: "alice", Host: "h", Store: "prod", Key: "exports/orders",
		Action: lease.ActionTakeover, Reason: "wedged exporter", Outcome: lease.OutcomeWon, RevisionAfter: cur.Revision, ValueAfter: cur.Value}
	elsewhere := takeover
	elsewhere.Store, elsewhere.ID = "staging", "ba9876543210"
	src.set(takeover, elsewhere)
	h.selectKey("prod", "exports/orders")
	h.press("enter")
	h.waitFor("the audit log's actions", func(m Model) bool { return len(m.detail.actions) == 1 })
	if screen := h.screen(); !strings.Contains(screen, "takeover by alice: wedged exporter") || !strings.Contains(screen, "store+audit") {
		t.Errorf("the details' timeline does not show alice's takeover from the audit log:\n%s", screen)
	}
}
