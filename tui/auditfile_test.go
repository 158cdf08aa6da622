//go:build !js

package tui

// The audit log is a file with flock(2), which the browser build has not:
// this test runs wherever the terminal console does.

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

// TestAuditRevert takes a lease over by mistake and reverts it from the
// audit view, through a real audit log file: the store holds the original
// bytes again, the view shows the revert, and reverting the same entry
// again is refused because the key changed since.
func TestAuditRevert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, st := actionConsole(t, log, func(_ *rig, _ *memory.Store, o *Options) { o.Audit = AuditFile(path) })
	const key = "exports/orders"
	original := get(t, st, key)
	h.selectKey("prod", key)
	h.takeover("mistake", "orders")
	h.press("enter")
	took := get(t, st, key)
	if took.Revision == original.Revision {
		t.Fatalf("the takeover did not write: %s", h.statusText())
	}

	h.press("L")
	if got := h.shownIDs(); len(got) != 1 {
		t.Fatalf("audit rows = %v, want the takeover", got)
	}
	h.press("u")
	if !h.m.screen.dialog() || h.m.dialog.action != lease.ActionRevert {
		t.Fatalf("u did not open the revert dialog: %s", h.statusText())
	}
	if h.m.dialog.stale {
		t.Errorf("the revert dialog says the key changed, but it is as the takeover left it")
	}
	h.press("tab")
	h.typeText("orders")
	h.press("enter") // no reason
	if !strings.Contains(h.m.dialog.err, "reason") || h.m.dialog.focus != 0 {
		t.Errorf("dialog error = %q on field %d, want a reason asked for", h.m.dialog.err, h.m.dialog.focus)
	}
	h.typeText("undo")
	h.press("enter", "enter")
	if got := h.statusText(); !strings.HasPrefix(got, "won: reverted prod/exports/orders") {
		t.Errorf("status = %q, want won: reverted…", got)
	}
	now := get(t, st, key)
	if !bytes.Equal(now.Value, original.Value) || now.Revision <= took.Revision {
		t.Errorf("after the revert %s = %q at %d, want %q past %d", key, now.Value, now.Revision, original.Value, took.Revision)
	}
	if h.m.screen != screenAudit || len(h.shownIDs()) != 2 || h.m.audit.rows[0].e.Action != lease.ActionRevert {
		t.Errorf("after the revert the view shows %v on %v, want the revert on top", h.shownIDs(), h.m.screen)
	}
	if e, _ := h.m.audit.Selected(); e.Action != lease.ActionTakeover {
		t.Errorf("selected %v, want the takeover still", e.Action)
	}

	// Again: the key changed since the takeover wrote it.
	h.press("u")
	if !h.m.dialog.stale || !strings.Contains(h.screen(), "The key changed since that action wrote it") {
		t.Errorf("the second revert's dialog does not warn that the key changed:\n%s", h.screen())
	}
	h.typeText("again")
	h.press("tab")
	h.typeText("orders")
	h.press("enter")
	if got := h.statusText(); !strings.HasPrefix(got, "refused: the key changed since") {
		t.Errorf("status = %q, want refused: the key changed since", got)
	}
	if after := get(t, st, key); after.Revision != now.Revision {
		t.Errorf("the refused revert wrote: revision %d → %d", now.Revision, after.Revision)
	}
	entries, err := audit.ReadFile(path)
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit log = %+v, %v; want 3 actions", entries, err)
	}
	if entries[2].Outcome != lease.OutcomeChanged || entries[2].Reverts != entries[0].ID || entries[1].Reverts != entries[0].ID {
		t.Errorf("audit log = %+v, want two reverts of %s, the second changed", entries, entries[0].ID)
	}
}
