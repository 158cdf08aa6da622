package tui

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// actionConsole is a console on one list-only store "prod" holding the
// fixture, auditing to audit; mod may change its options.
func actionConsole(t *testing.T, audit lease.Auditor, mod ...func(*rig, *memory.Store, *Options)) (*harness, *memory.Store) {
	t.Helper()
	st := newStore(t)
	r := newRig(t, audit)
	opts := Options{Sources: []Source{r.source("prod", listOnly{st})}}
	for _, f := range mod {
		f(r, st, &opts)
	}
	return newHarness(t, r, opts, 120, 40), st
}

// snapshot lists a store, to prove that nothing was written.
func snapshot(t *testing.T, st stores.Store) []stores.Entry {
	t.Helper()
	l, err := st.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	return l
}

func sameEntries(a, b []stores.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y stores.Entry) bool {
		return x.Key == y.Key && x.Revision == y.Revision && bytes.Equal(x.Value, y.Value)
	})
}

// holderOf decodes the holder stored under key.
func holderOf(t *testing.T, st stores.Store, key string) string {
	t.Helper()
	r, err := lease.Decode(get(t, st, key).Value)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", key, err)
	}
	return r.HolderID
}

// takeover fills and confirms the takeover dialog of the selected lease.
func (h *harness) takeover(reason, confirm string) {
	h.t.Helper()
	h.press("T", "tab")
	h.typeText(reason)
	h.press("tab")
	h.typeText(confirm)
}

// release fills the release dialog of the selected lease.
func (h *harness) release(reason, confirm string) {
	h.t.Helper()
	h.press("X")
	h.typeText(reason)
	h.press("tab")
	h.typeText(confirm)
}

func TestAcquire(t *testing.T) {
	tests := []struct {
		key        string
		wantStatus string
		won        bool
	}{
		{"exports/released", "won: acquired prod/exports/released", true},
		{"exports/invoices", "won: acquired prod/exports/invoices", true},
		{"exports/corrupt", "won: acquired prod/exports/corrupt", true},
		{"exports/binary", "won: acquired prod/exports/binary", true},
		{"exports/orders", "lost: prod/exports/orders is held by node-a, in 4m12s; nothing was written", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			audit := &auditLog{}
			h, st := actionConsole(t, audit)
			before := get(t, st, tt.key)
			h.selectKey("prod", tt.key)
			h.press("a")
			if !h.m.screen.dialog() || h.m.dialog.value(fieldTTL) != defaultTTL {
				t.Fatalf("after a: dialog open %v with ttl %q, want open with %q", h.m.screen.dialog(), h.m.dialog.value(fieldTTL), defaultTTL)
			}
			h.press("enter")
			if h.m.screen.dialog() {
				t.Errorf("dialog still open after the action: %s", h.m.dialog.err)
			}
			if got := h.statusText(); !strings.HasPrefix(got, tt.wantStatus) {
				t.Errorf("status = %q, want prefix %q", got, tt.wantStatus)
			}
			after := get(t, st, tt.key)
			r, _ := h.row("prod", tt.key)
			if !tt.won {
				if after.Revision != before.Revision {
					t.Errorf("store revision = %d, want %d (unchanged)", after.Revision, before.Revision)
				}
				if got := audit.outcomes(); !slices.Equal(got, []string{"acquire:pending", "acquire:lost"}) {
					t.Errorf("audit = %v, want pending, lost", got)
				}
				return
			}
			if got := holderOf(t, st, tt.key); got != "operator:alice" {
				t.Errorf("holder in the store = %q, want operator:alice", got)
			}
			want := lease.Record{HolderID: "operator:alice", AcquiredAtUnix: now0, ExpiresAtUnix: now0 + 900}.Encode()
			if !bytes.Equal(after.Value, want) {
				t.Errorf("stored %s, want %s", after.Value, want)
			}
			if r.entry.Revision != after.Revision || r.status.State != lease.Held || r.holder() != "operator:alice" {
				t.Errorf("row = rev %d %v by %q, want rev %d held by operator:alice", r.entry.Revision, r.status.State, r.holder(), after.Revision)
			}
			if !r.changed().Equal(t0) {
				t.Errorf("row changedAt = %v, want %v (marked as just changed)", r.changed(), t0)
			}
			if got := audit.outcomes(); !slices.Equal(got, []string{"acquire:pending", "acquire:won"}) {
				t.Errorf("audit = %v, want pending, won", got)
			}
		})
	}
}

func TestAcquireTTL(t *testing.T) {
	tests := []struct {
		ttl     string
		wantErr string
		wantExp uint64
	}{
		{"500ms", "want at least 1s", 0},
		{"0s", "want at least 1s", 0},
		{"soon", "want a duration", 0},
		{"1s", "", now0 + 1},
		{"1h30m", "", now0 + 5400},
	}
	for _, tt := range tests {
		t.Run(tt.ttl, func(t *testing.T) {
			h, st := actionConsole(t, &auditLog{})
			h.selectKey("prod", "exports/released")
			h.press("a")
			for range len(defaultTTL) {
				h.press("backspace")
			}
			h.typeText(tt.ttl)
			h.press("enter")
			if tt.wantErr != "" {
				if !h.m.screen.dialog() || !strings.Contains(h.m.dialog.err, tt.wantErr) {
					t.Errorf("ttl %q: dialog open %v, error %q, want open with %q", tt.ttl, h.m.screen.dialog(), h.m.dialog.err, tt.wantErr)
				}
				if e := get(t, st, "exports/released"); len(e.Value) != 0 {
					t.Errorf("ttl %q: the store was written: %s", tt.ttl, e.Value)
				}
				return
			}
			r, err := lease.Decode(get(t, st, "exports/released").Value)
			if err != nil || r.ExpiresAtUnix != tt.wantExp {
				t.Errorf("ttl %q: stored record %+v, %v; want expiry %d", tt.ttl, r, err, tt.wantExp)
			}
		})
	}
}

func TestTakeover(t *testing.T) {
	t.Run("won over a live lease", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		h.selectKey("prod", "exports/orders")
		h.takeover("incident 4711", "orders")
		if !h.m.dialog.freshOK || h.m.dialog.fresh.HolderID != "operator:alice" || h.m.dialog.fresh.ExpiresAtUnix != now0+900 {
			t.Errorf("preview = %+v (ok %v), want operator:alice until %d", h.m.dialog.fresh, h.m.dialog.freshOK, now0+900)
		}
		h.press("enter")
		if got := holderOf(t, st, "exports/orders"); got != "operator:alice" {
			t.Errorf("holder in the store = %q, want operator:alice", got)
		}
		if got := h.statusText(); !strings.HasPrefix(got, "won: took over prod/exports/orders") {
			t.Errorf("status = %q, want won: took over", got)
		}
		if got := audit.outcomes(); !slices.Equal(got, []string{"takeover:pending", "takeover:won"}) {
			t.Errorf("audit = %v", got)
		}
		if audit.records[0].Reason != "incident 4711" || audit.records[0].RevisionBefore != 1 {
			t.Errorf("audit intent = reason %q at rev %d, want incident 4711 at 1", audit.records[0].Reason, audit.records[0].RevisionBefore)
		}
	})

	t.Run("changed since you looked", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		h.selectKey("prod", "exports/orders")
		h.takeover("incident 4711", "orders")
		// Behind the console's back, node-z wins the next round.
		seen := get(t, st, "exports/orders")
		rev, err := st.Update(t.Context(), "exports/orders", record("node-z", now0, now0+300), seen.Revision)
		if err != nil {
			t.Fatal(err)
		}
		h.press("enter")
		want := "changed since you looked: prod/exports/orders is now held by node-z"
		if got := h.statusText(); !strings.HasPrefix(got, want) || !strings.Contains(got, "nothing was written") {
			t.Errorf("status = %q, want %q… nothing was written", got, want)
		}
		if got := holderOf(t, st, "exports/orders"); got != "node-z" {
			t.Errorf("holder in the store = %q, want node-z (nothing written)", got)
		}
		r, _ := h.row("prod", "exports/orders")
		if r.entry.Revision != rev || r.holder() != "node-z" || !r.changed().Equal(t0) {
			t.Errorf("row = rev %d by %q changed %v, want rev %d by node-z, marked", r.entry.Revision, r.holder(), r.changed(), rev)
		}
		if !strings.Contains(h.screen(), "node-z") {
			t.Errorf("the table does not show the new holder:\n%s", h.screen())
		}
		// Every attempt is audited, whichever check caught the change.
		if got, want := audit.outcomes(), []string{"takeover:pending", "takeover:changed"}; !slices.Equal(got, want) {
			t.Errorf("audit = %v, want %v", got, want)
		}
	})

	t.Run("wrong segment does not write", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		before := snapshot(t, st)
		h.selectKey("prod", "exports/orders")
		for _, wrong := range []string{"order", "exports/orders", "ORDERS", ""} {
			h.takeover("incident 4711", wrong)
			h.press("enter")
			if !h.m.screen.dialog() || !strings.Contains(h.m.dialog.err, "type orders ") {
				t.Errorf("confirm %q: dialog open %v, error %q, want open asking for \"orders\"", wrong, h.m.screen.dialog(), h.m.dialog.err)
			}
			h.press("esc")
		}
		if !sameEntries(snapshot(t, st), before) || len(audit.outcomes()) != 0 {
			t.Errorf("the store or the audit log changed: audit %v", audit.outcomes())
		}
	})

	t.Run("reason required", func(t *testing.T) {
		h, st := actionConsole(t, &auditLog{})
		before := snapshot(t, st)
		h.selectKey("prod", "exports/orders")
		h.takeover("   ", "orders")
		h.press("enter")
		if !h.m.screen.dialog() || !strings.Contains(h.m.dialog.err, "reason is required") || h.m.dialog.fields[h.m.dialog.focus].name != fieldReason {
			t.Errorf("dialog open %v, error %q, focus %d; want the reason asked for", h.m.screen.dialog(), h.m.dialog.err, h.m.dialog.focus)
		}
		if !sameEntries(snapshot(t, st), before) {
			t.Error("the store changed")
		}
	})
}

func TestRelease(t *testing.T) {
	t.Run("released", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		h.selectKey("prod", "exports/invoices")
		h.release("stuck replica", "invoices")
		h.press("enter")
		e := get(t, st, "exports/invoices")
		if len(e.Value) != 0 {
			t.Errorf("stored %q, want a tombstone", e.Value)
		}
		want := "released prod/exports/invoices: tombstone at revision"
		if got := h.statusText(); !strings.HasPrefix(got, want) {
			t.Errorf("status = %q, want prefix %q", got, want)
		}
		if r, _ := h.row("prod", "exports/invoices"); r.status.State != lease.Tombstone || r.entry.Revision != e.Revision {
			t.Errorf("row = %v at %d, want tombstone at %d", r.status.State, r.entry.Revision, e.Revision)
		}
		if got := audit.outcomes(); !slices.Equal(got, []string{"release:pending", "release:won"}) {
			t.Errorf("audit = %v", got)
		}
	})

	t.Run("changed since you looked", func(t *testing.T) {
		h, st := actionConsole(t, &auditLog{})
		h.selectKey("prod", "exports/invoices")
		h.release("stuck replica", "invoices")
		seen := get(t, st, "exports/invoices")
		if _, err := st.Update(t.Context(), "exports/invoices", record("node-y", now0, now0+300), seen.Revision); err != nil {
			t.Fatal(err)
		}
		h.press("enter")
		if got := h.statusText(); !strings.HasPrefix(got, "changed since you looked: prod/exports/invoices is now held by node-y") {
			t.Errorf("status = %q", got)
		}
		if got := holderOf(t, st, "exports/invoices"); got != "node-y" {
			t.Errorf("holder = %q, want node-y: the release must not overwrite what the operator has not seen", got)
		}
	})

	t.Run("deleted since you looked", func(t *testing.T) {
		h, st := actionConsole(t, &auditLog{})
		h.selectKey("prod", "exports/invoices")
		h.release("stuck replica", "invoices")
		if err := st.Delete(t.Context(), "exports/invoices"); err != nil {
			t.Fatal(err)
		}
		h.press("enter")
		if got := h.statusText(); !strings.HasPrefix(got, "changed since you looked: prod/exports/invoices is now absent") {
			t.Errorf("status = %q", got)
		}
		if _, ok := h.row("prod", "exports/invoices"); ok {
			t.Error("the row of the deleted key is still shown")
		}
	})
}

func TestReadOnlyRefuses(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*rig, *memory.Store, *Options)
		why  string
	}{
		{"console read-only", func(_ *rig, _ *memory.Store, o *Options) { o.ReadOnly = true }, "leasectl runs read-only"},
		{"store read-only", func(r *rig, st *memory.Store, o *Options) {
			o.Sources[0] = r.readOnlySource("prod", "memory", listOnly{st})
		}, "store prod is read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audit := &auditLog{}
			h, st := actionConsole(t, audit, tt.mod)
			before := snapshot(t, st)
			h.selectKey("prod", "exports/released")
			for _, b := range []struct {
				name    string
				enabled bool
			}{{"acquire", h.m.keys.Acquire.Enabled()}, {"takeover", h.m.keys.Takeover.Enabled()}, {"release", h.m.keys.Release.Enabled()}} {
				if b.enabled {
					t.Errorf("the %s key is enabled on a read-only store", b.name)
				}
			}
			short := h.m.help.Short(h.m.keys)
			for _, word := range []string{"acquire", "takeover", "release"} {
				if strings.Contains(short, word) {
					t.Errorf("the help line offers %q on a read-only store: %s", word, short)
				}
			}
			for _, k := range []string{"a", "T", "X"} {
				h.press(k)
				if h.m.screen.dialog() {
					t.Errorf("%s opened a dialog on a read-only store", k)
					h.press("esc")
				}
				if got := h.statusText(); !strings.HasPrefix(got, "refused: "+tt.why) {
					t.Errorf("after %s: status = %q, want refused: %s", k, got, tt.why)
				}
			}
			if !sameEntries(snapshot(t, st), before) || len(audit.outcomes()) != 0 {
				t.Errorf("something was written: audit %v", audit.outcomes())
			}
		})
	}
}

// TestBackendRefusesReadOnly runs an action the console offers on a store
// whose backend refuses writes (a gateway whose store or operator is
// read-only): the refusal is shown, and nothing is written or audited.
func TestBackendRefusesReadOnly(t *testing.T) {
	audit := &auditLog{}
	h, st := actionConsole(t, audit, func(r *rig, st *memory.Store, o *Options) {
		o.Sources[0] = r.source("prod", stores.ReadOnly(listOnly{st}))
	})
	before := snapshot(t, st)
	h.selectKey("prod", "exports/released")
	h.press("a", "enter")
	if got, want := h.statusText(), "refused: store prod is read-only; nothing was written"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
	if h.m.screen != screenTable {
		t.Errorf("screen = %v after the refusal, want the table", h.m.screen)
	}
	if !sameEntries(snapshot(t, st), before) || len(audit.outcomes()) != 0 {
		t.Errorf("something was written: audit %v", audit.outcomes())
	}
}

func TestAuditUnwritableRefuses(t *testing.T) {
	tests := []struct {
		name  string
		audit lease.Auditor
		key   string
		act   func(h *harness)
	}{
		{"acquire", brokenAudit{}, "exports/released", func(h *harness) { h.press("a", "enter") }},
		{"takeover", brokenAudit{}, "exports/orders", func(h *harness) { h.takeover("incident", "orders"); h.press("enter") }},
		{"release", brokenAudit{}, "exports/invoices", func(h *harness) { h.release("incident", "invoices"); h.press("enter") }},
		{"no auditor", nil, "exports/released", func(h *harness) { h.press("a", "enter") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, st := actionConsole(t, tt.audit)
			before := snapshot(t, st)
			h.selectKey("prod", tt.key)
			tt.act(h)
			if got := h.statusText(); !strings.HasPrefix(got, "refused: audit log not writable; nothing was written") {
				t.Errorf("status = %q, want refused: audit log not writable", got)
			}
			if !sameEntries(snapshot(t, st), before) {
				t.Error("the store was written although the audit log was not")
			}
		})
	}
}

func TestEscCancelsWithoutWriting(t *testing.T) {
	tests := []struct {
		key   string
		lease string
		fill  func(h *harness)
	}{
		{"a", "exports/released", func(h *harness) {}},
		{"T", "exports/orders", func(h *harness) { h.press("tab"); h.typeText("why"); h.press("tab"); h.typeText("orders") }},
		{"X", "exports/invoices", func(h *harness) { h.typeText("why"); h.press("tab"); h.typeText("invoices") }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			audit := &auditLog{}
			h, st := actionConsole(t, audit)
			before := snapshot(t, st)
			h.selectKey("prod", tt.lease)
			h.press(tt.key)
			tt.fill(h)
			h.press("esc")
			if h.m.screen.dialog() {
				t.Error("esc left the dialog open")
			}
			if got := h.statusText(); !strings.Contains(got, "cancelled: nothing was written") {
				t.Errorf("status = %q, want cancelled", got)
			}
			if !sameEntries(snapshot(t, st), before) || len(audit.outcomes()) != 0 {
				t.Errorf("esc wrote something: audit %v", audit.outcomes())
			}
		})
	}
}

func TestQuitAndClose(t *testing.T) {
	t.Run("q quits from the table", func(t *testing.T) {
		h, _ := actionConsole(t, &auditLog{})
		h.press("q")
		if !h.quit {
			t.Error("q did not quit")
		}
	})
	t.Run("q closes the detail view first", func(t *testing.T) {
		h, _ := actionConsole(t, &auditLog{})
		h.press("enter")
		if !h.m.screen.detail() {
			t.Fatal("enter did not open the detail view")
		}
		h.press("q")
		if h.m.screen.detail() || h.quit {
			t.Errorf("after q: detail %v, quit %v; want the detail closed, still running", h.m.screen.detail(), h.quit)
		}
	})
	t.Run("q closes the help first", func(t *testing.T) {
		h, _ := actionConsole(t, &auditLog{})
		h.press("?", "q")
		if h.m.screen.help() || h.quit {
			t.Errorf("after ? q: help %v, quit %v", h.m.screen.help(), h.quit)
		}
	})
	t.Run("q is text in a dialog; ctrl+c quits", func(t *testing.T) {
		h, _ := actionConsole(t, &auditLog{})
		h.selectKey("prod", "exports/invoices")
		h.press("X", "q")
		if h.quit || h.m.dialog.value(fieldReason) != "q" {
			t.Errorf("q in a dialog: quit %v, reason %q; want the reason q", h.quit, h.m.dialog.value(fieldReason))
		}
		h.press("ctrl+c")
		if !h.quit {
			t.Error("ctrl+c did not quit")
		}
	})
}

func TestNavigationSortFilter(t *testing.T) {
	h, _ := actionConsole(t, &auditLog{})
	keys := func() []string {
		var out []string
		for _, r := range h.m.table.index {
			out = append(out, r.entry.Key)
		}
		return out
	}
	selected := func() string {
		r, _ := h.m.table.Selected()
		return r.entry.Key
	}
	all := keys()
	if !slices.IsSorted(all) || len(all) != len(fixture) {
		t.Fatalf("rows = %v, want the %d fixture keys sorted", all, len(fixture))
	}
	steps := []struct {
		keys []string
		want string
	}{
		{nil, all[0]},
		{[]string{"j"}, all[1]},
		{[]string{"down", "down"}, all[3]},
		{[]string{"k"}, all[2]},
		{[]string{"G"}, all[len(all)-1]},
		{[]string{"g"}, all[0]},
		{[]string{"pgdown"}, all[len(all)-1]},
		{[]string{"pgup"}, all[0]},
	}
	for _, s := range steps {
		h.press(s.keys...)
		if got := selected(); got != s.want {
			t.Errorf("after %v: selected %q, want %q", s.keys, got, s.want)
		}
	}

	h.press("S")
	if got := keys(); got[0] != all[len(all)-1] {
		t.Errorf("after S: first row %q, want %q", got[0], all[len(all)-1])
	}
	h.press("S", "s", "s") // ascending, by store, by state
	if h.m.table.sortBy != colState {
		t.Errorf("after s s: sort by %v, want state", h.m.table.sortBy)
	}
	if got := h.m.table.index[0].status.State; got != lease.Tombstone {
		t.Errorf("sorted by state: first row %v, want tombstone", got)
	}

	h.press("/")
	h.typeText("held node-a")
	if got := keys(); !slices.Equal(got, []string{"exports/orders"}) {
		t.Errorf("filter \"held node-a\": rows %v, want exports/orders", got)
	}
	h.press("enter")
	if (h.m.screen == screenFilter) || h.m.table.filter != "held node-a" {
		t.Errorf("enter: filtering %v, filter %q; want the filter kept", (h.m.screen == screenFilter), h.m.table.filter)
	}
	h.press("esc")
	if len(keys()) != len(fixture) || h.m.table.filter != "" {
		t.Errorf("esc: %d rows, filter %q; want all rows", len(keys()), h.m.table.filter)
	}
	h.press("/")
	h.typeText("corrupt")
	if got := keys(); len(got) != 2 {
		t.Errorf("filter corrupt: rows %v, want the two corrupt keys", got)
	}
	h.press("esc")
	if (h.m.screen == screenFilter) || len(keys()) != len(fixture) {
		t.Errorf("esc while typing: filtering %v, %d rows", (h.m.screen == screenFilter), len(keys()))
	}
}

func TestRefreshRelists(t *testing.T) {
	h, st := actionConsole(t, &auditLog{})
	seen := get(t, st, "exports/orders")
	rev, err := st.Update(t.Context(), "exports/orders", record("node-q", now0, now0+60), seen.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), "exports/skewed"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(t.Context(), "exports/new", record("node-n", now0, now0+60)); err != nil {
		t.Fatal(err)
	}
	if r, _ := h.row("prod", "exports/orders"); r.entry.Revision != seen.Revision {
		t.Fatalf("a list-only store changed before r: rev %d", r.entry.Revision)
	}
	h.press("r")
	r, _ := h.row("prod", "exports/orders")
	if r.entry.Revision != rev || r.holder() != "node-q" || !r.changed().Equal(t0) {
		t.Errorf("after r: orders rev %d by %q changed %v, want rev %d by node-q, marked", r.entry.Revision, r.holder(), r.changed(), rev)
	}
	if _, ok := h.row("prod", "exports/skewed"); ok {
		t.Error("after r: the deleted key is still shown")
	}
	if _, ok := h.row("prod", "exports/new"); !ok {
		t.Error("after r: the new key is not shown")
	}
	if r, _ := h.row("prod", "exports/invoices"); !r.changed().IsZero() {
		t.Error("after r: an unchanged row is marked as changed")
	}
}

func TestTickExpiresAndUnmarks(t *testing.T) {
	h, _ := actionConsole(t, &auditLog{})
	h.selectKey("prod", "exports/released")
	h.press("a", "enter")
	if line := h.line("exports/released"); !strings.HasPrefix(line, "▶•") {
		t.Errorf("the acquired row is not marked as changed: %q", line)
	}
	h.clock.Add(5 * time.Minute)
	h.send(tickMsg{})
	if line := h.line("exports/released"); !strings.HasPrefix(line, "▶ ") {
		t.Errorf("the change mark outlived %v: %q", changeMark, line)
	}
	r, _ := h.row("prod", "exports/orders")
	if r.status.State != lease.Expired {
		t.Errorf("orders after 5m: %v, want expired (it expired after 4m12s)", r.status.State)
	}
	h.press("/")
	h.typeText("expired")
	var got []string
	for _, r := range h.m.table.index {
		got = append(got, r.entry.Key)
	}
	if !slices.Contains(got, "exports/orders") {
		t.Errorf("filter expired after the tick: %v, want exports/orders among them", got)
	}
	if !strings.Contains(h.screen(), "expired 48s ago") {
		t.Errorf("no live countdown \"expired 48s ago\" for orders:\n%s", h.screen())
	}
}

func TestDetailView(t *testing.T) {
	st := newHistoryStore(t)
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnlyHistory{st, st})}}, 120, 40)
	h.selectKey("prod", "exports/checkpoint")
	h.press("enter")
	if !h.m.screen.detail() || h.m.detail.histLoading || len(h.m.detail.history) != 2 {
		t.Fatalf("detail %v, loading %v, %d history entries; want 2", h.m.screen.detail(), h.m.detail.histLoading, len(h.m.detail.history))
	}
	screen := h.screen()
	for _, want := range []string{"prod / exports/checkpoint", "held completed", "revision   10", "cursor 000000000000002a", `"completed_cursor_hex": "000000000000002a"`, "2 values kept by prod (memory), newest first", "local 08:11:20 CEST"} {
		if !strings.Contains(screen, want) {
			t.Errorf("detail view lacks %q:\n%s", want, screen)
		}
	}
	// An action from the detail view acts on what it shows.
	h.takeover("from the detail view", "checkpoint")
	h.press("enter")
	if got := holderOf(t, st, "exports/checkpoint"); got != "operator:alice" {
		t.Errorf("takeover from the detail view: holder %q", got)
	}
	if !h.m.screen.detail() || h.m.detail.entry.Revision != get(t, st, "exports/checkpoint").Revision || len(h.m.detail.history) != 3 {
		t.Errorf("the detail view does not follow the write: rev %d, %d history entries", h.m.detail.entry.Revision, len(h.m.detail.history))
	}
	h.press("esc")
	if h.m.screen.detail() {
		t.Error("esc did not close the detail view")
	}
}

func TestConnectRetriesWithBackoff(t *testing.T) {
	st := newStore(t)
	var delays []time.Duration
	fails := 3
	r := newRig(t, &auditLog{})
	b := r.backend("flaky", listOnly{st})
	flaky := Source{Name: "flaky", Kind: "etcd", Connect: func(ctx context.Context) (Backend, func() error, error) {
		if fails > 0 {
			fails--
			return nil, nil, errors.New("etcd: dial: connection refused\x1b[2J")
		}
		return b, nil, nil
	}}
	h := newHarness(t, r, Options{Sources: []Source{flaky, r.source("prod", listOnly{newStore(t)})}}, 120, 40)
	h.m.after = func(d time.Duration, msg tea.Msg) tea.Cmd {
		delays = append(delays, d)
		h.scheduled = append(h.scheduled, msg)
		return nil
	}
	if n := h.m.rows.count["prod"]; n != len(fixture) {
		t.Errorf("the working store shows %d rows while the other fails, want %d", n, len(fixture))
	}
	if s := h.m.byName["flaky"]; s.conn != connFailed || !strings.Contains(h.screen(), "error, retry in 1s: etcd: dial: connection refused␛[2J") {
		t.Errorf("flaky: %v; the stores pane does not show the cleaned error:\n%s", s.conn, h.screen())
	}
	// The first retry was scheduled by Init, before the recorder.
	for len(h.scheduled) > 0 {
		msg := h.scheduled[0]
		h.scheduled = h.scheduled[1:]
		h.send(msg)
	}
	if want := []time.Duration{2 * time.Second, 4 * time.Second}; !slices.Equal(delays, want) {
		t.Errorf("retry delays = %v, want %v", delays, want)
	}
	if s := h.m.byName["flaky"]; s.conn != connLive || h.m.rows.count["flaky"] != len(fixture) {
		t.Errorf("flaky after the retries: %v with %d rows", s.conn, h.m.rows.count["flaky"])
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

// TestReadOnlyStoreKeepsCapabilities opens a store the way the command line
// does for read_only: true, wrapped in stores.ReadOnly. The wrapper must hide
// no read capability: the store is still watched, and the detail view still
// shows the key's history.
func TestReadOnlyStoreKeepsCapabilities(t *testing.T) {
	st := newHistoryStore(t)
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.readOnlySource("prod", "etcd", st)}}, 120, 40, withAsync())
	h.waitFor("the snapshot", func(m Model) bool {
		return m.byName["prod"].conn == connLive && m.rows.count["prod"] == len(fixture)
	})
	if !h.m.byName["prod"].watching {
		t.Errorf("the read-only store is listed, not watched:\n%s", h.screen())
	}
	h.selectKey("prod", "exports/checkpoint")
	h.press("enter")
	h.waitFor("the history", func(m Model) bool { return !m.detail.histLoading })
	if got := len(h.m.detail.history); got != 2 {
		t.Errorf("the detail view of a read-only store shows %d history entries, want 2:\n%s", got, h.screen())
	}
}

// TestAcquireIsCASAgainstSeen changes a key behind an open acquire dialog to
// another value that the fleet's algorithm would take (another expired
// record, or a key created where the operator saw none): the acquire must
// fail as changed since you looked, write nothing and audit the attempt.
func TestAcquireIsCASAgainstSeen(t *testing.T) {
	t.Run("expired on screen", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		h.selectKey("prod", "exports/invoices")
		h.press("a")
		seen := get(t, st, "exports/invoices")
		rev, err := st.Update(t.Context(), "exports/invoices", record("node-z", now0-100, now0-1), seen.Revision)
		if err != nil {
			t.Fatal(err)
		}
		h.press("enter")
		want := "changed since you looked: prod/exports/invoices is now expired by node-z"
		if got := h.statusText(); !strings.HasPrefix(got, want) || !strings.Contains(got, "nothing was written") {
			t.Errorf("status = %q, want %q… nothing was written", got, want)
		}
		if e := get(t, st, "exports/invoices"); e.Revision != rev {
			t.Errorf("the store is at revision %d, want %d (nothing written)", e.Revision, rev)
		}
		if got, want := audit.outcomes(), []string{"acquire:pending", "acquire:changed"}; !slices.Equal(got, want) {
			t.Errorf("audit = %v, want %v", got, want)
		}
		if len(audit.records) > 0 && audit.records[0].RevisionBefore != seen.Revision {
			t.Errorf("audit intent at revision %d, want the revision on screen %d", audit.records[0].RevisionBefore, seen.Revision)
		}
	})
	t.Run("absent on screen", func(t *testing.T) {
		audit := &auditLog{}
		h, st := actionConsole(t, audit)
		h.selectKey("prod", "exports/invoices")
		h.press("enter")
		if err := st.Delete(t.Context(), "exports/invoices"); err != nil {
			t.Fatal(err)
		}
		h.press("r")
		if h.m.detail.found {
			t.Fatalf("the detail view still shows the deleted key:\n%s", h.screen())
		}
		h.press("a")
		rev, err := st.Create(t.Context(), "exports/invoices", record("node-z", now0-100, now0-1))
		if err != nil {
			t.Fatal(err)
		}
		h.press("enter")
		want := "changed since you looked: prod/exports/invoices is now expired by node-z"
		if got := h.statusText(); !strings.HasPrefix(got, want) {
			t.Errorf("status = %q, want prefix %q", got, want)
		}
		if e := get(t, st, "exports/invoices"); e.Revision != rev {
			t.Errorf("the store is at revision %d, want %d (nothing written)", e.Revision, rev)
		}
		if got, want := audit.outcomes(), []string{"acquire:pending", "acquire:changed"}; !slices.Equal(got, want) {
			t.Errorf("audit = %v, want %v", got, want)
		}
	})
}

// TestAbsentResultKeepsNewerRow lets an action find its key absent, then a
// newer row arrive (the key created again) before the action's result is
// applied: the result must not remove the newer row.
func TestAbsentResultKeepsNewerRow(t *testing.T) {
	h, st := actionConsole(t, &auditLog{})
	h.selectKey("prod", "exports/invoices")
	h.release("stuck replica", "invoices")
	// Submit by hand, so that the action's result can be held back.
	next, cmd := h.m.Update(keyPress("enter"))
	h.m = next.(Model)
	next, cmd = h.m.Update(cmd())
	h.m = next.(Model)
	if err := st.Delete(t.Context(), "exports/invoices"); err != nil {
		t.Fatal(err)
	}
	done := cmd() // the action runs: the key is absent
	rev, err := st.Create(t.Context(), "exports/invoices", record("node-n", now0, now0+60))
	if err != nil {
		t.Fatal(err)
	}
	// The new key reaches the rows (a re-list here; a watch event alike)…
	h.send(listedMsg{store: "prod", gen: h.m.byName["prod"].gen, since: h.m.rows.seq, entries: snapshot(t, st)})
	if r, ok := h.row("prod", "exports/invoices"); !ok || r.entry.Revision != rev {
		t.Fatalf("the re-list did not show the new key at revision %d", rev)
	}
	// …before the action's result does.
	h.send(done)
	if r, ok := h.row("prod", "exports/invoices"); !ok || r.entry.Revision != rev {
		t.Errorf("after the action's result: row present %v, want the newer row at revision %d kept", ok, rev)
	}
}

// TestScreens walks the console's views and layers with the keys of
// docs/design.md §8: esc (and q, outside text) closes what is on top and
// shows what was beneath it.
func TestScreens(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want screen
	}{
		{"the table", nil, screenTable},
		{"help over the table", []string{"?"}, screenTableHelp},
		{"esc closes the help", []string{"?", "esc"}, screenTable},
		{"? closes the help", []string{"?", "?"}, screenTable},
		{"the details", []string{"enter"}, screenDetail},
		{"q closes the details", []string{"enter", "q"}, screenTable},
		{"help over the details", []string{"enter", "?"}, screenDetailHelp},
		{"q closes the help over the details", []string{"enter", "?", "q"}, screenDetail},
		{"a dialog over the details", []string{"enter", "T"}, screenDetailDialog},
		{"esc closes it over the details", []string{"enter", "T", "esc"}, screenDetail},
		{"q is text in a dialog", []string{"enter", "T", "tab", "q"}, screenDetailDialog},
		{"a dialog over the table", []string{"T"}, screenTableDialog},
		{"esc closes it over the table", []string{"T", "esc"}, screenTable},
		{"the filter", []string{"/"}, screenFilter},
		{"? and q are text in the filter", []string{"/", "?", "q"}, screenFilter},
		{"enter keeps the filter", []string{"/", "o", "enter"}, screenTable},
		{"esc clears the filter", []string{"/", "o", "esc"}, screenTable},
		{"ctrl+c from a dialog", []string{"enter", "T", "ctrl+c"}, screenQuitting},
		{"q from the table", []string{"q"}, screenQuitting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := actionConsole(t, &auditLog{})
			h.selectKey("prod", "exports/orders")
			h.press(tt.keys...)
			if h.m.screen != tt.want {
				t.Errorf("after %v: screen %d, want %d", tt.keys, h.m.screen, tt.want)
			}
			if quit := tt.want == screenQuitting; h.quit != quit {
				t.Errorf("after %v: quit %v, want %v", tt.keys, h.quit, quit)
			}
		})
	}
}

// TestNothingToRelease presses X on a tombstone: the lease core's rule says
// there is nothing to release, so the key is disabled and the dialog does
// not open.
func TestNothingToRelease(t *testing.T) {
	audit := &auditLog{}
	h, _ := actionConsole(t, audit)
	h.selectKey("prod", "exports/released")
	if h.m.keys.Release.Enabled() {
		t.Error("X is enabled on a tombstone")
	}
	h.press("X")
	if h.m.screen.dialog() {
		t.Error("X opened a dialog on a tombstone")
	}
	if got := h.statusText(); !strings.HasPrefix(got, "refused: ") || !strings.Contains(got, "nothing to release") {
		t.Errorf("status = %q, want refused: … nothing to release", got)
	}
	if got := audit.outcomes(); len(got) != 0 {
		t.Errorf("audit = %v, want nothing", got)
	}
}

// TestHistoryNotKept opens the details on a store that keeps no history:
// they say so and name the store, and the store is not asked again.
func TestHistoryNotKept(t *testing.T) {
	h, _ := actionConsole(t, &auditLog{})
	h.selectKey("prod", "exports/orders")
	h.press("enter")
	if l := h.line("history"); !strings.Contains(l, "not kept by prod (memory)") {
		t.Errorf("history line = %q, want it not kept by prod (memory)", l)
	}
	if !h.m.byName["prod"].noHistory {
		t.Error("the store that keeps no history will be asked again")
	}
	h.press("esc", "enter")
	if h.m.detail.histLoading {
		t.Error("the details wait for a history the store does not keep")
	}
}

// TestNoticesReachTheStatusLine checks that warnings from outside the
// console (the audit log's) are shown as they come, one after another.
func TestNoticesReachTheStatusLine(t *testing.T) {
	r := newRig(t, &auditLog{})
	ch := make(chan string, 2)
	h := newHarness(t, r, Options{Notices: ch}, 100, 30, withAsync())
	for _, text := range []string{"audit: the log ended in a line cut short", "audit: tightened the log to mode 0600"} {
		ch <- text
		h.waitFor(text, func(m Model) bool { return m.status.text == text && m.status.kind == statusWarn })
	}
}
