package tui

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// t0 is the pinned wall clock of every test: 2024-06-10T06:13:20Z.
var t0 = time.Unix(1718000000, 0)

const testOperator = "alice"

// testZone is the "local" zone of the tests, pinned so that golden files do
// not depend on the machine.
var testZone = time.FixedZone("CEST", 2*3600)

// clock is a wall clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// listOnly hides a store's optional capabilities (Watch): the console then
// lists it, and every step of a test is synchronous. It is no
// stores.Wrapper, so nothing finds them through it.
type listOnly struct{ stores.Store }

// listOnlyHistory hides Watch but keeps History.
type listOnlyHistory struct {
	stores.Store
	stores.Historian
}

// auditLog records the audit trail in memory.
type auditLog struct {
	mu      sync.Mutex
	records []lease.AuditRecord
}

func (a *auditLog) Audit(_ context.Context, r lease.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, r)
	return nil
}

func (a *auditLog) outcomes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.records {
		out = append(out, r.Action.String()+":"+r.Outcome.String())
	}
	return out
}

// brokenAudit is an audit log that cannot be written (a full disk).
type brokenAudit struct{}

func (brokenAudit) Audit(context.Context, lease.AuditRecord) error {
	return errors.New("write audit.jsonl: no space left on device")
}

// historyStore is a memory store that keeps every value written, for the
// optional History capability of the etcd and NATS drivers.
type historyStore struct {
	*memory.Store
	mu   sync.Mutex
	past map[string][]stores.Entry
}

func (h *historyStore) record(key string, value []byte, rev uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.past[key] = append(h.past[key], stores.Entry{Key: key, Value: append([]byte{}, value...), Revision: rev})
}

func (h *historyStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := h.Store.Create(ctx, key, value)
	if err == nil {
		h.record(key, value, rev)
	}
	return rev, err
}

func (h *historyStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	rev, err := h.Store.Update(ctx, key, value, rev)
	if err == nil {
		h.record(key, value, rev)
	}
	return rev, err
}

// History returns the values key held, oldest first, as
// stores.Historian says.
func (h *historyStore) History(_ context.Context, key string) ([]stores.Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	past := slices.Clone(h.past[key])
	if len(past) == 0 {
		return nil, stores.ErrNotFound
	}
	return past, nil
}

// rig is what a test console's stores share with its harness: the wall
// clock the test moves, and the audit trail their operators write.
type rig struct {
	t     testing.TB
	clock *clock
	audit lease.Auditor
}

// newRig returns a rig whose clock is pinned at t0 and whose operators
// audit to audit (nil: none, so that every write is refused).
func newRig(t testing.TB, audit lease.Auditor) *rig {
	return &rig{t: t, clock: &clock{now: t0}, audit: audit}
}

// backend returns a local backend on st, a store called name, as the
// command line builds one: the test operator, on the rig's clock and
// audit trail.
func (r *rig) backend(name string, st stores.Store) *Local {
	r.t.Helper()
	opts := []lease.OperatorOption{lease.WithOperatorClock(r.clock.Now), lease.WithHost("testhost")}
	if r.audit != nil {
		opts = append(opts, lease.WithAuditor(r.audit))
	}
	op, err := lease.NewOperator(st, name, testOperator, opts...)
	if err != nil {
		r.t.Fatalf("NewOperator(%s) = %v", name, err)
	}
	return NewLocal(st, "", op)
}

// source returns a Source serving st through a local backend.
func (r *rig) source(name string, st stores.Store) Source {
	b := r.backend(name, st)
	return Source{Name: name, Kind: "memory", Connect: func(context.Context) (Backend, func() error, error) {
		return b, nil, nil
	}}
}

// readOnlySource returns a read-only Source serving st as the command line
// serves a store configured read_only: wrapped with stores.ReadOnly.
func (r *rig) readOnlySource(name, kind string, st stores.Store) Source {
	src := r.source(name, stores.ReadOnly(st))
	src.Kind, src.ReadOnly = kind, true
	return src
}

// harness drives a Model the way the Bubble Tea runtime does: it sends
// messages to Update and runs the commands it returns, feeding their
// messages back, until nothing is left. Commands the model schedules for
// later (retries) are recorded instead of waited for.
type harness struct {
	t         *testing.T
	m         Model
	clock     *clock
	scheduled []tea.Msg
	quit      bool

	// async runs commands in goroutines (for watch channels, which block);
	// their messages are applied by waitFor.
	async bool
	msgs  chan tea.Msg
}

type harnessOption func(*harness)

func withAsync() harnessOption { return func(h *harness) { h.async = true } }

// newHarness starts a console on opts with the rig's clock, sized w×h, and
// runs Init.
func newHarness(t *testing.T, r *rig, opts Options, w, hgt int, hopts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: r.clock, msgs: make(chan tea.Msg, 64)}
	for _, o := range hopts {
		o(h)
	}
	if opts.Now == nil {
		opts.Now = h.clock.Now
	}
	if opts.Operator == "" {
		opts.Operator = testOperator
	}
	m := New(opts)
	m.setLocation(testZone)
	m.tick = 0
	m.after = func(_ time.Duration, msg tea.Msg) tea.Cmd {
		h.scheduled = append(h.scheduled, msg)
		return nil
	}
	h.m = m
	t.Cleanup(func() {
		if err := h.m.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	h.send(tea.WindowSizeMsg{Width: w, Height: hgt})
	h.run(h.m.Init())
	return h
}

// send delivers msg to Update and runs the resulting command.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	next, cmd := h.m.Update(msg)
	h.m = next.(Model)
	h.run(cmd)
}

// run runs cmd and delivers its message.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	if h.async {
		go func() { h.msgs <- cmd() }()
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		h.deliver(msg)
	case <-time.After(10 * time.Second):
		// A hang guard, not a timing assertion: every synchronous test
		// command returns at once or never.
		h.t.Fatalf("a command did not return")
	}
}

// deliver feeds a command's message back, expanding tea.Batch and
// tea.Sequence.
func (h *harness) deliver(msg tea.Msg) {
	h.t.Helper()
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		if cmds, ok := sequence(msg); ok {
			for _, c := range cmds {
				h.run(c)
			}
			return
		}
		h.send(msg)
	}
}

// sequence unpacks tea.Sequence's message, whose type is unexported.
func sequence(msg tea.Msg) ([]tea.Cmd, bool) {
	v := reflect.ValueOf(msg)
	if v.Kind() != reflect.Slice || v.Type().Elem() != reflect.TypeFor[tea.Cmd]() {
		return nil, false
	}
	cmds := make([]tea.Cmd, v.Len())
	for i := range cmds {
		cmds[i] = v.Index(i).Interface().(tea.Cmd)
	}
	return cmds, true
}

// waitFor applies the messages of asynchronous commands until cond holds.
func (h *harness) waitFor(what string, cond func(Model) bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second) // a hang guard
	// cond may wait on something outside the model (a store call): look
	// again now and then even when no message comes.
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond(h.m) {
		select {
		case msg := <-h.msgs:
			h.deliver(msg)
		case <-poll.C:
		case <-deadline:
			h.t.Fatalf("waiting for %s: gave up; screen:\n%s", what, h.screen())
		}
	}
}

// press sends key presses, named like tea.KeyPressMsg.String.
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyPress(k))
	}
}

// typeText types s into whatever has the focus.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// selectKey moves the cursor to key in store with the navigation keys.
func (h *harness) selectKey(store, key string) {
	h.t.Helper()
	i := slices.IndexFunc(h.m.table.index, func(r *row) bool { return r.store == store && r.entry.Key == key })
	if i < 0 {
		h.t.Fatalf("selectKey(%s, %s): no such row; screen:\n%s", store, key, h.screen())
	}
	h.press("g")
	for range i {
		h.press("j")
	}
	if r, ok := h.m.table.Selected(); !ok || r.entry.Key != key {
		h.t.Fatalf("selectKey(%s, %s): selected %v", store, key, r)
	}
}

// row returns the console's row of key in store.
func (h *harness) row(store, key string) (*row, bool) { return h.m.rows.get(store, key) }

// screen returns the rendered screen without styles, trailing spaces cut.
func (h *harness) screen() string {
	return plain(h.m.View().Content)
}

// plain strips styles and the trailing spaces of every line.
func plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// line returns the screen line showing key.
func (h *harness) line(key string) string {
	for _, l := range strings.Split(h.screen(), "\n") {
		if strings.Contains(l, key) {
			return l
		}
	}
	h.t.Fatalf("no line shows %s:\n%s", key, h.screen())
	return ""
}

// statusText is the status line's message.
func (h *harness) statusText() string { return h.m.status.text }
