package consul_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/consul"
)

// TestTryAcquireRoundTrips counts the HTTP requests of one lease.TryAcquire
// on a free key (create), a held key (create, read) and an expired or
// abandoned key (create, read, compare-and-swap), and checks that a guard's
// revision is good for its own Complete.
func TestTryAcquireRoundTrips(t *testing.T) {
	ct := newCountingTransport()
	a := sharedAgent(t)
	wipe(t, a)
	s, err := consul.New(apiConfig(t, a, "", ct))
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Minute
	start := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return start.Add(d) } }
	newLease := func(key, holder string, clock func() time.Time) *lease.Lease {
		l, err := lease.New(s, key, holder, lease.WithClock(clock))
		if err != nil {
			t.Fatalf("lease.New(%q, %q) = %v", key, holder, err)
		}
		return l
	}

	// Set up an abandoned key: won, then abandoned.
	g, err := newLease("lease/abandoned", "old", at(0)).TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	g.Abandon(t.Context())
	// And a held key that will also serve as the expired one.
	if _, err := newLease("lease/k", "first", at(0)).TryAcquire(t.Context(), ttl); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		key    string
		clock  func() time.Time
		won    bool
		want   []string
		finish bool // Complete the guard: its revision must be the write's
	}{
		{"free", "lease/free", at(0), true, []string{"PUT /v1/txn"}, true},
		{"held", "lease/k", at(ttl / 2), false, []string{"PUT /v1/txn", "GET /v1/kv/lease/k"}, false},
		{"expired", "lease/k", at(2 * ttl), true, []string{"PUT /v1/txn", "GET /v1/kv/lease/k", "PUT /v1/txn"}, true},
		{"abandoned", "lease/abandoned", at(0), true, []string{"PUT /v1/txn", "GET /v1/kv/lease/abandoned", "PUT /v1/txn"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLease(tc.key, "node-"+tc.name, tc.clock)
			ct.take()
			g, err := l.TryAcquire(t.Context(), ttl)
			got := ct.take()
			t.Logf("TryAcquire, %s key: %d round trip(s) %v, err %v", tc.name, len(got), got, err)
			if tc.won != (err == nil) {
				t.Fatalf("TryAcquire(%q) = %v, want won=%v", tc.key, err, tc.won)
			}
			if !tc.won && !errors.Is(err, lease.ErrHeld) {
				t.Fatalf("TryAcquire(%q) = %v, want ErrHeld", tc.key, err)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("TryAcquire(%q) sent %q, want %q", tc.key, got, tc.want)
			}
			if !tc.finish {
				return
			}
			if err := g.Complete(t.Context(), []byte{1}); err != nil {
				t.Fatalf("Complete() = %v", err)
			}
			rec, err := l.Current(t.Context())
			if err != nil || rec.HolderID != l.HolderID() || rec.CompletedCursorHex != "01" {
				t.Errorf("Current(%q) after Complete = %+v, %v, want %q's completed record", tc.key, rec, err, l.HolderID())
			}
		})
	}
}
