package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// stall says how a stallStore misbehaves once it is armed.
type stall int

const (
	// stallReads: a Get hangs until its context ends, as a call to a
	// server that is down does: the action's pre-read never answers.
	stallReads stall = iota
	// stallWrites: a write hangs until its context ends without writing;
	// reading back afterwards works.
	stallWrites
	// stallLanded: a write lands, then its answer is lost: it hangs until
	// its context ends.
	stallLanded
	// stallWritesDown: a write hangs until its context ends without
	// writing, and every read after it fails: the read-back cannot tell.
	stallWritesDown
)

// stallStore is a memory store that hangs once armed, as a store whose
// server went down under an action does. Every call that hangs sends its
// context on calls first, so that a test can see what the console passed.
type stallStore struct {
	*memory.Store
	mode  stall
	calls chan context.Context

	mu    sync.Mutex
	armed bool
	down  bool // set by a stallWritesDown write: reads fail from then on
}

func newStallStore(t *testing.T, mode stall) *stallStore {
	t.Helper()
	st := &stallStore{Store: memory.New(), mode: mode, calls: make(chan context.Context, 16)}
	t.Cleanup(func() { st.Store.Close() })
	seed(t, st.Store)
	return st
}

// arm makes the store misbehave from now on.
func (s *stallStore) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

func (s *stallStore) state() (armed, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.armed, s.down
}

// hang waits until ctx ends and returns its error.
func (s *stallStore) hang(ctx context.Context) error {
	s.calls <- ctx
	<-ctx.Done()
	return ctx.Err()
}

func (s *stallStore) Get(ctx context.Context, key string) (stores.Entry, error) {
	armed, down := s.state()
	switch {
	case down:
		return stores.Entry{}, errors.New("dial tcp 10.0.0.9:2379: connection refused")
	case armed && s.mode == stallReads:
		return stores.Entry{}, s.hang(ctx)
	}
	return s.Store.Get(ctx, key)
}

func (s *stallStore) write(ctx context.Context, do func() (uint64, error)) (uint64, error) {
	armed, _ := s.state()
	if !armed || s.mode == stallReads {
		return do()
	}
	switch s.mode {
	case stallLanded:
		if _, err := do(); err != nil {
			return 0, err
		}
	case stallWritesDown:
		s.mu.Lock()
		s.down = true
		s.mu.Unlock()
	}
	return 0, s.hang(ctx)
}

func (s *stallStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	return s.write(ctx, func() (uint64, error) { return s.Store.Create(ctx, key, value) })
}

func (s *stallStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	return s.write(ctx, func() (uint64, error) { return s.Store.Update(context.WithoutCancel(ctx), key, value, rev) })
}

// stallConsole is a console on one list-only stallStore "prod" holding the
// fixture, its commands run asynchronously (an action blocks), auditing to
// audit.
func stallConsole(t *testing.T, audit *auditLog, mode stall) (*harness, *stallStore) {
	t.Helper()
	st := newStallStore(t, mode)
	r := newRig(t, audit)
	h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{st})}}, 120, 40, withAsync())
	h.waitFor("the leases", func(m Model) bool { return m.rows.count["prod"] == len(fixture) })
	return h, st
}

// confirm fills and confirms the dialog of action on key with the store
// armed, and waits until the action's store call hangs; it returns the
// context the console gave that call.
func (h *harness) confirm(st *stallStore, action, key string) context.Context {
	h.t.Helper()
	h.selectKey("prod", key)
	word := key[strings.LastIndexByte(key, '/')+1:]
	switch action {
	case "acquire":
		h.press("a")
	case "takeover":
		h.takeover("incident 4711", word)
	case "release":
		h.release("incident 4711", word)
	}
	st.arm()
	// The operator took a moment: the deadline counts from enter.
	h.clock.Add(700 * time.Millisecond)
	h.press("enter")
	var ctx context.Context
	h.waitFor("the action's store call", func(Model) bool {
		select {
		case ctx = <-st.calls:
			return true
		default:
			return false
		}
	})
	return ctx
}

// TestActionEscAbandons presses esc while an action waits on a store that
// does not answer: the dialog closes at once, the action's context is
// cancelled, and the status line says, once the action has ended, that it
// was abandoned and nothing was written; the store and the audit trail
// agree. Acquire, takeover and release alike.
func TestActionEscAbandons(t *testing.T) {
	for _, action := range []string{"acquire", "takeover", "release"} {
		t.Run(action, func(t *testing.T) {
			audit := &auditLog{}
			h, st := stallConsole(t, audit, stallReads)
			before := snapshot(t, st.Store)
			ctx := h.confirm(st, action, "exports/invoices")
			if !h.m.screen.dialog() || !h.m.dialog.busy {
				t.Fatalf("after enter: dialog open %v, busy %v; want a busy dialog", h.m.screen.dialog(), h.m.dialog.busy)
			}

			h.press("esc")
			if h.m.screen.dialog() {
				t.Errorf("esc while the action runs left the dialog open; screen:\n%s", h.screen())
			}
			if got := h.statusText(); !strings.Contains(got, "abandon") {
				t.Errorf("status after esc = %q, want it to say the action is being abandoned", got)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second): // a hang guard
				t.Fatal("esc did not cancel the context of the action's store call")
			}
			h.waitFor("the abandoned action's outcome", func(Model) bool { return len(audit.outcomes()) == 2 })
			h.waitFor("the outcome in the status line", func(Model) bool { return strings.Contains(h.statusText(), "nothing was written") })
			if got := h.statusText(); !strings.Contains(got, action+" prod/exports/invoices abandoned") {
				t.Errorf("status = %q, want the %s of prod/exports/invoices reported abandoned, nothing written", got, action)
			}
			if got, want := audit.outcomes(), []string{action + ":pending", action + ":cancelled"}; !slices.Equal(got, want) {
				t.Errorf("audit = %v, want %v", got, want)
			}
			if !sameEntries(snapshot(t, st.Store), before) {
				t.Error("the store changed")
			}
		})
	}
}

// TestActionGivesUp lets an action wait on a store that does not answer
// until its deadline: it gives up, says so, and writes nothing.
func TestActionGivesUp(t *testing.T) {
	audit := &auditLog{}
	st := newStallStore(t, stallReads)
	r := newRig(t, audit)
	h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{st})}, ActionTimeout: 50 * time.Millisecond}, 120, 40, withAsync())
	h.waitFor("the leases", func(m Model) bool { return m.rows.count["prod"] == len(fixture) })
	before := snapshot(t, st.Store)
	h.confirm(st, "takeover", "exports/invoices")
	h.waitFor("the action's outcome", func(m Model) bool { return !m.screen.dialog() })
	if got, want := h.statusText(), "takeover prod/exports/invoices gave up after 50ms: nothing was written"; !strings.HasPrefix(got, want) {
		t.Errorf("status = %q, want %q", got, want)
	}
	if got, want := audit.outcomes(), []string{"takeover:pending", "takeover:cancelled"}; !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	if !sameEntries(snapshot(t, st.Store), before) {
		t.Error("the store changed")
	}
}

// TestQuitWaitsForAction quits while a write hangs: closing the console
// abandons the action and waits until its outcome is in the audit trail.
func TestQuitWaitsForAction(t *testing.T) {
	audit := &auditLog{}
	h, st := stallConsole(t, audit, stallWrites)
	h.confirm(st, "takeover", "exports/invoices")
	h.press("ctrl+c")
	if err := h.m.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got, want := audit.outcomes(), []string{"takeover:pending", "takeover:unknown"}; !slices.Equal(got, want) {
		t.Errorf("audit after Close = %v, want %v: the result line must be written before the console is gone", got, want)
	}
}

// TestActionDeadlineShown checks that a busy dialog shows when the action
// gives up, counting down with the clock, and that esc is offered.
func TestActionDeadlineShown(t *testing.T) {
	h, st := stallConsole(t, &auditLog{}, stallReads)
	h.confirm(st, "takeover", "exports/invoices")
	if s := h.screen(); !strings.Contains(s, "gives up in 15s") || !strings.Contains(s, "esc abandons") {
		t.Errorf("the busy dialog does not show its deadline (gives up in 15s · esc abandons):\n%s", s)
	}
	h.clock.Add(3 * time.Second)
	h.send(tickMsg{})
	if s := h.screen(); !strings.Contains(s, "gives up in 12s") {
		t.Errorf("3s later the dialog does not count down to 12s:\n%s", s)
	}
	h.press("esc")
}

// TestAbandonedActionReported checks what the status line says when the
// action abandoned with esc finally ends: the write was never sent, it
// landed before it could be stopped, or nobody can tell.
func TestAbandonedActionReported(t *testing.T) {
	tests := []struct {
		name     string
		mode     stall
		want     []string
		outcomes []string
		holder   string // in the store afterwards
	}{
		{"not sent", stallReads, []string{"abandoned", "nothing was written"}, []string{"takeover:pending", "takeover:cancelled"}, "node-b"},
		{"sent, not landed", stallWrites, []string{"abandoned", "not known whether it landed", "last read: expired by node-b at revision 2", "check the key"}, []string{"takeover:pending", "takeover:unknown"}, "node-b"},
		{"landed", stallLanded, []string{"abandoned", "the write had landed before it could be stopped", "operator:alice"}, []string{"takeover:pending", "takeover:won"}, "operator:alice"},
		{"store down", stallWritesDown, []string{"abandoned", "not known whether it landed", "check the key"}, []string{"takeover:pending", "takeover:unknown"}, "node-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audit := &auditLog{}
			h, st := stallConsole(t, audit, tt.mode)
			h.confirm(st, "takeover", "exports/invoices")
			h.press("esc")
			h.waitFor("the outcome", func(Model) bool { return len(audit.outcomes()) == 2 })
			h.waitFor("the outcome in the status line", func(Model) bool { return !strings.Contains(h.statusText(), "abandoning") })
			got := h.statusText()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("status = %q, want %q in it", got, w)
				}
			}
			if o := audit.outcomes(); !slices.Equal(o, tt.outcomes) {
				t.Errorf("audit = %v, want %v", o, tt.outcomes)
			}
			if got := holderOf(t, st.Store, "exports/invoices"); got != tt.holder {
				t.Errorf("holder in the store = %q, want %q", got, tt.holder)
			}
			if h.m.screen.dialog() {
				t.Errorf("a dialog is open after the abandoned action ended:\n%s", h.screen())
			}
		})
	}
}

// TestAbandonedActionKeepsNewDialog abandons an action, opens another
// dialog, and checks that the first action's late outcome does not close
// it: the outcome belongs to the action, not to whatever dialog is open.
func TestAbandonedActionKeepsNewDialog(t *testing.T) {
	audit := &auditLog{}
	h, st := stallConsole(t, audit, stallWrites)
	ctx := h.confirm(st, "takeover", "exports/invoices")
	h.press("esc")
	h.selectKey("prod", "exports/released")
	h.press("a")
	<-ctx.Done()
	h.waitFor("the first action's outcome", func(Model) bool { return len(audit.outcomes()) == 2 })
	h.waitFor("the outcome in the status line", func(Model) bool { return strings.Contains(h.statusText(), "not known whether it landed") })
	if !h.m.screen.dialog() || h.m.dialog.entry.Key != "exports/released" {
		t.Errorf("the acquire dialog of exports/released was closed by the abandoned takeover's outcome; screen:\n%s", h.screen())
	}
}
