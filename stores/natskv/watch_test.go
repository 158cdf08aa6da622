package natskv_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// follower applies watch events to a map, as the console does.
type follower struct {
	t      testing.TB
	ch     <-chan stores.Event
	state  map[string]stores.Entry
	synced bool
	kinds  map[stores.EventKind]int
}

func startWatch(t testing.TB, s *natskv.Store, prefix string) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ch, err := s.Watch(ctx, prefix)
	if err != nil {
		t.Fatalf("Watch(%q) = %v", prefix, err)
	}
	return &follower{t: t, ch: ch, state: map[string]stores.Entry{}, kinds: map[stores.EventKind]int{}}
}

// next returns the next event, failing the test after timeout.
func (f *follower) next(timeout time.Duration) stores.Event {
	f.t.Helper()
	select {
	case ev, ok := <-f.ch:
		if !ok {
			f.t.Fatalf("watch channel closed, want an event")
		}
		f.apply(ev)
		return ev
	case <-time.After(timeout):
		f.t.Fatalf("no watch event within %v (state %v)", timeout, f.keys())
	}
	panic("unreachable")
}

func (f *follower) apply(ev stores.Event) {
	f.kinds[ev.Kind]++
	switch ev.Kind {
	case stores.EventPut:
		f.state[ev.Entry.Key] = ev.Entry
	case stores.EventDelete:
		delete(f.state, ev.Entry.Key)
	case stores.EventReset:
		clear(f.state)
		f.synced = false
	case stores.EventSynced:
		f.synced = true
	case stores.EventError:
		f.t.Logf("watch: %v", ev.Err)
	}
}

func (f *follower) keys() []string {
	return slices.Sorted(maps.Keys(f.state))
}

// entries returns the follower's state sorted by key, as List returns it.
func (f *follower) entries() []stores.Entry {
	out := make([]stores.Entry, 0, len(f.state))
	for _, k := range f.keys() {
		out = append(out, f.state[k])
	}
	return out
}

// until consumes events until the follower is synced and holds exactly
// want, failing the test after timeout.
func (f *follower) until(want []stores.Entry, timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for !f.synced || !f.holds(want) {
		left := time.Until(deadline)
		if left <= 0 {
			f.t.Fatalf("watch state after %v = %v (synced %t), want %v", timeout, f.state, f.synced, want)
		}
		f.next(left)
	}
}

func (f *follower) holds(want []stores.Entry) bool {
	if len(f.state) != len(want) {
		return false
	}
	for _, w := range want {
		got, ok := f.state[w.Key]
		if !ok || got.Revision != w.Revision || string(got.Value) != string(w.Value) {
			return false
		}
	}
	return true
}

// TestWatchEvents checks the snapshot (markers left out, sorted) and the
// events for puts, zero-length values, deletes and purges under a prefix
// that filters on both the server ('.') and the client.
func TestWatchEvents(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	revB := mustCreate(t, f.store, "a.b/2", []byte("b"))
	revA := mustCreate(t, f.store, "a.b/1", []byte("a"))
	mustCreate(t, f.store, "a.b/gone", []byte("x"))
	if err := f.kv.Delete(ctx, "a.b/gone"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	mustCreate(t, f.store, "a.c", []byte("outside"))
	mustCreate(t, f.store, "ab", []byte("outside"))

	w := startWatch(t, f.store, "a.b/")
	for i, want := range []stores.Entry{{Key: "a.b/1", Value: []byte("a"), Revision: revA}, {Key: "a.b/2", Value: []byte("b"), Revision: revB}} {
		if ev := w.next(10 * time.Second); ev.Kind != stores.EventPut || ev.Entry.Key != want.Key || ev.Entry.Revision != want.Revision {
			t.Fatalf("snapshot event %d = %v %+v, want put %+v", i, ev.Kind, ev.Entry, want)
		}
	}
	if ev := w.next(10 * time.Second); ev.Kind != stores.EventSynced {
		t.Fatalf("event after the snapshot = %v, want synced", ev.Kind)
	}

	// Each change is awaited before the next: a purge erases the key's
	// earlier messages, including any the consumer has not delivered yet.
	for i, step := range []struct {
		write func() uint64 // returns the revision the event must carry
		kind  stores.EventKind
		key   string
		value string
	}{
		{func() uint64 {
			mustCreate(t, f.store, "a.c/x", []byte("outside"))
			return mustUpdate(t, f.store, "a.b/1", nil, revA)
		}, stores.EventPut, "a.b/1", ""},
		{func() uint64 {
			if err := f.kv.Delete(ctx, "a.b/2"); err != nil {
				t.Fatalf("Delete = %v", err)
			}
			return f.rawLast(t, "a.b/2").Sequence
		}, stores.EventDelete, "a.b/2", ""},
		{func() uint64 { return mustCreate(t, f.store, "a.b/3", []byte("c")) }, stores.EventPut, "a.b/3", "c"},
		{func() uint64 {
			if err := f.kv.Purge(ctx, "a.b/3"); err != nil {
				t.Fatalf("Purge = %v", err)
			}
			return f.rawLast(t, "a.b/3").Sequence
		}, stores.EventDelete, "a.b/3", ""},
		{func() uint64 { return mustCreate(t, f.store, "a.b/2", []byte("again")) }, stores.EventPut, "a.b/2", "again"},
	} {
		rev := step.write()
		ev := w.next(10 * time.Second)
		if ev.Kind != step.kind || ev.Entry.Key != step.key || string(ev.Entry.Value) != step.value || ev.Entry.Revision != rev {
			t.Errorf("change %d = %v {%q %q rev %d}, want %v {%q %q rev %d}", i, ev.Kind, ev.Entry.Key, ev.Entry.Value, ev.Entry.Revision, step.kind, step.key, step.value, rev)
		}
	}
	if want := []string{"a.b/1", "a.b/2"}; !slices.Equal(w.keys(), want) {
		t.Errorf("watch state = %q, want %q", w.keys(), want)
	}
}

// TestWatchImpossiblePrefix checks that a prefix no key can have gives an
// empty synced snapshot without I/O, and the channel closes with ctx.
func TestWatchImpossiblePrefix(t *testing.T) {
	f := newFixture(t)
	before := outMsgs(f.nc)
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := f.store.Watch(ctx, "a b")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	if ev := <-ch; ev.Kind != stores.EventSynced {
		t.Errorf("first event = %v, want synced", ev.Kind)
	}
	cancel()
	for ev := range ch {
		t.Errorf("event after cancel = %v, want the channel closed", ev.Kind)
	}
	if got := outMsgs(f.nc) - before; got != 0 {
		t.Errorf("Watch of an impossible prefix sent %d messages, want 0", got)
	}
}

// TestWatchSurvivesServerRestart restarts the server under a running watch
// and writes through a second connection: the watch must end up holding the
// final state of every key, resumed by nats.go's ordered consumer or reset
// by the driver.
func TestWatchSurvivesServerRestart(t *testing.T) {
	srv := natstest.Start(t, serverOptions()...)
	_, js := srv.Connect(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	kv := newBucket(t, js)
	s, err := natskv.New(t.Context(), js, kv.Bucket(), natskv.WithWatchRetry(100*time.Millisecond))
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	revs := map[string]uint64{}
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		revs[k] = mustCreate(t, s, k, []byte(k+"@0"))
	}
	w := startWatch(t, s, "")
	w.until([]stores.Entry{
		{Key: "k1", Value: []byte("k1@0"), Revision: revs["k1"]},
		{Key: "k2", Value: []byte("k2@0"), Revision: revs["k2"]},
		{Key: "k3", Value: []byte("k3@0"), Revision: revs["k3"]},
		{Key: "k4", Value: []byte("k4@0"), Revision: revs["k4"]},
	}, 10*time.Second)
	revs["k1"] = mustUpdate(t, s, "k1", []byte("k1@1"), revs["k1"])

	srv.Restart(t)

	// A second client writes after the restart.
	_, js2 := srv.Connect(t)
	s2, err := natskv.New(t.Context(), js2, kv.Bucket())
	if err != nil {
		t.Fatalf("New on the restarted server = %v", err)
	}
	revs["k2"] = mustUpdate(t, s2, "k2", []byte("k2@1"), revs["k2"])
	if err := s2.Delete(t.Context(), "k3"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	revs["k4"] = mustUpdate(t, s2, "k4", nil, revs["k4"])
	revs["k5"] = mustCreate(t, s2, "k5", []byte("k5@0"))
	revs["k1"] = mustUpdate(t, s2, "k1", []byte("k1@2"), revs["k1"])

	want, err := s2.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	if got := len(want); got != 4 {
		t.Fatalf("List after the writes = %d keys, want 4", got)
	}
	start := time.Now()
	w.until(want, 90*time.Second)
	t.Logf("watch caught up %v after the last write; events %v", time.Since(start).Round(time.Millisecond), w.kinds)
	if w.kinds[stores.EventError] == 0 {
		t.Errorf("events %v, want an EventError for the lost connection", w.kinds)
	}

	// And it keeps following.
	rev := mustUpdate(t, s2, "k5", []byte("k5@1"), revs["k5"])
	want[3] = stores.Entry{Key: "k5", Value: []byte("k5@1"), Revision: rev}
	w.until(want, 30*time.Second)
}

// TestWatchResetsAfterConsumerLoss deletes the bucket under a running watch,
// so that nats.go cannot re-create its consumer and gives up, then creates
// the bucket again: the driver must report the errors, send EventReset and a
// fresh snapshot of the new bucket.
func TestWatchResetsAfterConsumerLoss(t *testing.T) {
	_, js := sharedServer(t).Connect(t)
	kv := newBucket(t, js)
	s, err := natskv.New(t.Context(), js, kv.Bucket(), natskv.WithWatchRetry(100*time.Millisecond))
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	rev := mustCreate(t, s, "old", []byte("old"))
	w := startWatch(t, s, "")
	w.until([]stores.Entry{{Key: "old", Value: []byte("old"), Revision: rev}}, 10*time.Second)

	if err := js.DeleteKeyValue(t.Context(), kv.Bucket()); err != nil {
		t.Fatalf("DeleteKeyValue = %v", err)
	}
	// nats.go notices the silent consumer after two idle heartbeats (10s),
	// fails to re-create it and ends the subscription.
	for ev := w.next(60 * time.Second); ev.Kind != stores.EventError; ev = w.next(60 * time.Second) {
		t.Logf("event before the error: %v", ev.Kind)
	}
	kv2, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: kv.Bucket(), History: 10})
	if err != nil {
		t.Fatalf("CreateKeyValue again = %v", err)
	}
	rev, err = kv2.Create(t.Context(), "new", []byte("new"))
	if err != nil {
		t.Fatalf("Create in the new bucket = %v", err)
	}
	w.until([]stores.Entry{{Key: "new", Value: []byte("new"), Revision: rev}}, 60*time.Second)
	if w.kinds[stores.EventReset] == 0 {
		t.Errorf("events %v, want an EventReset before the new snapshot", w.kinds)
	}
	t.Logf("events: %v", w.kinds)
}

// TestWatchResetsAfterDataLoss restarts the server on the same port with an
// empty store, so that the bucket comes back with lower sequences: resuming
// after the last sequence seen would miss every new write, so the driver
// must notice and send EventReset and a fresh snapshot.
func TestWatchResetsAfterDataLoss(t *testing.T) {
	srv := natstest.Start(t, serverOptions()...)
	_, js := srv.Connect(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	cfg := jetstream.KeyValueConfig{Bucket: "lossy", History: 10}
	if _, err := js.CreateKeyValue(t.Context(), cfg); err != nil {
		t.Fatalf("CreateKeyValue = %v", err)
	}
	s, err := natskv.New(t.Context(), js, cfg.Bucket, natskv.WithWatchRetry(50*time.Millisecond))
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	var want []stores.Entry
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		want = append(want, stores.Entry{Key: key, Value: []byte("old"), Revision: mustCreate(t, s, key, []byte("old"))})
	}
	w := startWatch(t, s, "")
	w.until(want, 10*time.Second)

	srv.Stop()
	// Lose the data: the restarted server makes a new, empty store.
	if err := os.RemoveAll(srv.Dir()); err != nil {
		t.Fatalf("remove the store: %v", err)
	}
	srv.Restart(t)
	_, js2 := srv.Connect(t)
	kv2, err := js2.CreateKeyValue(t.Context(), cfg)
	if err != nil {
		t.Fatalf("CreateKeyValue on the new server = %v", err)
	}
	rev, err := kv2.Create(t.Context(), "fresh", []byte("new"))
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	w.until([]stores.Entry{{Key: "fresh", Value: []byte("new"), Revision: rev}}, 60*time.Second)
	if w.kinds[stores.EventReset] == 0 {
		t.Errorf("events %v, want an EventReset", w.kinds)
	}
	t.Logf("events: %v", w.kinds)
}

// TestWatchEndsWithClose checks that closing a dialed store ends its watches.
func TestWatchEndsWithClose(t *testing.T) {
	bucket := fmt.Sprintf("dial%d", bucketSeq.Add(1))
	s, err := natskv.Dial(t.Context(), natskv.Config{URL: sharedServer(t).URL(), Bucket: bucket, Create: true})
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	t.Cleanup(func() {
		_, js := sharedServer(t).Connect(t)
		_ = js.DeleteKeyValue(context.Background(), bucket)
	})
	ch, err := s.Watch(t.Context(), "")
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	if ev := <-ch; ev.Kind != stores.EventSynced {
		t.Fatalf("first event = %v, want synced", ev.Kind)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Kind != stores.EventError {
				t.Errorf("event after Close = %v, want only errors", ev.Kind)
			}
		case <-timeout:
			t.Fatal("watch channel still open 30s after Close")
		}
	}
}
