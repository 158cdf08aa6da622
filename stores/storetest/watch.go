package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
)

// eventTimeout bounds every wait for a watch event. It is generous because
// real servers batch and poll (Consul blocking queries); a correct store
// answers far sooner, so passing tests never wait this long.
const eventTimeout = 10 * time.Second

// stream is a watch under test.
type stream struct {
	t  *testing.T
	ch <-chan stores.Event
}

// watcher returns s's stores.Watcher, failing the test when the lookup does
// not find the capability the driver declared.
func watcher(t *testing.T, s stores.Store) stores.Watcher {
	t.Helper()
	w, ok := stores.AsWatcher(s)
	if !ok {
		t.Fatalf("stores.AsWatcher(%T) finds no stores.Watcher, but Capabilities.Watch is declared", s)
	}
	return w
}

// watch starts watching prefix until the test ends.
func watch(t *testing.T, s stores.Store, prefix string) *stream {
	t.Helper()
	w := watcher(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ch, err := w.Watch(ctx, prefix)
	if err != nil {
		t.Fatalf("Watch(%q) = %v, want nil", prefix, err)
	}
	return &stream{t: t, ch: ch}
}

// next returns the next event other than EventError (a transient failure the
// driver retries, logged), failing the test if none comes in eventTimeout.
func (w *stream) next() stores.Event {
	w.t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				w.t.Fatalf("watch channel closed, want another event")
			}
			if ev.Kind == stores.EventError {
				w.t.Logf("watch: transient error: %v", ev.Err)
				continue
			}
			return ev
		case <-timer.C:
			w.t.Fatalf("no watch event in %v", eventTimeout)
		}
	}
}

// wantPut checks that the next event puts want.
func (w *stream) wantPut(what string, want stores.Entry) {
	w.t.Helper()
	ev := w.next()
	if ev.Kind != stores.EventPut || !equalEntry(ev.Entry, want) {
		w.t.Fatalf("%s: watch event = %s, want put %s", what, fmtEvent(ev), fmtEntry(want))
	}
}

// wantSnapshot checks the snapshot against want (sorted by key) and the
// EventSynced after it.
func (w *stream) wantSnapshot(want []stores.Entry) {
	w.t.Helper()
	for _, e := range want {
		w.wantPut("snapshot", e)
	}
	if ev := w.next(); ev.Kind != stores.EventSynced {
		w.t.Fatalf("watch event after the snapshot = %s, want synced", fmtEvent(ev))
	}
}

func fmtEvent(ev stores.Event) string {
	switch ev.Kind {
	case stores.EventPut, stores.EventDelete:
		return fmt.Sprintf("%v %s", ev.Kind, fmtEntry(ev.Entry))
	case stores.EventError:
		return fmt.Sprintf("%v %v", ev.Kind, ev.Err)
	}
	return ev.Kind.String()
}

// entry is a shorthand for a stores.Entry literal.
func entry(key, value string, rev uint64) stores.Entry {
	return stores.Entry{Key: key, Value: []byte(value), Revision: rev}
}

func testWatchSnapshotThenChanges(t *testing.T, s stores.Store) {
	revB := mustCreate(t, s, "st/w/b", []byte("B"))
	revA := mustCreate(t, s, "st/w/a", nil)
	revWX := mustCreate(t, s, "st/wx", []byte("outside"))
	mustCreate(t, s, "st/v", []byte("outside"))

	w := watch(t, s, "st/w/")
	w.wantSnapshot([]stores.Entry{entry("st/w/a", "", revA), entry("st/w/b", "B", revB)})

	// Changes to distinct keys arrive one by one, in revision order; writes
	// outside the prefix are not delivered (they would come before the last).
	revC := mustCreate(t, s, "st/w/c", []byte("C"))
	revD := mustCreate(t, s, "st/w/d", []byte{})
	revA = mustUpdate(t, s, "st/w/a", []byte("A2"), revA)
	mustCreate(t, s, "st/x", []byte("outside"))
	mustUpdate(t, s, "st/wx", []byte("outside 2"), revWX)
	revB = mustUpdate(t, s, "st/w/b", []byte{}, revB)
	revE := mustCreate(t, s, "st/w/e", []byte("E"))
	for _, want := range []stores.Entry{
		entry("st/w/c", "C", revC),
		entry("st/w/d", "", revD),
		entry("st/w/a", "A2", revA),
		entry("st/w/b", "", revB),
		entry("st/w/e", "E", revE),
	} {
		w.wantPut("change", want)
	}
}

func testWatchAllKeys(t *testing.T, s stores.Store) {
	w := watch(t, s, "")
	w.wantSnapshot(nil)
	revA := mustCreate(t, s, "other/a", []byte("a"))
	revB := mustCreate(t, s, "st/b", []byte("b"))
	w.wantPut("change", entry("other/a", "a", revA))
	w.wantPut("change", entry("st/b", "b", revB))

	// A second watch on the same store starts from the current state.
	w2 := watch(t, s, "")
	w2.wantSnapshot([]stores.Entry{entry("other/a", "a", revA), entry("st/b", "b", revB)})
}

func testWatchCancel(t *testing.T, s stores.Store) {
	wr := watcher(t, s)
	mustCreate(t, s, "st/a", []byte("a"))
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := wr.Watch(ctx, "st/")
	if err != nil {
		cancel()
		t.Fatalf("Watch(%q) = %v, want nil", "st/", err)
	}
	cancel()
	// Whatever was in flight may still come; then the channel must close.
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("watch channel still open %v after its context was canceled", eventTimeout)
		}
	}
}

func testWatchBurst(t *testing.T, s stores.Store) {
	const key, n = "st/burst/k", 500
	rev := mustCreate(t, s, key, []byte("start"))
	w := watch(t, s, "st/burst/")
	w.wantSnapshot([]stores.Entry{entry(key, "start", rev)})

	// Nobody reads while the writes happen: a slow consumer must not block
	// writers, and it may miss intermediate values but never the last one.
	first := rev
	written := map[uint64]string{}
	for i := range n {
		value := fmt.Sprintf("burst-%03d", i)
		rev = mustUpdate(t, s, key, []byte(value), rev)
		written[rev] = value
	}
	last := first
	for last != rev {
		ev := w.next()
		if ev.Kind != stores.EventPut || ev.Entry.Key != key {
			t.Fatalf("watch event = %s, want put of %q", fmtEvent(ev), key)
		}
		if ev.Entry.Revision <= last {
			t.Fatalf("watch event = %s after revision %d, want revisions in increasing order", fmtEvent(ev), last)
		}
		if want, ok := written[ev.Entry.Revision]; !ok || string(ev.Entry.Value) != want {
			t.Fatalf("watch event = %s, want the value written at that revision %q", fmtEvent(ev), want)
		}
		last = ev.Entry.Revision
	}
}

func testWatchDelete(t *testing.T, s stores.Store) {
	d := deleter(t, s)
	revA := mustCreate(t, s, "st/d/a", []byte("a"))
	w := watch(t, s, "st/d/")
	w.wantSnapshot([]stores.Entry{entry("st/d/a", "a", revA)})
	mustDelete(t, d, "st/d/a")
	if ev := w.next(); ev.Kind != stores.EventDelete || ev.Entry.Key != "st/d/a" {
		t.Fatalf("watch event after Delete(%q) = %s, want delete", "st/d/a", fmtEvent(ev))
	}
	revA = mustCreate(t, s, "st/d/a", []byte("again"))
	w.wantPut("re-create", entry("st/d/a", "again", revA))

	// A watch started after the delete does not list the key in its snapshot.
	mustDelete(t, d, "st/d/a")
	revB := mustCreate(t, s, "st/d/b", []byte("b"))
	w2 := watch(t, s, "st/d/")
	w2.wantSnapshot([]stores.Entry{entry("st/d/b", "b", revB)})
}
