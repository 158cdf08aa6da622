package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

// entrySource is an AuditSource serving entries the test sets.
type entrySource struct {
	mu      sync.Mutex
	entries []audit.Entry
	err     error
	reads   int
}

func (s *entrySource) Entries(context.Context) ([]audit.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return slices.Clone(s.entries), s.err
}

func (s *entrySource) set(entries ...audit.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = entries
}

// auditEntries are three actions, oldest first, as a log holds them.
func auditEntries() []audit.Entry {
	return []audit.Entry{
		{ID: "aaaa00000001", Time: t0.Add(-3 * time.Hour), Operator: "alice", Host: "ops-1", Store: "prod", Key: "exports/orders",
			Action: lease.ActionTakeover, Reason: "incident 4711: exporter wedged", RevisionBefore: 3,
			ValueBefore: record("node-a", now0-4*3600, now0-2*3600), ValueAfter: record("operator:alice", now0-3*3600, now0-3*3600+900),
			RevisionAfter: 4, Outcome: lease.OutcomeWon},
		{ID: "bbbb00000002", Time: t0.Add(-time.Hour), Operator: "bob", Host: "ops-2", Store: "staging", Key: "exports/invoices",
			Action: lease.ActionAcquire, RevisionBefore: 2, ValueBefore: record("node-b", now0-3700, now0+100), Outcome: lease.OutcomeLost},
		{ID: "cccc00000003", Time: t0.Add(-5 * time.Minute), Operator: "carol", Host: "ops-1", Store: "prod", Key: "exports/released",
			Action: lease.ActionRelease, Reason: "stuck round", RevisionBefore: 9, Outcome: lease.OutcomeChanged, Error: "changed since you looked"},
	}
}

// auditConsole is a console on the fixture store "prod" (and "staging"
// when staging is set) whose audit view reads src.
func auditConsole(t *testing.T, src AuditSource, mod ...func(*rig, *Options)) (*harness, *memory.Store) {
	t.Helper()
	return actionConsole(t, &auditLog{}, func(r *rig, _ *memory.Store, o *Options) {
		o.Audit = src
		for _, f := range mod {
			f(r, o)
		}
	})
}

// shownIDs returns the ids of the audit view's rows, in their order.
func (h *harness) shownIDs() []string {
	var ids []string
	for _, i := range h.m.audit.shown {
		ids = append(ids, h.m.audit.rows[i].e.ID)
	}
	return ids
}

func TestAuditViewNewestFirst(t *testing.T) {
	src := &entrySource{entries: auditEntries()}
	h, _ := auditConsole(t, src)
	h.press("L")
	if h.m.screen != screenAudit {
		t.Fatalf("after L the screen is %v, want the audit log", h.m.screen)
	}
	if got, want := h.shownIDs(), []string{"cccc00000003", "bbbb00000002", "aaaa00000001"}; !slices.Equal(got, want) {
		t.Errorf("audit rows = %v, want %v (newest first)", got, want)
	}
	screen := h.screen()
	for _, want := range []string{"Audit log", "3 entries", "TIME", "AGE", "OPERATOR", "STORE", "KEY", "ACTION", "OUTCOME", "REASON", "ID"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the audit view does not show %q:\n%s", want, screen)
		}
	}
	c, b, a := strings.Index(screen, "cccc00000003"), strings.Index(screen, "bbbb00000002"), strings.Index(screen, "aaaa00000001")
	if c < 0 || b < c || a < b {
		t.Errorf("rows are not newest first on screen:\n%s", screen)
	}
	row := h.line("aaaa00000001")
	for _, want := range []string{"05:13:20", "3h ago", "alice", "prod", "exports/orders", "takeover", "won", "incident 4711"} {
		if !strings.Contains(row, want) {
			t.Errorf("row of the takeover = %q, want it to show %q", row, want)
		}
	}
	if !strings.HasPrefix(h.line("cccc00000003"), "▶") {
		t.Errorf("the newest entry is not selected:\n%s", screen)
	}
	h.press("esc")
	if h.m.screen != screenTable {
		t.Errorf("esc left the screen at %v, want the table", h.m.screen)
	}
}

func TestAuditViewFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{"", []string{"cccc00000003", "bbbb00000002", "aaaa00000001"}},
		{"store:prod", []string{"cccc00000003", "aaaa00000001"}},
		{"store:staging", []string{"bbbb00000002"}},
		{"key:orders", []string{"aaaa00000001"}},
		{"op:bob", []string{"bbbb00000002"}},
		{"operator:CAROL", []string{"cccc00000003"}},
		{"outcome:won", []string{"aaaa00000001"}},
		{"outcome:wo", nil}, // an outcome matches by its whole name
		{"action:release", []string{"cccc00000003"}},
		{"id:bbbb", []string{"bbbb00000002"}},
		{"store:prod outcome:changed", []string{"cccc00000003"}},
		{"wedged", []string{"aaaa00000001"}},
		{"ops", nil}, // the host is not filtered on
		{"prod alice", []string{"aaaa00000001"}},
		{"store:nowhere", nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			h, _ := auditConsole(t, &entrySource{entries: auditEntries()})
			h.press("L", "/")
			h.typeText(tt.filter)
			h.press("enter")
			if got := h.shownIDs(); !slices.Equal(got, tt.want) {
				t.Errorf("filter %q shows %v, want %v", tt.filter, got, tt.want)
			}
			screen := h.screen()
			if tt.filter != "" && !strings.Contains(screen, fmt.Sprintf("%d of 3", len(tt.want))) {
				t.Errorf("filter line does not count %d of 3:\n%s", len(tt.want), screen)
			}
			if len(tt.want) == 0 && !strings.Contains(screen, "no entry matches the filter") {
				t.Errorf("an empty result does not say so:\n%s", screen)
			}
			if tt.filter == "" {
				return
			}
			h.press("esc")
			if h.m.screen != screenAudit || h.m.audit.filter != "" || len(h.m.audit.shown) != 3 {
				t.Errorf("esc: screen %v, filter %q, %d rows; want the whole log", h.m.screen, h.m.audit.filter, len(h.m.audit.shown))
			}
		})
	}
}

func TestAuditViewEntry(t *testing.T) {
	entries := auditEntries()
	entries = append(entries, audit.Entry{ID: "dddd00000004", Time: t0.Add(-time.Minute), Operator: evilHolder, Store: "prod",
		Key: "exports/corrupt", Action: lease.ActionTakeover, Reason: "\x1b]0;pwned\x07why", RevisionBefore: 5,
		ValueBefore: []byte(`{"holder_id":"node-c"}`), ValueAfter: record(evilHolder, now0-60, now0+840), RevisionAfter: 6,
		Outcome: lease.OutcomeWon})
	h, _ := auditConsole(t, &entrySource{entries: entries})
	h.press("L")
	if strings.Contains(h.m.View().Content, "\x1b]0;") || strings.Contains(h.m.View().Content, "\x1b[2J") {
		t.Errorf("the audit list passes an escape sequence from the log to the terminal")
	}
	// The newest is the corrupt-before one; the takeover of orders is the
	// last.
	h.press("enter")
	if h.m.audit.mode != auditEntry {
		t.Fatalf("enter: mode %v, want the entry", h.m.audit.mode)
	}
	screen := h.screen()
	for _, want := range []string{"Audit entry dddd00000004", "before · revision 5", "corrupt", `"holder_id": "node-c"`, "after · revision 6", "why"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the entry does not show %q:\n%s", want, screen)
		}
	}
	if out := h.m.View().Content; strings.Contains(out, "\x1b]0;") || strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\x07") {
		t.Errorf("the entry passes an escape sequence from the log to the terminal")
	}
	h.press("esc", "G", "enter")
	screen = h.screen()
	for _, want := range []string{"Audit entry aaaa00000001", "takeover", "won", "alice on ops-1", "incident 4711: exporter wedged",
		"before · revision 3", "holder     node-a", "after · revision 4", "holder     operator:alice", "u reverts it"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the takeover's entry does not show %q:\n%s", want, screen)
		}
	}
	h.press("esc")
	if h.m.screen != screenAudit || h.m.audit.mode != auditList {
		t.Errorf("esc from the entry: screen %v mode %v, want the list", h.m.screen, h.m.audit.mode)
	}
	// An entry that wrote nothing says so.
	h.press("g", "j", "j", "enter")
	if e, _ := h.m.audit.Selected(); e.ID != "bbbb00000002" || !strings.Contains(h.screen(), "nothing written") {
		t.Errorf("the lost acquire (%s) does not say nothing was written:\n%s", e.ID, h.screen())
	}
}

func TestAuditRevertRefused(t *testing.T) {
	tests := []struct {
		name    string
		select_ string
		mod     func(*rig, *Options)
		want    string
	}{
		{"lost", "bbbb00000002", nil, "bbbb00000002 (acquire of exports/invoices) ended lost; only a won action wrote something to revert"},
		{"changed", "cccc00000003", nil, "cccc00000003 (release of exports/released) ended changed"},
		{"read-only store", "aaaa00000001", func(r *rig, o *Options) {
			o.Sources[0].ReadOnly = true
		}, "store prod is read-only"},
		{"read-only console", "aaaa00000001", func(r *rig, o *Options) { o.ReadOnly = true }, "leasectl runs read-only"},
		{"unknown store", "aaaa00000001", func(r *rig, o *Options) { o.Sources[0].Name = "other" }, "store prod is not in this console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mod []func(*rig, *Options)
			if tt.mod != nil {
				mod = append(mod, tt.mod)
			}
			h, st := auditConsole(t, &entrySource{entries: auditEntries()}, mod...)
			before := snapshot(t, st)
			h.press("L", "/")
			h.typeText("id:" + tt.select_)
			h.press("enter")
			if e, ok := h.m.audit.Selected(); !ok || e.ID != tt.select_ {
				t.Fatalf("selected %v, want %s", e.ID, tt.select_)
			}
			if h.m.keys.Revert.Enabled() {
				t.Errorf("u is enabled (offered in the help) on an entry it cannot revert")
			}
			h.press("u")
			if h.m.screen.dialog() {
				t.Fatalf("u opened a dialog")
			}
			if got := h.statusText(); !strings.HasPrefix(got, "refused: ") || !strings.Contains(got, tt.want) || !strings.Contains(got, "nothing was written") {
				t.Errorf("status = %q, want it to say %q", got, tt.want)
			}
			if !sameEntries(before, snapshot(t, st)) {
				t.Errorf("the store changed")
			}
		})
	}
}

// TestAuditViewReloads reads the log anew when the view reopens and after
// r.
func TestAuditViewReloads(t *testing.T) {
	src := &entrySource{entries: auditEntries()[:1]}
	h, _ := auditConsole(t, src)
	h.press("L")
	if got := h.shownIDs(); len(got) != 1 {
		t.Fatalf("rows = %v, want 1", got)
	}
	src.set(auditEntries()...)
	h.press("r")
	if got := h.shownIDs(); len(got) != 3 {
		t.Errorf("after r: rows = %v, want 3", got)
	}
	src.set(auditEntries()[:2]...)
	h.press("esc", "L")
	if got := h.shownIDs(); len(got) != 2 {
		t.Errorf("after reopening: rows = %v, want 2", got)
	}
	if src.reads != 3 {
		t.Errorf("the log was read %d times, want 3", src.reads)
	}
}

// TestAuditViewVisibleRows renders only the rows that fit, however long
// the log.
func TestAuditViewVisibleRows(t *testing.T) {
	var entries []audit.Entry
	for i := range 20000 {
		entries = append(entries, audit.Entry{ID: fmt.Sprintf("%012x", i), Time: t0.Add(time.Duration(i-20000) * time.Second),
			Operator: "alice", Store: "prod", Key: fmt.Sprintf("exports/k%05d", i), Action: lease.ActionAcquire, Outcome: lease.OutcomeWon})
	}
	h, _ := auditConsole(t, &entrySource{entries: entries})
	h.press("L")
	body := h.m.audit.View()
	if n := strings.Count(body, "\n") + 1; n > h.m.audit.height {
		t.Errorf("the audit view renders %d lines in a body of %d", n, h.m.audit.height)
	}
	h.press("G")
	if e, _ := h.m.audit.Selected(); e.ID != fmt.Sprintf("%012x", 0) || !strings.Contains(h.screen(), "exports/k00000") {
		t.Errorf("G selects %s, want the oldest, shown:\n%s", e.ID, h.screen())
	}
}

// TestAuditViewHelp lists the audit view's keys and its filter syntax.
func TestAuditViewHelp(t *testing.T) {
	h, _ := auditConsole(t, &entrySource{entries: auditEntries()})
	h.press("L", "G", "?")
	screen := h.screen()
	words := strings.Join(strings.Fields(screen), " ")
	for _, want := range []string{"u revert", "enter before/after", "esc/q close log", "store:NAME key:TEXT op:NAME outcome:won"} {
		if !strings.Contains(words, want) {
			t.Errorf("the audit view's help does not show %q:\n%s", want, screen)
		}
	}
	h.press("esc")
	if h.m.screen != screenAudit {
		t.Errorf("esc from the help: screen %v, want the audit log", h.m.screen)
	}
	h.press("esc", "?")
	if !strings.Contains(strings.Join(strings.Fields(h.screen()), " "), "L audit log") {
		t.Errorf("the table's help does not offer L:\n%s", h.screen())
	}
}

// TestAuditKeyInShortHelp offers L in the table's key line, which still
// ends with "q quit" at 100 columns.
func TestAuditKeyInShortHelp(t *testing.T) {
	h, _ := auditConsole(t, &entrySource{})
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	lines := strings.Split(h.screen(), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "L log") || !strings.HasSuffix(last, "q quit") {
		t.Errorf("key line = %q, want L log and, last, q quit", last)
	}
}

// TestAuditFilterPaste filters with pasted text, as with typed.
func TestAuditFilterPaste(t *testing.T) {
	h, _ := auditConsole(t, &entrySource{entries: auditEntries()})
	h.press("L", "/")
	h.send(tea.PasteMsg{Content: "op:bob"})
	if got := h.shownIDs(); !slices.Equal(got, []string{"bbbb00000002"}) {
		t.Errorf("pasted filter shows %v, want bob's entry", got)
	}
}

// TestAuditViewGolden pins the audit view's body — the list, filtered,
// and one entry — at 120 columns, ANSI stripped (go test -update rewrites
// the files). Only the body: the header and stores pane are the table's.
func TestAuditViewGolden(t *testing.T) {
	h, _ := auditConsole(t, &entrySource{entries: auditEntries()})
	body := func() string { return plain(h.m.audit.View()) }
	h.press("L")
	golden(t, "audit-list", body())
	h.press("/")
	h.typeText("store:prod")
	h.press("enter")
	golden(t, "audit-filtered", body())
	h.press("G", "enter")
	golden(t, "audit-entry", body())
}
