package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/stores/storetest"
)

func newStore(t *testing.T) *memory.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Capabilities{Watch: true, Delete: true, Scan: true},
		func(t *testing.T) stores.Store { return newStore(t) })
}

// TestRevisions pins the store-wide counter: it starts at 1, every write and
// every deletion takes the next number, refused writes take none.
func TestRevisions(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() (uint64, error)
		want uint64 // 0: the step is refused
	}{
		{"create a", func() (uint64, error) { return s.Create(ctx, "a", []byte("1")) }, 1},
		{"create b", func() (uint64, error) { return s.Create(ctx, "b", nil) }, 2},
		{"create a again", func() (uint64, error) { return s.Create(ctx, "a", []byte("x")) }, 0},
		{"update a at 2", func() (uint64, error) { return s.Update(ctx, "a", []byte("x"), 2) }, 0},
		{"update a at 1", func() (uint64, error) { return s.Update(ctx, "a", []byte("2"), 1) }, 3},
		{"delete b", func() (uint64, error) { return 0, s.Delete(ctx, "b") }, 0},
		{"create c", func() (uint64, error) { return s.Create(ctx, "c", nil) }, 5},
		{"delete missing", func() (uint64, error) { return 0, s.Delete(ctx, "missing") }, 0},
		{"update c at 5", func() (uint64, error) { return s.Update(ctx, "c", nil, 5) }, 6},
	}
	for _, step := range steps {
		got, err := step.do()
		if step.want != 0 && (got != step.want || err != nil) {
			t.Errorf("%s = %d, %v, want %d, nil", step.name, got, err, step.want)
		}
		if step.want == 0 && got != 0 {
			t.Errorf("%s = revision %d, want 0", step.name, got)
		}
	}
}

func TestErrors(t *testing.T) {
	s := newStore(t)
	rev, err := s.Create(t.Context(), "k", []byte("v"))
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", "k", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Get missing", second(s.Get(ctx, "missing")), stores.ErrNotFound},
		{"Create existing", second(s.Create(ctx, "k", nil)), stores.ErrExists},
		{"Update stale", second(s.Update(ctx, "k", nil, rev+1)), stores.ErrConflict},
		{"Update missing", second(s.Update(ctx, "missing", nil, rev)), stores.ErrConflict},
		{"Get empty key", second(s.Get(ctx, "")), stores.ErrInvalidKey},
		{"Create empty key", second(s.Create(ctx, "", nil)), stores.ErrInvalidKey},
		{"Update empty key", second(s.Update(ctx, "", nil, rev)), stores.ErrInvalidKey},
		{"Delete empty key", s.Delete(ctx, ""), stores.ErrInvalidKey},
		{"Get canceled", second(s.Get(canceled, "k")), context.Canceled},
		{"Create canceled", second(s.Create(canceled, "new", nil)), context.Canceled},
		{"Update canceled", second(s.Update(canceled, "k", nil, rev)), context.Canceled},
		{"Delete canceled", s.Delete(canceled, "k"), context.Canceled},
		{"List canceled", second(s.List(canceled, "")), context.Canceled},
		{"Watch canceled", second(s.Watch(canceled, "")), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("%s = %v, want %v", tc.name, tc.err, tc.want)
			}
		})
	}
	// A refused create tells the caller what is there.
	_, err = s.Create(ctx, "k", []byte("other"))
	ee, ok := errors.AsType[*stores.ExistsError](err)
	if !ok || ee.Current.Key != "k" || string(ee.Current.Value) != "v" || ee.Current.Revision != rev {
		t.Errorf("Create(%q) over an existing key = %v, want *stores.ExistsError with {k v %d}", "k", err, rev)
	}
	// The canceled calls changed nothing.
	if _, err := s.Get(ctx, "new"); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(%q) after a canceled Create = %v, want ErrNotFound", "new", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestClose checks that Close ends every watch (synctest.Test fails if a
// watch goroutine is left blocked) and refuses every later call.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New()
		ctx := t.Context()
		rev := mustCreate(t, s, "k", "v")
		ch, err := s.Watch(ctx, "")
		if err != nil {
			t.Fatalf("Watch(%q) = %v, want nil", "", err)
		}
		for _, call := range []int{1, 2} {
			if err := s.Close(); err != nil {
				t.Fatalf("Close() call %d = %v, want nil", call, err)
			}
		}
		for range ch { // the snapshot may still be delivered; then the channel closes
		}
		for _, tc := range []struct {
			name string
			err  error
		}{
			{"Get", second(s.Get(ctx, "k"))},
			{"Create", second(s.Create(ctx, "new", nil))},
			{"Update", second(s.Update(ctx, "k", nil, rev))},
			{"Delete", s.Delete(ctx, "k")},
			{"List", second(s.List(ctx, ""))},
			{"Watch", second(s.Watch(ctx, ""))},
		} {
			if !errors.Is(tc.err, memory.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", tc.name, tc.err)
			}
		}
	})
}

// TestWatchSlowConsumer checks that writers never wait for a watcher that
// does not read, and that the watcher then receives the latest state of every
// key, one event per key, in revision order.
func TestWatchSlowConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		ch, err := s.Watch(ctx, "k/")
		if err != nil {
			t.Fatalf("Watch(%q) = %v, want nil", "k/", err)
		}
		const keys, rounds = 10, 1000
		revs := make([]uint64, keys)
		for round := range rounds {
			for k := range keys {
				key := fmt.Sprintf("k/%d", k)
				value := fmt.Appendf(nil, "%d", round)
				if round == 0 {
					revs[k], err = s.Create(ctx, key, value)
				} else {
					revs[k], err = s.Update(ctx, key, value, revs[k])
				}
				if err != nil {
					t.Fatalf("write %d of %q = %v, want nil", round, key, err)
				}
			}
		}
		if _, err := s.Create(ctx, "other", nil); err != nil {
			t.Fatalf("Create(%q) = %v, want nil", "other", err)
		}

		got := drain(ch)
		want := []string{"synced"}
		for k := range keys {
			want = append(want, fmt.Sprintf("put k/%d %d rev %d", k, rounds-1, revs[k]))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events after %d writes without reading = %q, want %q", keys*rounds, got, want)
		}
	})
}

// drain returns what a watch delivers until it has nothing more to send.
func drain(ch <-chan stores.Event) []string {
	var got []string
	for {
		synctest.Wait()
		select {
		case ev := <-ch:
			s := ev.Kind.String()
			if ev.Kind == stores.EventPut || ev.Kind == stores.EventDelete {
				s += fmt.Sprintf(" %s %s rev %d", ev.Entry.Key, ev.Entry.Value, ev.Entry.Revision)
			}
			got = append(got, s)
		default:
			return got
		}
	}
}

// TestWatchEvents checks the snapshot, deletions, that a change queued
// behind an undelivered one replaces it, and that events are copies.
func TestWatchEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mustCreate(t, s, "w/b", "b")
		mustCreate(t, s, "w/a", "a")
		mustCreate(t, s, "x", "outside")
		ch, err := s.Watch(ctx, "w/")
		if err != nil {
			t.Fatalf("Watch(%q) = %v, want nil", "w/", err)
		}
		// Both snapshot events stay although w/a changes before delivery.
		if _, err := s.Update(ctx, "w/a", []byte("a2"), 2); err != nil {
			t.Fatalf("Update(%q) = %v, want nil", "w/a", err)
		}
		if err := s.Delete(ctx, "w/b"); err != nil {
			t.Fatalf("Delete(%q) = %v, want nil", "w/b", err)
		}
		mustCreate(t, s, "w/b", "b2")
		if err := s.Delete(ctx, "w/b"); err != nil {
			t.Fatalf("Delete(%q) = %v, want nil", "w/b", err)
		}
		got := drain(ch)
		want := []string{
			"put w/a a rev 2",
			"put w/b b rev 1",
			"synced",
			"put w/a a2 rev 4",
			"delete w/b  rev 7", // the delete replaced the queued delete and re-create
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events = %q, want %q", got, want)
		}

		// A consumer that mutates an event's value does not touch the store.
		mustCreate(t, s, "w/c", "c")
		synctest.Wait()
		ev := <-ch
		copy(ev.Entry.Value, "X")
		if e, err := s.Get(ctx, "w/c"); err != nil || string(e.Value) != "c" {
			t.Errorf("Get(%q) after mutating the watched value = %q, %v, want %q, nil", "w/c", e.Value, err, "c")
		}
	})
}

// TestWatchEnds checks that every way of ending a watch closes its channel
// and ends its goroutine: synctest.Test fails if one is left blocked.
func TestWatchEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(cancel context.CancelFunc, s *memory.Store)
	}{
		{"cancel", func(cancel context.CancelFunc, _ *memory.Store) { cancel() }},
		{"close", func(_ context.CancelFunc, s *memory.Store) { s.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStore(t)
				mustCreate(t, s, "k", "v")
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var chans []<-chan stores.Event
				for range 3 {
					ch, err := s.Watch(ctx, "")
					if err != nil {
						t.Fatalf("Watch(%q) = %v, want nil", "", err)
					}
					chans = append(chans, ch)
				}
				<-chans[0] // one watcher is mid-stream, the others have not started
				tc.end(cancel, s)
				for i, ch := range chans {
					n := 0
					for range ch {
						n++
					}
					if n > 2 {
						t.Errorf("watch %d delivered %d more events after it ended, want at most the snapshot", i, n)
					}
				}
			})
		})
	}
}

func mustCreate(t *testing.T, s *memory.Store, key, value string) uint64 {
	t.Helper()
	rev, err := s.Create(t.Context(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", key, err)
	}
	return rev
}
