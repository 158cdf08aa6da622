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

// countingWatcher counts the watches started on a real store.
type countingWatcher struct {
	stores.Watcher
	n atomic.Int32
}

func (c *countingWatcher) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	c.n.Add(1)
	return c.Watcher.Watch(ctx, prefix)
}

// until reads s's events until one satisfies done, failing after a while.
func until(t *testing.T, s *subscriber, what string, done func(stores.Event) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.C:
			if !ok {
				t.Fatalf("waiting for %s: the stream was closed", what)
			}
			if done(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("waiting for %s: nothing after 10s", what)
		}
	}
}

// snapshotKeys checks that snap is puts in key order of exactly want,
// then synced.
func snapshotKeys(t *testing.T, snap []stores.Event, want ...string) {
	t.Helper()
	var got []string
	for i, ev := range snap {
		if ev.Kind == stores.EventSynced && i == len(snap)-1 {
			break
		}
		if ev.Kind != stores.EventPut {
			t.Fatalf("snapshot event %d is %v", i, ev.Kind)
		}
		got = append(got, ev.Entry.Key)
	}
	if len(snap) == 0 || snap[len(snap)-1].Kind != stores.EventSynced || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshot = %v (last %v), want puts %v then synced", got, snap[len(snap)-1:], want)
	}
}

func TestHubSharesOneWatch(t *testing.T) {
	ctx := t.Context()
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	w, _ := stores.AsWatcher(m)
	cw := &countingWatcher{Watcher: w}
	h := newHub(cw, "p/")
	for _, k := range []string{"p/b", "p/a", "q/x"} {
		if _, err := m.Create(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	snap, first, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	// The first page starts the watch and gets its snapshot as events.
	if len(snap) != 0 {
		t.Fatalf("the first page's snapshot from the hub = %v, want it to come from the watch", snap)
	}
	until(t, first, "synced", func(ev stores.Event) bool { return ev.Kind == stores.EventSynced })

	// A second page gets the hub's state, in key order, and no new watch.
	snap, second, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	snapshotKeys(t, snap, "p/a", "p/b")
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
	for _, s := range []*subscriber{first, second} {
		until(t, s, "p/c", func(ev stores.Event) bool { return ev.Kind == stores.EventPut && ev.Entry.Key == "p/c" })
		until(t, s, "the delete of p/a", func(ev stores.Event) bool { return ev.Kind == stores.EventDelete && ev.Entry.Key == "p/a" })
	}
	snap, third, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	snapshotKeys(t, snap, "p/b", "p/c")

	// The last page to leave stops the watch; the next starts a new one.
	for _, s := range []*subscriber{first, second, third} {
		h.unsubscribe(s)
	}
	if _, ok := <-first.C; ok {
		t.Error("a page's channel is open after it left")
	}
	snap, again, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 0 || cw.n.Load() != 2 {
		t.Errorf("after every page left: snapshot of %d events and %d watches, want a new watch (2)", len(snap), cw.n.Load())
	}
	until(t, again, "synced", func(ev stores.Event) bool { return ev.Kind == stores.EventSynced })
	h.close()
	if _, ok := <-again.C; ok {
		t.Error("a page's channel is open after the hub closed")
	}
}

// TestHubDropsSlowPage checks that a page that reads nothing is dropped
// once it is subscriberBuffer events behind, while another page goes on.
func TestHubDropsSlowPage(t *testing.T) {
	ctx := t.Context()
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	w, _ := stores.AsWatcher(m)
	h := newHub(w, "")
	t.Cleanup(h.close)
	_, slow, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	_, fast, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		n := 0
		for ev := range fast.C {
			if ev.Kind == stores.EventPut && ev.Entry.Key == "last" {
				n = -1
				break
			}
			n++
		}
		done <- n
	}()
	for i := range subscriberBuffer + 100 {
		if _, err := m.Create(ctx, fmt.Sprintf("k%06d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, "last", nil); err != nil {
		t.Fatal(err)
	}
	if n := <-done; n != -1 {
		t.Fatalf("the reading page's stream ended after %d events, before the last write", n)
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("the page that read nothing got %d events before its stream closed, want %d", n, subscriberBuffer)
	}
}

// failingWatcher is a real store's watch into which the test can slip an
// EventError, as a driver sends one when its server goes away.
type failingWatcher struct {
	stores.Watcher
	fail chan error
}

func (f *failingWatcher) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	in, err := f.Watcher.Watch(ctx, prefix)
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
			case err := <-f.fail:
				ev = stores.Event{Kind: stores.EventError, Err: err}
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

// TestHubTellsFailing checks that a page joining while the store fails is
// told so after its snapshot, and one joining after the store recovered is
// not.
func TestHubTellsFailing(t *testing.T) {
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	w, _ := stores.AsWatcher(m)
	fw := &failingWatcher{Watcher: w, fail: make(chan error)}
	h := newHub(fw, "")
	t.Cleanup(h.close)
	_, first, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	until(t, first, "synced", func(ev stores.Event) bool { return ev.Kind == stores.EventSynced })
	fw.fail <- fmt.Errorf("etcd: connection refused")
	until(t, first, "the error", func(ev stores.Event) bool { return ev.Kind == stores.EventError })
	snap, _, err := h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if last := snap[len(snap)-1]; last.Kind != stores.EventError || last.Err.Error() != "etcd: connection refused" {
		t.Errorf("a page joining while the store fails ends its snapshot with %v, want the error", last)
	}
	if _, err := m.Create(t.Context(), "k", nil); err != nil {
		t.Fatal(err)
	}
	until(t, first, "k", func(ev stores.Event) bool { return ev.Kind == stores.EventPut })
	snap, _, err = h.subscribe()
	if err != nil {
		t.Fatal(err)
	}
	snapshotKeys(t, snap, "k")
}
