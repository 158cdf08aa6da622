package natskv_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/lease/leasetest"
)

// TestContention races 32 candidates for one key, 500 rounds, on the suite's
// single server.
func TestContention(t *testing.T) {
	f := newFixture(t)
	r := leasetest.Contention(t, f.store, 32, 500)
	t.Logf("contention, single server: %v", r)
	if r.Rounds != 500 || r.Attempts != 500*32 {
		t.Errorf("Contention report = %d rounds, %d attempts, want 500, %d", r.Rounds, r.Attempts, 500*32)
	}
}

// TestTryAcquireRoundTrips counts the requests one TryAcquire sends: the
// create-only write, the read the driver makes when the create is refused
// (returned in stores.ExistsError, so the lease skips its own), and the CAS.
func TestTryAcquireRoundTrips(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const ttl = 300 * time.Second
	start := time.Unix(1718000000, 0)
	clock := func(at time.Time) lease.Option { return lease.WithClock(func() time.Time { return at }) }
	newLease := func(key, holder string, at time.Time) *lease.Lease {
		l, err := lease.New(f.store, key, holder, clock(at))
		if err != nil {
			t.Fatalf("lease.New(%q, %q) = %v", key, holder, err)
		}
		return l
	}
	// measure runs one TryAcquire and returns whether it won and how many
	// messages the connection sent for it.
	measure := func(l *lease.Lease) (*lease.Guard, bool, uint64) {
		before := outMsgs(f.nc)
		g, err := l.TryAcquire(ctx, ttl)
		sent := outMsgs(f.nc) - before
		if err != nil && !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("TryAcquire(%q) = %v", l.Key(), err)
		}
		return g, err == nil, sent
	}

	const key = "rt/orders"
	_, won, free := measure(newLease(key, "node-a", start))
	if !won {
		t.Fatalf("TryAcquire on a free key lost")
	}
	_, won, held := measure(newLease(key, "node-b", start.Add(ttl-time.Second)))
	if won {
		t.Fatalf("TryAcquire on a held key won")
	}
	g2, won, expired := measure(newLease(key, "node-b", start.Add(ttl)))
	if !won {
		t.Fatalf("TryAcquire on an expired key lost")
	}
	g2.Abandon(ctx)
	_, won, tombstone := measure(newLease(key, "node-c", start.Add(ttl)))
	if !won {
		t.Fatalf("TryAcquire on a tombstone lost")
	}
	t.Logf("requests per TryAcquire: free %d, held %d, expired %d, tombstone %d", free, held, expired, tombstone)
	for _, c := range []struct {
		name      string
		got, want uint64
	}{{"free", free, 1}, {"held", held, 2}, {"expired", expired, 3}, {"tombstone", tombstone, 3}} {
		if c.got != c.want {
			t.Errorf("TryAcquire on a %s key sent %d requests, want %d", c.name, c.got, c.want)
		}
	}
}

// TestWireFormat checks the bytes in the stream: the record acquire writes
// is compact JSON exactly as the Rust fleets write it, a completion adds the
// cursor, and abandon leaves a zero-length ordinary message.
func TestWireFormat(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	const key = "wire/orders"
	var now atomic.Int64
	now.Store(1718000000)
	l, err := lease.New(f.store, key, "node-a", lease.WithClock(func() time.Time { return time.Unix(now.Load(), 0) }))
	if err != nil {
		t.Fatalf("lease.New = %v", err)
	}
	g, err := l.TryAcquire(ctx, 300*time.Second)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	wantRaw := func(step, want string) {
		t.Helper()
		m := f.rawLast(t, key)
		if string(m.Data) != want {
			t.Errorf("%s: stored bytes = %q, want %q", step, m.Data, want)
		}
		if op := m.Header.Get("KV-Operation"); op != "" {
			t.Errorf("%s: stored message has KV-Operation %q, want an ordinary message", step, op)
		}
		if m.Subject != "$KV."+f.kv.Bucket()+"."+key {
			t.Errorf("%s: stored subject = %q, want %q", step, m.Subject, "$KV."+f.kv.Bucket()+"."+key)
		}
	}
	// The record examples of docs/design.md §2, byte for byte.
	wantRaw("acquire", `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`)
	now.Store(1718000042)
	if err := g.Complete(ctx, lease.CursorFromRevision(42)); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	wantRaw("complete", `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300,"completed_cursor_hex":"000000000000002a","completed_at_unix":1718000042}`)
	g.Abandon(ctx)
	wantRaw("abandon", "")
}
