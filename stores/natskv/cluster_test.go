package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/lease/leasetest"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
	"github.com/leasectl/leasectl/stores/storetest"
)

// runCluster starts a three-server JetStream cluster for one test and returns
// a JetStream context on it once the cluster can place replicated streams.
// Replicated (R3) streams answer a CAS that races another write of the same
// subject with error 10164, which a single server never sends for a plain
// publish.
func runCluster(t testing.TB) jetstream.JetStream {
	t.Helper()
	const n = 3
	ports := make([]int, n)
	routes := make([]*url.URL, n)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])}
	}
	servers := make([]*natstest.Server, n)
	for i := range servers {
		// No server could create natstest's anchor alone: JetStream
		// answers nothing until the cluster has elected a leader.
		servers[i] = natstest.Start(t, natstest.WithoutAnchor(), natstest.WithServerOptions(func(o *server.Options) {
			o.ServerName = fmt.Sprintf("n%d", i+1)
			o.Cluster = server.ClusterOpts{Name: "leasectl", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = routes
		}))
	}
	_, js := servers[0].Connect(t)
	// Wait until the cluster can place an R3 stream. A request sent before
	// it has a leader goes unanswered, hence the short attempts; an elected
	// leader is not enough either: until it knows its peers, placement
	// fails with "no suitable peers for placement" (10005). The stream
	// stays, anchoring the servers' stream directories (see natstest.Anchor).
	anchor := jetstream.StreamConfig{Name: natstest.Anchor, Subjects: []string{natstest.AnchorSubject}, Replicas: n}
	deadline := time.Now().Add(natstest.StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := js.CreateStream(ctx, anchor)
		cancel()
		if err == nil {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster cannot place an R%d stream after %v: %v", n, natstest.StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestReplicated runs the driver on an R3 bucket of a three-server cluster,
// the shape of a production fleet's bucket.
func TestReplicated(t *testing.T) {
	js := runCluster(t)
	kv := newBucketConfig(t, js, jetstream.KeyValueConfig{History: 10, Replicas: 3})
	s, err := natskv.New(t.Context(), js, kv.Bucket())
	if err != nil {
		t.Fatalf("New = %v", err)
	}

	// Racing CAS writes of one key: the server refuses the writes that
	// arrive while the winner's is still in flight with 10164
	// (JSStreamWrongLastSequenceConstantErr) and the later ones with 10071.
	// nats.go's kv.Update shows both; the driver repeats a write refused
	// with 10164 until the write in flight has landed (see Store.cas), and
	// must end every loser with ErrConflict and leave one winner per round.
	t.Run("update race", func(t *testing.T) {
		const racers = 16
		type update func(key string, value []byte, rev uint64) (uint64, error)
		race := func(t *testing.T, key string, rounds int, up update, stop func(codes map[jetstream.ErrorCode]int) bool) map[jetstream.ErrorCode]int {
			t.Helper()
			rev := mustCreate(t, s, key, []byte("start"))
			codes := map[jetstream.ErrorCode]int{}
			for round := 0; round < rounds && !stop(codes); round++ {
				revs := make([]uint64, racers)
				errs := make([]error, racers)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						<-start
						revs[i], errs[i] = up(key, fmt.Appendf(nil, "round %d racer %d", round, i), rev)
					})
				}
				close(start)
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("round %d: racers %d and %d both won", round, winner, i)
					case err == nil:
						winner = i
					default:
						apiErr, ok := errors.AsType[*jetstream.APIError](err)
						if !ok {
							t.Fatalf("round %d: racer %d = %v, want the server's error", round, i, err)
						}
						codes[apiErr.ErrorCode]++
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: no racer won; codes %v", round, codes)
				}
				rev = revs[winner]
				wantGet(t, s, key, fmt.Appendf(nil, "round %d racer %d", round, winner), rev)
			}
			return codes
		}

		raw := race(t, "race/raw", 50, func(key string, value []byte, rev uint64) (uint64, error) {
			return kv.Update(t.Context(), key, value, rev)
		}, func(codes map[jetstream.ErrorCode]int) bool {
			return codes[jetstream.JSErrCodeStreamWrongLastSequenceConstant] > 0
		})
		t.Logf("kv.Update losers' error codes: %v", raw)
		if raw[jetstream.JSErrCodeStreamWrongLastSequenceConstant] == 0 {
			t.Errorf("no kv.Update answered 10164 in 50 rounds of %d racers; codes %v", racers, raw)
		}

		driver := race(t, "race/driver", 20, func(key string, value []byte, rev uint64) (uint64, error) {
			n, err := s.Update(t.Context(), key, value, rev)
			if err != nil && !errors.Is(err, stores.ErrConflict) {
				t.Errorf("Update(%q, %d) = %v, want nil or ErrConflict", key, rev, err)
			}
			return n, err
		}, func(map[jetstream.ErrorCode]int) bool { return false })
		t.Logf("Store.Update losers' error codes: %v", driver)
	})

	t.Run("create race", func(t *testing.T) {
		for round := range 20 {
			key := fmt.Sprintf("race/create/%d", round)
			errs := make([]error, 16)
			revs := make([]uint64, 16)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					<-start
					revs[i], errs[i] = s.Create(t.Context(), key, fmt.Appendf(nil, "racer %d", i))
				})
			}
			close(start)
			wg.Wait()
			winners := 0
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
					wantGet(t, s, key, fmt.Appendf(nil, "racer %d", i), revs[i])
				case !errors.Is(err, stores.ErrExists):
					t.Errorf("round %d: Create by racer %d = %v, want nil or ErrExists", round, i, err)
				}
			}
			if winners != 1 {
				t.Errorf("round %d: %d racers created %q, want 1", round, winners, key)
			}
		}
	})

	// History right after a write must hold it, whichever server answers:
	// an ordered consumer (nats.go's kv.History) is placed on a random peer
	// of the stream, and a follower may not have applied the write yet.
	t.Run("history after write", func(t *testing.T) {
		const rounds = 100
		missed := 0
		for round := range rounds {
			key := fmt.Sprintf("hist/%d", round)
			var rev uint64
			for step := range 2 {
				if step == 0 {
					rev = mustCreate(t, s, key, []byte("created"))
				} else {
					rev = mustUpdate(t, s, key, []byte("updated"), rev)
				}
				h, err := s.History(t.Context(), key)
				if err != nil || len(h) == 0 || h[len(h)-1].Revision != rev {
					missed++
					if missed <= 3 {
						t.Errorf("round %d: History(%q) = %v, %v, want it to end with revision %d", round, key, h, err, rev)
					}
				}
			}
		}
		if missed > 0 {
			t.Errorf("History missed the write just made in %d of %d reads", missed, 2*rounds)
		}
	})

	// The whole contract on replicated buckets: reads must see the latest
	// write, which a follower answering a direct get would not.
	t.Run("conformance", func(t *testing.T) {
		storetest.Run(t, capabilities, func(t *testing.T) stores.Store {
			kv := newBucketConfig(t, js, jetstream.KeyValueConfig{History: 10, Replicas: 3})
			s, err := natskv.New(t.Context(), js, kv.Bucket())
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			return s
		})
	})

	t.Run("contention", func(t *testing.T) {
		r := leasetest.Contention(t, s, 32, 100)
		t.Logf("contention, R3 cluster: %v", r)
		if r.Rounds != 100 {
			t.Errorf("Contention report = %d rounds, want 100", r.Rounds)
		}
	})
}
