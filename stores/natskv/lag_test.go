package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// followerLag is how late the lagging follower of TestSnapshotLaggingFollower
// applies each write: longer than the two seconds the driver used to wait
// for its consumer before giving up silently, shorter than the bound the
// "list" and "watch" subtests give the driver.
const followerLag = 3 * time.Second

// lagAttempts bounds the listings or watches a test makes until one has its
// consumer on the lagging server. The cluster places each ordered consumer
// on one of the stream's three servers at random, so 30 attempts all miss
// it with a probability of (2/3)^30, about 5e-6.
const lagAttempts = 30

// lagState is the state a test has written, by key.
type lagState map[string]stores.Entry

// entries returns the state sorted by key, as List returns it.
func (st lagState) entries() []stores.Entry {
	return slices.SortedFunc(maps.Values(st), func(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) })
}

// diffEntries describes how got differs from want, "" when it does not.
func diffEntries(got, want []stores.Entry) string {
	g := map[string]stores.Entry{}
	for _, e := range got {
		g[e.Key] = e
	}
	var diffs []string
	for _, w := range want {
		e, ok := g[w.Key]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s missing (want revision %d)", w.Key, w.Revision))
		case e.Revision != w.Revision || string(e.Value) != string(w.Value):
			diffs = append(diffs, fmt.Sprintf("%s at revision %d %q, want revision %d %q", w.Key, e.Revision, e.Value, w.Revision, w.Value))
		}
		delete(g, w.Key)
	}
	for _, k := range slices.Sorted(maps.Keys(g)) {
		diffs = append(diffs, fmt.Sprintf("%s unexpected (revision %d)", k, g[k].Revision))
	}
	return strings.Join(diffs, "; ")
}

// placementWatch polls server i of c for consumers of stream that were not
// there when it started, until stop is called; stop reports whether one
// appeared (the listing or watch under test read from server i).
func placementWatch(t testing.TB, c *lagCluster, i int, stream string) (stop func() bool) {
	t.Helper()
	names, err := c.consumers(i, stream)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, n := range names {
		before[n] = true
	}
	var (
		mu    sync.Mutex
		found bool
		wg    sync.WaitGroup
	)
	done := make(chan struct{})
	check := func() {
		names, err := c.consumers(i, stream)
		if err != nil {
			t.Error(err)
		}
		for _, n := range names {
			if !before[n] {
				mu.Lock()
				found = true
				mu.Unlock()
			}
		}
	}
	wg.Go(func() {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				check()
			}
		}
	})
	return func() bool {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return found
	}
}

// TestSnapshotLaggingFollower makes the ordered consumer behind List and
// Watch lag behind the stream: on a three-server cluster it slows the route
// from the stream leader to one follower so that the follower applies each
// write followerLag late, and lists and watches from a client on the third
// server until the cluster places the consumer on the lagging follower. The
// snapshot must then hold every write acknowledged before it started: the
// driver must wait for the consumer (or fail), never return or sync what the
// consumer delivered so far, and a watch resumed after a reconnect must not
// skip what the lagging consumer had yet to deliver.
//
// Against the driver that waited two seconds and then took what it had,
// every subtest fails: List and Watch return and sync partial snapshots,
// and the watch resumed after the reconnect never receives the writes it
// skipped.
func TestSnapshotLaggingFollower(t *testing.T) {
	c := startLagCluster(t)
	_, js := c.connect(t, 0)
	kv := newBucketConfig(t, js, jetstream.KeyValueConfig{History: 10, Replicas: 3})
	stream := "KV_" + kv.Bucket()
	m, l, p := c.lagRoles(t, stream)
	t.Logf("meta leader %s, stream leader %s, lagging follower %s", c.name(m), c.name(l), c.name(p))

	// Clients talk to M only; its JetStream context gives the driver time
	// to wait for a consumer followerLag behind.
	nc, _ := c.connect(t, m)
	jsm, err := jetstream.New(nc, jetstream.WithDefaultTimeout(15*time.Second))
	if err != nil {
		t.Fatalf("jetstream.New = %v", err)
	}
	s, err := natskv.New(t.Context(), jsm, kv.Bucket())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	want := lagState{}
	const keys = 20
	for i := range keys {
		k := fmt.Sprintf("k%02d", i)
		v := []byte(k + "@0")
		want[k] = stores.Entry{Key: k, Value: v, Revision: mustCreate(t, s, k, v)}
	}
	writes := 0
	update := func(i int) {
		writes++
		k := fmt.Sprintf("k%02d", i%keys)
		v := fmt.Appendf(nil, "%s@%d", k, writes)
		want[k] = stores.Entry{Key: k, Value: v, Revision: mustUpdate(t, s, k, v, want[k].Revision)}
	}
	if err := waitFor(natstest.StartTimeout, func() bool { return c.current(stream) }); err != nil {
		t.Fatalf("replicas of %s not current: %v", stream, err)
	}
	c.links[l][p].setLatency(followerLag)
	time.Sleep(rampTime(followerLag) + time.Second)
	if got := c.streamLeader(stream); got != l {
		t.Fatalf("stream leader moved from %s to server %d while the lag ramped up", c.name(l), got)
	}

	t.Run("list", func(t *testing.T) {
		for attempt := range lagAttempts {
			update(attempt)
			stop := placementWatch(t, c, p, stream)
			before := outMsgs(nc)
			list, err := s.List(t.Context(), "")
			sent := outMsgs(nc) - before
			lagging := stop()
			if err != nil {
				t.Fatalf("attempt %d: List = %v (consumer on the lagging follower: %t)", attempt, err, lagging)
			}
			if d := diffEntries(list, want.entries()); d != "" {
				t.Fatalf("attempt %d: List returned a partial snapshot (consumer on the lagging follower: %t): %s", attempt, lagging, d)
			}
			t.Logf("attempt %d: consumer on the lagging follower: %t, %d messages sent", attempt, lagging, sent)
			if lagging {
				return
			}
		}
		t.Fatalf("no listing in %d had its consumer on the lagging follower %s", lagAttempts, c.name(p))
	})

	t.Run("watch", func(t *testing.T) {
		// The watch's client goes through a proxy that can cut its
		// connection, to check the resume after the snapshot.
		cp := startLagProxy(t, strings.TrimPrefix(c.servers[m].ClientURL(), "nats://"), &lagLink{}, &lagLink{})
		wnc, _ := c.connectURL(t, "nats://"+cp.addr(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		wjs, err := jetstream.New(wnc, jetstream.WithDefaultTimeout(15*time.Second))
		if err != nil {
			t.Fatalf("jetstream.New = %v", err)
		}
		ws, err := natskv.New(t.Context(), wjs, kv.Bucket(), natskv.WithWatchRetry(100*time.Millisecond))
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		for attempt := range lagAttempts {
			update(attempt)
			stop := placementWatch(t, c, p, stream)
			ctx, cancel := context.WithCancel(t.Context())
			ch, err := ws.Watch(ctx, "")
			if err != nil {
				t.Fatalf("Watch = %v", err)
			}
			f := &follower{t: t, ch: ch, state: map[string]stores.Entry{}, kinds: map[stores.EventKind]int{}}
			for !f.synced {
				f.next(60 * time.Second)
			}
			lagging := stop()
			t.Logf("attempt %d: consumer on the lagging follower: %t, events %v", attempt, lagging, f.kinds)
			if !lagging {
				cancel()
				for range ch {
				}
				continue
			}
			if d := diffEntries(f.entries(), want.entries()); d != "" {
				t.Errorf("Watch synced a partial snapshot: %s", d)
			}
			// Cut the connection before the lagging follower delivers
			// what it missed: the watch resumes after what it saw.
			cp.cut()
			update(attempt + keys/2) // another key
			deadline := time.Now().Add(60 * time.Second)
			for !f.synced || diffEntries(f.entries(), want.entries()) != "" {
				if time.Now().After(deadline) {
					t.Fatalf("watch state 60s after the reconnect (events %v): %s", f.kinds, diffEntries(f.entries(), want.entries()))
				}
				select {
				case ev, ok := <-ch:
					if !ok {
						t.Fatal("watch channel closed")
					}
					f.apply(ev)
				case <-time.After(time.Until(deadline)):
				}
			}
			t.Logf("after the reconnect: events %v", f.kinds)
			cancel()
			return
		}
		t.Fatalf("no watch in %d had its consumer on the lagging follower %s", lagAttempts, c.name(p))
	})

	// With a JetStream context whose default timeout (the bound of the
	// wait) is shorter than the lag, a listing whose consumer is on the
	// lagging follower fails with ErrSnapshotIncomplete, and a watch starts
	// over (EventError, EventReset) until it has a consumer that catches
	// up; neither passes off a partial snapshot.
	short, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Second))
	if err != nil {
		t.Fatalf("jetstream.New = %v", err)
	}
	ss, err := natskv.New(t.Context(), short, kv.Bucket(), natskv.WithWatchRetry(100*time.Millisecond))
	if err != nil {
		t.Fatalf("New = %v", err)
	}

	t.Run("list gives up", func(t *testing.T) {
		for attempt := range lagAttempts {
			update(attempt)
			stop := placementWatch(t, c, p, stream)
			list, err := ss.List(t.Context(), "")
			lagging := stop()
			switch {
			case errors.Is(err, natskv.ErrSnapshotIncomplete):
				t.Logf("attempt %d: consumer on the lagging follower: %t, List = %v", attempt, lagging, err)
				if lagging {
					return
				}
			case err != nil:
				t.Fatalf("attempt %d: List = %v, want nil or ErrSnapshotIncomplete", attempt, err)
			default:
				if d := diffEntries(list, want.entries()); d != "" {
					t.Fatalf("attempt %d: List returned a partial snapshot (consumer on the lagging follower: %t): %s", attempt, lagging, d)
				}
				t.Logf("attempt %d: consumer on the lagging follower: %t, List exact", attempt, lagging)
			}
		}
		t.Fatalf("no listing in %d failed with its consumer on the lagging follower %s", lagAttempts, c.name(p))
	})

	t.Run("watch starts over", func(t *testing.T) {
		for attempt := range lagAttempts {
			update(attempt)
			stop := placementWatch(t, c, p, stream)
			ctx, cancel := context.WithCancel(t.Context())
			ch, err := ss.Watch(ctx, "")
			if err != nil {
				t.Fatalf("Watch = %v", err)
			}
			f := &follower{t: t, ch: ch, state: map[string]stores.Entry{}, kinds: map[stores.EventKind]int{}}
			for !f.synced {
				f.next(60 * time.Second)
			}
			lagging := stop()
			cancel()
			for range ch {
			}
			t.Logf("attempt %d: a consumer on the lagging follower: %t, events %v", attempt, lagging, f.kinds)
			if d := diffEntries(f.entries(), want.entries()); d != "" {
				t.Fatalf("attempt %d: Watch synced a partial snapshot: %s", attempt, d)
			}
			if lagging && f.kinds[stores.EventReset] > 0 {
				if f.kinds[stores.EventError] == 0 {
					t.Errorf("events %v, want an EventError before the EventReset", f.kinds)
				}
				return
			}
		}
		t.Fatalf("no watch in %d started over from a consumer on the lagging follower %s", lagAttempts, c.name(p))
	})
}

// TestSnapshotBarrierGone makes the barrier message (the last message under
// the filter when the snapshot starts) disappear before the consumer
// delivers it: the client's consumer-create request is held in a proxy
// until the message expired, by the bucket's max age or by its own
// per-message TTL, with no marker. The snapshot must complete at once with
// what the stream still holds: the driver asks the stream leader whether
// any message after the last one delivered remains (one request more), it
// does not wait for a message that will never come.
func TestSnapshotBarrierGone(t *testing.T) {
	srv := natstest.Start(t, serverOptions()...)
	_, direct := srv.Connect(t)
	up := &lagLink{}
	proxy := startLagProxy(t, strings.TrimPrefix(srv.URL(), "nats://"), up, &lagLink{})

	for _, tc := range []struct {
		name   string
		cfg    jetstream.KeyValueConfig
		msgTTL bool // the last write carries a TTL of its own
	}{
		{name: "max age", cfg: jetstream.KeyValueConfig{History: 10, TTL: time.Second}},
		{name: "message ttl", cfg: jetstream.KeyValueConfig{History: 10}, msgTTL: true},
	} {
		for _, op := range []string{"list", "watch"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				kv := newBucketConfig(t, direct, tc.cfg)
				stream := "KV_" + kv.Bucket()
				want := lagState{}
				if tc.msgTTL {
					st, err := direct.Stream(t.Context(), stream)
					if err != nil {
						t.Fatalf("Stream = %v", err)
					}
					cfg := st.CachedInfo().Config
					cfg.AllowMsgTTL = true
					if _, err := direct.UpdateStream(t.Context(), cfg); err != nil {
						t.Fatalf("UpdateStream(AllowMsgTTL) = %v", err)
					}
					rev, err := kv.Create(t.Context(), "keep", []byte("kept"))
					if err != nil {
						t.Fatalf("Create = %v", err)
					}
					want["keep"] = stores.Entry{Key: "keep", Value: []byte("kept"), Revision: rev}
				}
				// The barrier: the last message, gone within a second.
				var opts []jetstream.PublishOpt
				if tc.msgTTL {
					opts = append(opts, jetstream.WithMsgTTL(time.Second))
				}
				if _, err := direct.Publish(t.Context(), "$KV."+kv.Bucket()+".gone", []byte("soon gone"), opts...); err != nil {
					t.Fatalf("Publish = %v", err)
				}

				nc, err := nats.Connect("nats://" + proxy.addr())
				if err != nil {
					t.Fatalf("connect through the proxy: %v", err)
				}
				t.Cleanup(nc.Close)
				js, err := jetstream.New(nc)
				if err != nil {
					t.Fatalf("jetstream.New = %v", err)
				}
				s, err := natskv.New(t.Context(), js, kv.Bucket())
				if err != nil {
					t.Fatalf("New = %v", err)
				}

				held := up.holdOn("CONSUMER.CREATE." + stream)
				t.Cleanup(up.release)
				up.countOn("STREAM.MSG.GET." + stream)
				before := outMsgs(nc)
				type listing struct {
					list []stores.Entry
					err  error
				}
				listed := make(chan listing, 1)
				watching := make(chan (<-chan stores.Event), 1)
				switch op {
				case "list":
					go func() {
						list, err := s.List(t.Context(), "")
						listed <- listing{list, err}
					}()
				case "watch":
					go func() {
						ch, err := s.Watch(t.Context(), "")
						if err != nil {
							t.Errorf("Watch = %v", err)
						}
						watching <- ch
					}()
				}
				select {
				case <-held:
				case <-time.After(30 * time.Second):
					t.Fatal("no consumer-create request within 30s")
				}
				if err := waitFor(30*time.Second, func() bool {
					st, err := direct.Stream(t.Context(), stream)
					if err != nil {
						t.Fatalf("Stream = %v", err)
					}
					_, err = st.GetLastMsgForSubject(t.Context(), "$KV."+kv.Bucket()+".gone")
					return errors.Is(err, jetstream.ErrMsgNotFound)
				}); err != nil {
					t.Fatalf("the barrier message did not expire: %v", err)
				}
				up.release()

				var got []stores.Entry
				switch op {
				case "list":
					var res listing
					select {
					case res = <-listed:
					case <-time.After(30 * time.Second):
						t.Fatal("List did not return within 30s")
					}
					if res.err != nil {
						t.Fatalf("List = %v", res.err)
					}
					got = res.list
				case "watch":
					ch := <-watching
					if ch == nil {
						t.FailNow()
					}
					f := &follower{t: t, ch: ch, state: map[string]stores.Entry{}, kinds: map[stores.EventKind]int{}}
					for !f.synced {
						f.next(30 * time.Second)
					}
					got = f.entries()
					defer func() {
						// And it keeps following.
						rev, err := kv.Create(t.Context(), "later", []byte("later"))
						if err != nil {
							t.Fatalf("Create = %v", err)
						}
						want["later"] = stores.Entry{Key: "later", Value: []byte("later"), Revision: rev}
						f.until(want.entries(), 30*time.Second)
					}()
				}
				gets := up.counted()
				t.Logf("%s: %d messages sent, %d of them STREAM.MSG.GET", op, outMsgs(nc)-before, gets)
				if d := diffEntries(got, want.entries()); d != "" {
					t.Errorf("%s after the barrier expired: %s", op, d)
				}
				// The barrier read and one question to the stream leader,
				// answered at once: the snapshot did not wait for a message
				// that will never come.
				if gets != 2 {
					t.Errorf("%s sent %d STREAM.MSG.GET requests, want 2 (the barrier read, one check with the stream leader)", op, gets)
				}
			})
		}
	}
}
