package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
)

// watchTimeout bounds every wait for a watch event; generous, because a
// restarted server must elect itself and the client must reconnect. Passing
// tests never wait this long.
const watchTimeout = 90 * time.Second

// follower consumes a watch the way the console does: it keeps the state,
// drops it on EventReset, and remembers what it saw.
type follower struct {
	t      *testing.T
	ch     <-chan stores.Event
	state  map[string]stores.Entry
	synced bool // an EventSynced came after the last EventReset or EventError
	events []stores.Event
	errs   []error
}

func follow(t *testing.T, ch <-chan stores.Event) *follower {
	return &follower{t: t, ch: ch, state: map[string]stores.Entry{}}
}

func (f *follower) apply(ev stores.Event) {
	f.events = append(f.events, ev)
	switch ev.Kind {
	case stores.EventPut:
		f.state[ev.Entry.Key] = ev.Entry
	case stores.EventDelete:
		delete(f.state, ev.Entry.Key)
	case stores.EventSynced:
		f.synced = true
	case stores.EventReset:
		f.state = map[string]stores.Entry{}
		f.synced = false
	case stores.EventError:
		f.errs = append(f.errs, ev.Err)
		f.synced = false
	default:
		f.t.Errorf("watch event of unknown kind %v", ev.Kind)
	}
}

// next returns the next event, failing the test if none comes in time.
func (f *follower) next() stores.Event {
	f.t.Helper()
	timer := time.NewTimer(watchTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-f.ch:
		if !ok {
			f.t.Fatalf("watch channel closed, want another event")
		}
		f.apply(ev)
		return ev
	case <-timer.C:
		f.t.Fatalf("no watch event in %v", watchTimeout)
	}
	panic("unreachable")
}

// until consumes events until done holds, failing the test after
// watchTimeout without one.
func (f *follower) until(what string, done func() bool) {
	f.t.Helper()
	timer := time.NewTimer(watchTimeout)
	defer timer.Stop()
	for !done() {
		select {
		case ev, ok := <-f.ch:
			if !ok {
				f.t.Fatalf("%s: watch channel closed; state %v", what, f.state)
			}
			f.apply(ev)
		case <-timer.C:
			f.t.Fatalf("%s: not reached in %v; state %v, synced %v, errors %v", what, watchTimeout, f.state, f.synced, f.errs)
		}
	}
}

// holds reports whether the follower is synced and holds exactly want.
func (f *follower) holds(want []stores.Entry) bool {
	if !f.synced || len(f.state) != len(want) {
		return false
	}
	for _, e := range want {
		if got, ok := f.state[e.Key]; !ok || !equalEntry(got, e) {
			return false
		}
	}
	return true
}

func fmtEvent(ev stores.Event) string {
	switch ev.Kind {
	case stores.EventPut:
		return fmt.Sprintf("put{%q %q rev %d}", ev.Entry.Key, ev.Entry.Value, ev.Entry.Revision)
	case stores.EventDelete:
		return fmt.Sprintf("delete{%q rev %d}", ev.Entry.Key, ev.Entry.Revision)
	case stores.EventError:
		return fmt.Sprintf("error{%v}", ev.Err)
	}
	return ev.Kind.String()
}

// TestWatchEvents checks the mapping of etcd events, including the
// revision of a delete.
func TestWatchEvents(t *testing.T) {
	s := newStore(t)
	raw := shared(t).Client(t)
	ctx := t.Context()
	revA, err := s.Create(ctx, "w/a", []byte("a1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "w/")
	if err != nil {
		t.Fatalf("Watch(%q) = %v", "w/", err)
	}
	f := follow(t, ch)
	expect := func(want ...stores.Event) {
		t.Helper()
		for i, w := range want {
			got := f.next()
			if got.Kind != w.Kind || !equalEntry(got.Entry, w.Entry) {
				t.Fatalf("watch event %d = %s, want %s", i, fmtEvent(got), fmtEvent(w))
			}
		}
	}
	// The snapshot is taken in the background: write only once it is
	// complete, or it may already hold the writes.
	expect(
		stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: "w/a", Value: []byte("a1"), Revision: revA}},
		stores.Event{Kind: stores.EventSynced},
	)
	revA2, err := s.Update(ctx, "w/a", []byte{}, revA)
	if err != nil {
		t.Fatal(err)
	}
	revB, err := s.Create(ctx, "w/b", []byte("b1"))
	if err != nil {
		t.Fatal(err)
	}
	del, err := raw.Delete(ctx, "w/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Put(ctx, "w", "outside"); err != nil {
		t.Fatal(err)
	}
	expect(
		stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: "w/a", Value: []byte{}, Revision: revA2}},
		stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: "w/b", Value: []byte("b1"), Revision: revB}},
		stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: "w/a", Revision: uint64(del.Header.Revision)}},
	)
}

// TestWatchCompactedResyncs compacts the history between the snapshot and
// the change stream, so the stream cannot start where the snapshot ended:
// the watch must reset and send a fresh snapshot, without an error.
func TestWatchCompactedResyncs(t *testing.T) {
	s := newStore(t)
	raw := shared(t).Client(t)
	ctx := t.Context()
	revA, err := s.Create(ctx, "cw/a", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	revB, err := s.Create(ctx, "cw/b", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	var revA3 uint64
	var once sync.Once
	etcd.SetAfterSnapshot(s, func() {
		once.Do(func() {
			rev, err := s.Update(ctx, "cw/a", []byte("v2"), revA)
			if err == nil {
				revA3, err = s.Update(ctx, "cw/a", []byte("v3"), rev)
			}
			if err == nil {
				_, err = raw.Compact(ctx, int64(revA3), clientv3.WithCompactPhysical())
			}
			if err != nil {
				t.Errorf("changing and compacting after the snapshot: %v", err)
			}
		})
	})
	ch, err := s.Watch(ctx, "cw/")
	if err != nil {
		t.Fatalf("Watch(%q) = %v", "cw/", err)
	}
	f := follow(t, ch)
	b := stores.Entry{Key: "cw/b", Value: []byte("b"), Revision: revB}
	check := func(want []stores.Event) {
		t.Helper()
		for _, w := range want {
			got := f.next()
			if got.Kind != w.Kind || !equalEntry(got.Entry, w.Entry) {
				t.Fatalf("watch event %d = %s, want %s", len(f.events)-1, fmtEvent(got), fmtEvent(w))
			}
		}
	}
	check([]stores.Event{
		{Kind: stores.EventPut, Entry: stores.Entry{Key: "cw/a", Value: []byte("v1"), Revision: revA}},
		{Kind: stores.EventPut, Entry: b},
		{Kind: stores.EventSynced},
		{Kind: stores.EventReset},
	})
	// revA3 was set by the hook before the watch sent EventReset.
	check([]stores.Event{
		{Kind: stores.EventPut, Entry: stores.Entry{Key: "cw/a", Value: []byte("v3"), Revision: revA3}},
		{Kind: stores.EventPut, Entry: b},
		{Kind: stores.EventSynced},
	})
	// The stream goes on from the fresh snapshot.
	revC, err := s.Create(ctx, "cw/c", []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	wantC := stores.Entry{Key: "cw/c", Value: []byte("c"), Revision: revC}
	if got := f.next(); got.Kind != stores.EventPut || !equalEntry(got.Entry, wantC) {
		t.Fatalf("watch event after resync = %s, want put %v", fmtEvent(got), wantC)
	}
}

// TestWatchConsumerGone checks that a watch whose consumer stopped reading
// ends and closes its channel when the context ends.
func TestWatchConsumerGone(t *testing.T) {
	s := newStore(t)
	const n = 300 // more than the channel buffers
	for i := range n {
		if _, err := s.Create(t.Context(), fmt.Sprintf("gone/%03d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx, "gone/")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	// Read one event so the snapshot is known to be flowing, then leave.
	if ev := <-ch; ev.Kind != stores.EventPut {
		t.Fatalf("first watch event = %s, want a put", fmtEvent(ev))
	}
	cancel()
	timer := time.NewTimer(watchTimeout)
	defer timer.Stop()
	got := 1
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				if got > n+1 {
					t.Errorf("watch sent %d events after cancel, want at most the %d of the snapshot", got, n+1)
				}
				return
			}
			got++
		case <-timer.C:
			t.Fatalf("watch channel not closed %v after cancel", watchTimeout)
		}
	}
}

// TestWatchUnreachable checks that a watch on a server that is not there
// reports an EventError promptly, and ends with its context.
func TestWatchUnreachable(t *testing.T) {
	s, err := etcd.New(stoppedServer(t).Client(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	f := follow(t, ch)
	ev := f.next()
	if ev.Kind != stores.EventError || ev.Err == nil || !strings.Contains(ev.Err.Error(), "cluster unreachable") ||
		!strings.Contains(ev.Err.Error(), "connection refused") {
		t.Fatalf("first watch event = %s, want an error saying cluster unreachable, connection refused", fmtEvent(ev))
	}
	t.Logf("watch error: %v", ev.Err)
	if s := matchesSentinel(ev.Err); s != nil {
		t.Errorf("watch error %v matches %v", ev.Err, s)
	}
	cancel()
	for range ch {
	}
}

// TestWatchSurvivesRestart stops the server under a watch, starts a new one
// on the same data directory and ports, writes through a second client, and
// checks that the watch reported the outage and ends up holding the final
// state of every key.
func TestWatchSurvivesRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	s1, err := etcd.New(srv.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	const n = 5
	key := func(i int) string { return fmt.Sprintf("restart/%d", i) }
	var want []stores.Entry
	for i := range n {
		rev, err := s1.Create(ctx, key(i), []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, stores.Entry{Key: key(i), Value: []byte("a"), Revision: rev})
	}
	ch, err := s1.Watch(ctx, "restart/")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	f := follow(t, ch)
	f.until("first snapshot", func() bool { return f.holds(want) })

	for i := range want {
		rev, err := s1.Update(ctx, want[i].Key, []byte("b"), want[i].Revision)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = stores.Entry{Key: want[i].Key, Value: []byte("b"), Revision: rev}
	}
	f.until("updates before the restart", func() bool { return f.holds(want) })

	srv.Stop()
	f.until("an error while the server is down", func() bool { return len(f.errs) > 0 })
	t.Logf("while down: %v", f.errs[0])

	srv.Restart(t)
	s2, err := etcd.New(srv.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if _, err := s2.Update(ctx, want[i].Key, []byte("c"), want[i].Revision); err != nil {
			t.Fatalf("Update(%q) after restart = %v (did the data survive?)", want[i].Key, err)
		}
	}
	if err := s2.Delete(ctx, key(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Create(ctx, key(n), []byte("c")); err != nil {
		t.Fatal(err)
	}
	final, err := s2.List(ctx, "restart/")
	if err != nil {
		t.Fatal(err)
	}
	if len(final) != n {
		t.Fatalf("List after restart = %v, want %d keys", final, n)
	}
	f.until("the final state after the restart", func() bool { return f.holds(final) })

	kinds := map[stores.EventKind]int{}
	for _, ev := range f.events {
		kinds[ev.Kind]++
	}
	t.Logf("events seen: %v", kinds)
	for _, err := range f.errs {
		if errors.Is(err, stores.ErrNotFound) || errors.Is(err, stores.ErrConflict) {
			t.Errorf("watch error %v matches a store sentinel", err)
		}
	}
}

// rangeCounter counts the Range calls (listing pages, gets) a client makes.
type rangeCounter struct{ n atomic.Int64 }

func (c *rangeCounter) option() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == "/etcdserverpb.KV/Range" {
			c.n.Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// pagedStore returns a store on the shared server (wiped) that reads pages
// of pageSize keys, the counter of its client's Range calls, and the keys
// it planted under prefix, n of them.
func pagedStore(t *testing.T, prefix string, pageSize, n int) (*etcd.Store, *rangeCounter, []stores.Entry) {
	t.Helper()
	counter := &rangeCounter{}
	cli := shared(t).Client(t, counter.option())
	wipe(t, cli)
	s, err := etcd.New(cli, etcd.WithPageSize(pageSize))
	if err != nil {
		t.Fatal(err)
	}
	raw := shared(t).Client(t)
	var want []stores.Entry
	for i := 0; i < n; i += 100 {
		var ops []clientv3.Op
		for j := i; j < min(i+100, n); j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%04d", prefix, j), fmt.Sprintf("v%d", j)))
		}
		resp, err := raw.Txn(t.Context()).Then(ops...).Commit()
		if err != nil {
			t.Fatal(err)
		}
		for j := i; j < min(i+100, n); j++ {
			want = append(want, stores.Entry{Key: fmt.Sprintf("%s%04d", prefix, j), Value: fmt.Appendf(nil, "v%d", j), Revision: uint64(resp.Header.Revision)})
		}
	}
	return s, counter, want
}

// TestWatchSnapshotStreams checks that a snapshot's first events come after
// its first page, not after the whole listing: a consumer that has taken
// only the first event has let the driver read two pages at most (the one
// it sends and the next), whatever the listing's size; the rest comes as
// the consumer reads on, in key order, complete, then EventSynced.
func TestWatchSnapshotStreams(t *testing.T) {
	const pageSize, n = 100, 1000 // a page is more than the channel buffers
	s, counter, want := pagedStore(t, "stream/", pageSize, n)
	before := counter.n.Load()
	ch, err := s.Watch(t.Context(), "stream/")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	f := follow(t, ch)
	if ev := f.next(); ev.Kind != stores.EventPut || ev.Entry.Key != want[0].Key {
		t.Fatalf("first watch event = %s, want the put of %s", fmtEvent(ev), want[0].Key)
	}
	if pages := counter.n.Load() - before; pages > 2 {
		t.Errorf("the driver had read %d pages of %d when its first event was taken, want at most 2", pages, n/pageSize)
	}
	for i := 1; i < n; i++ {
		ev := f.next()
		if ev.Kind != stores.EventPut || !equalEntry(ev.Entry, want[i]) {
			t.Fatalf("watch event %d = %s, want the put of %v", i, fmtEvent(ev), want[i])
		}
	}
	if ev := f.next(); ev.Kind != stores.EventSynced {
		t.Fatalf("watch event %d = %s, want synced", n, fmtEvent(ev))
	}
	if pages := counter.n.Load() - before; pages != n/pageSize {
		t.Errorf("the snapshot took %d Range calls, want %d", pages, n/pageSize)
	}
}

// TestWatchCompactedBetweenPages compacts the history while a snapshot is
// being sent, past the revision its pages are read at: the next page cannot
// be read, and the watch must start over without an error — EventReset,
// then a fresh snapshot that holds the change made meanwhile — although the
// consumer already holds part of the first one.
func TestWatchCompactedBetweenPages(t *testing.T) {
	const pageSize, n = 100, 400
	s, _, want := pagedStore(t, "cpage/", pageSize, n)
	raw := shared(t).Client(t)
	ctx := t.Context()
	ch, err := s.Watch(ctx, "cpage/")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	f := follow(t, ch)
	f.next()
	// The driver is blocked within the first page (it is larger than the
	// channel's buffer) and has read the second at most: the third is read
	// after the compaction.
	last := want[n-1].Key
	resp, err := raw.Put(ctx, last, "changed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	want[n-1] = stores.Entry{Key: last, Value: []byte("changed"), Revision: uint64(resp.Header.Revision)}
	f.until("the fresh snapshot", func() bool { return f.holds(want) })
	resets := 0
	for _, ev := range f.events {
		if ev.Kind == stores.EventReset {
			resets++
		}
	}
	if resets != 1 || len(f.errs) != 0 {
		t.Errorf("the watch sent %d resets and errors %v, want one reset and no error", resets, f.errs)
	}
}
