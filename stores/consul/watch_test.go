package consul_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

// next returns the next event of ch, failing the test if none comes.
func next(t *testing.T, ch <-chan stores.Event) stores.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed, want an event")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatalf("no watch event within %v", eventTimeout)
	}
	return stores.Event{}
}

// want checks that ev is of kind k for key (and value, unless nil).
func want(t *testing.T, ev stores.Event, k stores.EventKind, key string, value []byte) {
	t.Helper()
	if ev.Kind != k || ev.Entry.Key != key || (value != nil && string(ev.Entry.Value) != string(value)) {
		t.Fatalf("event = %s %q %q (err %v), want %s %q %q", ev.Kind, ev.Entry.Key, ev.Entry.Value, ev.Err, k, key, value)
	}
	if k == stores.EventPut && ev.Entry.Revision == 0 {
		t.Fatalf("event %s %q has revision 0", ev.Kind, ev.Entry.Key)
	}
}

func TestWatch(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	rev1 := mustCreate(t, s, "a/1", []byte("one"))
	mustCreate(t, s, "a/2", []byte("two"))
	mustCreate(t, s, "b/1", []byte("other"))

	wctx, cancel := context.WithCancel(ctx)
	ch, err := s.Watch(wctx, "a/")
	if err != nil {
		t.Fatalf("Watch(%q) = %v", "a/", err)
	}
	want(t, next(t, ch), stores.EventPut, "a/1", []byte("one"))
	want(t, next(t, ch), stores.EventPut, "a/2", []byte("two"))
	want(t, next(t, ch), stores.EventSynced, "", nil)

	rev3 := mustCreate(t, s, "a/3", []byte("three"))
	ev := next(t, ch)
	want(t, ev, stores.EventPut, "a/3", []byte("three"))
	if ev.Entry.Revision != rev3 {
		t.Errorf("put a/3 revision = %d, want %d", ev.Entry.Revision, rev3)
	}

	rev1b, err := s.Update(ctx, "a/1", []byte{}, rev1)
	if err != nil {
		t.Fatal(err)
	}
	ev = next(t, ch)
	want(t, ev, stores.EventPut, "a/1", []byte{})
	if ev.Entry.Revision != rev1b || ev.Entry.Value == nil {
		t.Errorf("put a/1 = revision %d value %#v, want revision %d and an empty non-nil value", ev.Entry.Revision, ev.Entry.Value, rev1b)
	}

	if err := s.Delete(ctx, "a/2"); err != nil {
		t.Fatal(err)
	}
	want(t, next(t, ch), stores.EventDelete, "a/2", nil)

	// A write outside the prefix is not reported: the next event is a/4.
	mustCreate(t, s, "b/2", []byte("other"))
	mustCreate(t, s, "a/4", []byte("four"))
	want(t, next(t, ch), stores.EventPut, "a/4", []byte("four"))

	cancel()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("after cancel: event %s %q, want the channel closed", ev.Kind, ev.Entry.Key)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("channel not closed %v after cancel", eventTimeout)
	}
}

// mirror is a watch consumer that keeps the state the contract promises:
// drop everything on EventReset, apply puts and deletes.
// It also notes what breaks the order the driver promises: a snapshot not
// sorted by key, a key's puts not in revision order.
type mirror struct {
	mu      sync.Mutex
	state   map[string]string
	kinds   []stores.EventKind
	lastErr error
	changed chan struct{} // capacity 1

	revs     map[string]uint64 // the last revision put, per key
	snapshot bool              // between a Reset (or the start) and Synced
	lastKey  string            // the last key of the snapshot so far
	disorder []string          // what broke the order
}

func follow(ch <-chan stores.Event) *mirror {
	m := &mirror{state: map[string]string{}, changed: make(chan struct{}, 1), revs: map[string]uint64{}, snapshot: true}
	go func() {
		for ev := range ch {
			m.mu.Lock()
			m.kinds = append(m.kinds, ev.Kind)
			switch ev.Kind {
			case stores.EventReset:
				clear(m.state)
				clear(m.revs)
				m.snapshot, m.lastKey = true, ""
			case stores.EventSynced:
				m.snapshot = false
			case stores.EventPut:
				k := ev.Entry.Key
				if m.snapshot && k <= m.lastKey && len(m.state) > 0 {
					m.disorder = append(m.disorder, fmt.Sprintf("snapshot: %q after %q", k, m.lastKey))
				}
				if m.snapshot {
					m.lastKey = k
				}
				if rev, ok := m.revs[k]; ok && ev.Entry.Revision <= rev {
					m.disorder = append(m.disorder, fmt.Sprintf("%q: revision %d after %d", k, ev.Entry.Revision, rev))
				}
				m.revs[k] = ev.Entry.Revision
				m.state[k] = string(ev.Entry.Value)
			case stores.EventDelete:
				delete(m.state, ev.Entry.Key)
			case stores.EventError:
				m.lastErr = ev.Err
			}
			m.mu.Unlock()
			select {
			case m.changed <- struct{}{}:
			default:
			}
		}
	}()
	return m
}

// count returns how many events of kind k arrived.
func (m *mirror) count(k stores.EventKind) int {
	n := 0
	for _, got := range m.kinds {
		if got == k {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds (called with m locked).
func (m *mirror) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(eventTimeout)
	for {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-m.changed:
		case <-deadline:
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Fatalf("waiting for %s: not within %v; state %v, events %v", what, eventTimeout, m.state, m.kinds)
		}
	}
}

// listState reads the store's state under prefix.
func listState(t *testing.T, s stores.Store, prefix string) map[string]string {
	t.Helper()
	list, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	m := map[string]string{}
	for _, e := range list {
		m[e.Key] = string(e.Value)
	}
	return m
}

// TestWatchAgentRestart stops the agent under a running watch and starts a
// new one (dev mode: empty state, a new index history) on the same ports.
// The watch must report errors while the agent is down, then reset and
// resynchronise, so that the consumer's state equals the new agent's.
func TestWatchAgentRestart(t *testing.T) {
	for _, mode := range watchModes {
		t.Run(mode.name, func(t *testing.T) { testWatchAgentRestart(t, mode.opts) })
	}
}

func testWatchAgentRestart(t *testing.T, opts []consul.Option) {
	a := consultest.Start(t)
	first := a.Startup()

	s, err := consul.New(apiConfig(t, a, "", nil), append(opts, consul.WithRetryBackoff(20*time.Millisecond, 200*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"r/a", "r/b", "r/gone"} {
		mustCreate(t, s, k, []byte(fmt.Sprint("old", i)))
	}
	ch, err := s.Watch(t.Context(), "r/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	m.waitFor(t, "the first snapshot", func() bool { return m.count(stores.EventSynced) == 1 })
	if before := listState(t, s, "r/"); !maps.Equal(m.state, before) {
		t.Fatalf("state after the first snapshot = %v, want %v", m.state, before)
	}

	a.Stop()
	m.waitFor(t, "an error while the agent is down", func() bool { return m.count(stores.EventError) > 0 })
	m.mu.Lock()
	t.Logf("error while down: %v", m.lastErr)
	if !strings.HasPrefix(m.lastErr.Error(), "consul: watch ") {
		t.Errorf("EventError.Err = %q, want a consul: watch error", m.lastErr)
	}
	m.mu.Unlock()

	a.Restart(t)
	t.Logf("agents up in %v and %v", first, a.Startup())
	for i, k := range []string{"r/a", "r/new"} {
		mustCreate(t, s, k, []byte(fmt.Sprint("new", i)))
	}
	want := listState(t, s, "r/")
	m.waitFor(t, "a reset and the new agent's state", func() bool {
		return m.count(stores.EventReset) >= 1 && m.count(stores.EventSynced) >= 2 && maps.Equal(m.state, want)
	})
	m.mu.Lock()
	kinds := slices.Clone(m.kinds)
	m.mu.Unlock()
	reset := slices.Index(kinds, stores.EventReset)
	if reset < 0 || slices.Index(kinds[reset:], stores.EventSynced) < 0 {
		t.Errorf("events %v: want EventReset followed by EventSynced", kinds)
	}

	// The watch follows the new agent's changes.
	mustCreate(t, s, "r/later", []byte("later"))
	want = listState(t, s, "r/")
	m.waitFor(t, "a change on the new agent", func() bool { return maps.Equal(m.state, want) })
	t.Logf("events across the restart: %v", kinds)
}

// TestWatchSnapshotRestore restores an older snapshot into the agent under a
// running watch: the answer's index goes backwards without any failed query,
// so the watch must reset and resynchronise to the restored state.
func TestWatchSnapshotRestore(t *testing.T) {
	for _, mode := range watchModes {
		t.Run(mode.name, func(t *testing.T) { testWatchSnapshotRestore(t, mode.opts) })
	}
}

func testWatchSnapshotRestore(t *testing.T, opts []consul.Option) {
	a := consultest.Start(t)
	t.Logf("agent up in %v", a.Startup())
	client := apiClient(t, a, "", nil)
	// A restore that lands between two blocking queries is only seen when
	// the next one's wait ends; a short wait bounds that.
	s, err := consul.New(apiConfig(t, a, "", nil), append(opts, consul.WithWatchWait(2*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "snap/kept", []byte("old"))
	snap, _, err := client.Snapshot().Save(nil)
	if err != nil {
		t.Fatalf("Snapshot().Save() = %v", err)
	}
	defer snap.Close()
	saved, err := io.ReadAll(snap)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // move the index well past the snapshot's
		mustCreate(t, s, fmt.Sprintf("snap/later-%02d", i), []byte("new"))
	}

	ch, err := s.Watch(t.Context(), "snap/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	m.waitFor(t, "the first snapshot", func() bool { return m.count(stores.EventSynced) == 1 })

	start := time.Now()
	if err := client.Snapshot().Restore(nil, bytes.NewReader(saved)); err != nil {
		t.Fatalf("Snapshot().Restore() = %v", err)
	}
	t.Logf("restore took %v", time.Since(start))
	want := listState(t, s, "snap/")
	if len(want) != 1 {
		t.Fatalf("state after restore = %v, want only snap/kept", want)
	}
	m.waitFor(t, "a reset to the restored state", func() bool {
		return m.count(stores.EventReset) == 1 && m.count(stores.EventSynced) == 2 && maps.Equal(m.state, want)
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.count(stores.EventError); n != 0 {
		t.Errorf("%d EventError during a restore, want none (events %v)", n, m.kinds)
	}
	if len(m.disorder) > 0 {
		t.Errorf("out of order: %q", m.disorder)
	}
	t.Logf("events across the restore: %v (%v after the restore began)", m.kinds, time.Since(start))
}
