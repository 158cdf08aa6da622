package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// countingWatcher counts the watches started on a real store, and passes
// the events a test injects into them, as a driver sends EventError or
// EventReset when its server goes away.
type countingWatcher struct {
	stores.Watcher
	n      atomic.Int32
	inject chan stores.Event
}

func newCountingWatcher(t *testing.T) (*memory.Store, *countingWatcher) {
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	w, _ := stores.AsWatcher(m)
	return m, &countingWatcher{Watcher: w, inject: make(chan stores.Event)}
}

func (c *countingWatcher) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	c.n.Add(1)
	in, err := c.Watcher.Watch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(chan stores.Event)
	go func() {
		defer close(out)
		for {
			var ev stores.Event
			select {
			case e, ok := <-in:
				if !ok {
					return
				}
				ev = e
			case ev = <-c.inject:
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// page is what one page was sent: every event in order, and each key's
// latest state.
type page struct {
	h    *hub
	s    *subscriber
	evs  []stores.Event
	keys map[string]stores.Entry
}

func subscribe(t *testing.T, h *hub) *page {
	t.Helper()
	s, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	return &page{h: h, s: s, keys: map[string]stores.Entry{}}
}

// until reads the page's stream, as the events handler does, until done
// holds, failing after a while; it returns the events of that read.
func (p *page) until(t *testing.T, what string, done func(p *page) bool) []stores.Event {
	t.Helper()
	start := len(p.evs)
	timeout := time.After(10 * time.Second)
	for !done(p) {
		select {
		case <-p.s.Wake:
		case <-timeout:
			t.Fatalf("waiting for %s: nothing after 10s; got %v", what, p.evs[start:])
		}
		evs, ended := p.h.next(p.s)
		for _, ev := range evs {
			p.evs = append(p.evs, ev)
			switch ev.Kind {
			case stores.EventPut:
				p.keys[ev.Entry.Key] = ev.Entry
			case stores.EventDelete:
				delete(p.keys, ev.Entry.Key)
			case stores.EventReset:
				clear(p.keys)
			}
		}
		if ended && !done(p) {
			t.Fatalf("waiting for %s: the stream ended", what)
		}
	}
	return p.evs[start:]
}

func (p *page) last(kind stores.EventKind) bool {
	return len(p.evs) > 0 && p.evs[len(p.evs)-1].Kind == kind
}

func (p *page) has(key string, value string) bool {
	e, ok := p.keys[key]
	return ok && string(e.Value) == value
}

func TestHubSharesOneWatch(t *testing.T) {
	ctx := t.Context()
	m, cw := newCountingWatcher(t)
	h := newHub(cw, "p/")
	for _, k := range []string{"p/b", "p/a", "q/x"} {
		if _, err := m.Create(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	first := subscribe(t, h)
	first.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	if len(first.keys) != 2 || !first.has("p/a", "p/a") || !first.has("p/b", "p/b") {
		t.Errorf("the first page's snapshot = %v, want p/a and p/b", first.keys)
	}

	// A second page gets the hub's state in one read, in key order, then
	// synced; and no new watch.
	second := subscribe(t, h)
	got := second.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	if fmt.Sprint(kinds(got)) != "[put put synced]" || got[0].Entry.Key != "p/a" || got[1].Entry.Key != "p/b" {
		t.Errorf("the second page's snapshot = %v, want puts of p/a, p/b, then synced", got)
	}
	if n := cw.n.Load(); n != 1 {
		t.Errorf("two pages started %d watches, want 1", n)
	}
	// Both follow a change and a delete.
	if _, err := m.Create(ctx, "p/c", []byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "p/a"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*page{first, second} {
		p.until(t, "p/c and no p/a", func(p *page) bool { _, a := p.keys["p/a"]; return p.has("p/c", "c") && !a })
	}

	// The last page to leave stops the watch; the next starts a new one.
	h.unsubscribe(first.s)
	h.unsubscribe(second.s)
	again := subscribe(t, h)
	if n := cw.n.Load(); n != 2 {
		t.Errorf("after every page left, a new page started no new watch (%d in all)", n)
	}
	again.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	if len(again.keys) != 2 || !again.has("p/b", "p/b") || !again.has("p/c", "c") {
		t.Errorf("the new watch's snapshot = %v, want p/b and p/c", again.keys)
	}
	h.close()
	again.until(t, "the end", func(p *page) bool {
		select {
		case <-p.s.Wake:
			_, ended := h.next(p.s)
			return ended
		default:
			return false
		}
	})
}

func kinds(evs []stores.Event) []stores.EventKind {
	var ks []stores.EventKind
	for _, ev := range evs {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// TestHubSlowPageCoalesces checks that a page that does not read while
// the store changes 20,000 times is not dropped and not queued for: it
// then gets one event per changed key, with the key's final entry.
func TestHubSlowPageCoalesces(t *testing.T) {
	ctx := t.Context()
	m, cw := newCountingWatcher(t)
	h := newHub(cw, "")
	t.Cleanup(h.close)
	slow := subscribe(t, h)
	slow.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	fast := subscribe(t, h)
	const keys, rounds = 100, 200
	revs := map[string]uint64{}
	for r := range rounds {
		for k := range keys {
			key := fmt.Sprintf("k%03d", k)
			rev, err := m.Update(ctx, key, fmt.Appendf(nil, "%d", r), revs[key])
			if r == 0 {
				rev, err = m.Create(ctx, key, []byte("0"))
			}
			if err != nil {
				t.Fatal(err)
			}
			revs[key] = rev
		}
		// The fast page keeps up as it can.
		select {
		case <-fast.s.Wake:
			fast.until(t, "a read", func(*page) bool { return true })
		default:
		}
	}
	final := func(p *page) bool {
		for k, rev := range revs {
			if p.keys[k].Revision != rev {
				return false
			}
		}
		return true
	}
	// Once the fast page has every final entry, the hub has applied every
	// change: the slow page's one read must hold them all.
	fast.until(t, "every key's final entry", final)
	got := slow.until(t, "every key's final entry", final)
	if len(got) > keys {
		t.Errorf("the page that did not read got %d events for %d keys changed %d times each, want at most one per key", len(got), keys, rounds)
	}
	for k, e := range slow.keys {
		if string(e.Value) != fmt.Sprint(rounds-1) {
			t.Errorf("%s = %q, want %d", k, e.Value, rounds-1)
		}
	}
}

// TestHubFailingAndReset checks that a page joining while the store fails
// is told so after its snapshot, that a later change supersedes the error,
// and that a reset of the store's watch resets every page.
func TestHubFailingAndReset(t *testing.T) {
	m, cw := newCountingWatcher(t)
	h := newHub(cw, "")
	t.Cleanup(h.close)
	if _, err := m.Create(t.Context(), "a", nil); err != nil {
		t.Fatal(err)
	}
	first := subscribe(t, h)
	first.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	cw.inject <- stores.Event{Kind: stores.EventError, Err: fmt.Errorf("etcd: connection refused")}
	first.until(t, "the error", func(p *page) bool { return p.last(stores.EventError) })
	joined := subscribe(t, h)
	got := joined.until(t, "the error", func(p *page) bool { return p.last(stores.EventError) })
	if fmt.Sprint(kinds(got)) != "[put synced error]" || got[2].Err.Error() != "etcd: connection refused" {
		t.Errorf("a page joining while the store fails got %v, want its snapshot, synced, the error", got)
	}
	if _, err := m.Create(t.Context(), "b", nil); err != nil {
		t.Fatal(err)
	}
	first.until(t, "b", func(p *page) bool { _, ok := p.keys["b"]; return ok })
	later := subscribe(t, h)
	got = later.until(t, "synced", func(p *page) bool { return p.last(stores.EventSynced) })
	if fmt.Sprint(kinds(got)) != "[put put synced]" {
		t.Errorf("a page joining after the store recovered got %v, want puts of a, b, then synced", got)
	}
	cw.inject <- stores.Event{Kind: stores.EventReset}
	for _, p := range []*page{first, later} {
		got := p.until(t, "the reset", func(p *page) bool { return p.last(stores.EventReset) })
		if len(got) != 1 || len(p.keys) != 0 {
			t.Errorf("after the store's reset a page got %v and holds %d keys, want the reset alone", got, len(p.keys))
		}
	}
	fresh := subscribe(t, h)
	select {
	case <-fresh.s.Wake:
		if evs, _ := h.next(fresh.s); len(evs) != 0 {
			t.Errorf("a page joining after a reset, before a new snapshot, got %v, want nothing", evs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a new page was not woken")
	}
}
