package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/lease/leasetest"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/storetest"
)

// capabilities are the optional capabilities an etcd store implements.
var capabilities = storetest.Capabilities{Watch: true, History: true, Delete: true, Scan: true}

func TestConformance(t *testing.T) {
	storetest.Run(t, capabilities, func(t *testing.T) stores.Store { return newStore(t) })
}

// TestConformanceSmallPages runs the suite with three keys per page, so
// that every List and watch snapshot of more than three keys is paginated.
func TestConformanceSmallPages(t *testing.T) {
	storetest.Run(t, capabilities, func(t *testing.T) stores.Store { return newStore(t, etcd.WithPageSize(3)) })
}

func TestNewOptions(t *testing.T) {
	cli := shared(t).Client(t)
	for _, tc := range []struct {
		name    string
		opts    []etcd.Option
		wantErr bool
	}{
		{"default", nil, false},
		{"page-1", []etcd.Option{etcd.WithPageSize(1)}, false},
		{"page-100000", []etcd.Option{etcd.WithPageSize(100_000)}, false},
		{"page-0", []etcd.Option{etcd.WithPageSize(0)}, true},
		{"page-negative", []etcd.Option{etcd.WithPageSize(-5)}, true},
		{"page-too-big", []etcd.Option{etcd.WithPageSize(100_001)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := etcd.New(cli, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%s) = %v, %v, want error %v", tc.name, s, err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "etcd: ") {
				t.Errorf("New(%s) error %q, want prefix %q", tc.name, err, "etcd: ")
			}
		})
	}
	if s, err := etcd.New(nil); err == nil {
		t.Errorf("New(nil) = %v, nil, want error", s)
	}
}

// TestCreateExistsOneRoundTrip checks that a lost create returns the
// current entry from the same transaction.
func TestCreateExistsOneRoundTrip(t *testing.T) {
	s, counter := countedStore(t)
	ctx := t.Context()
	const key = "leases/a"
	rev, err := s.Create(ctx, key, []byte("first"))
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", key, err)
	}
	var got uint64
	calls := counter.calls(func() { got, err = s.Create(ctx, key, []byte("second")) })
	if calls != 1 {
		t.Errorf("losing Create(%q) made %d gRPC calls, want 1", key, calls)
	}
	ee, ok := errors.AsType[*stores.ExistsError](err)
	if !ok || !errors.Is(err, stores.ErrExists) {
		t.Fatalf("losing Create(%q) = %d, %v, want *stores.ExistsError matching ErrExists", key, got, err)
	}
	want := stores.Entry{Key: key, Value: []byte("first"), Revision: rev}
	if !equalEntry(ee.Current, want) {
		t.Errorf("losing Create(%q) Current = %+v, want %+v", key, ee.Current, want)
	}
}

func TestUpdateConflict(t *testing.T) {
	s, counter := countedStore(t)
	ctx := t.Context()
	const key = "leases/a"
	rev1, err := s.Create(ctx, key, []byte("v1"))
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	rev2, err := s.Update(ctx, key, []byte("v2"), rev1)
	if err != nil {
		t.Fatalf("Update(%q, %d) = %v", key, rev1, err)
	}
	for _, tc := range []struct {
		name      string
		key       string
		rev       uint64
		wantCalls int64
		wantMsg   string
	}{
		{"stale", key, rev1, 1, fmt.Sprintf("expected revision %d, current revision %d", rev1, rev2)},
		{"missing", "leases/none", rev2, 1, "key does not exist"},
		{"zero", key, 0, 0, "revision 0 cannot exist"},
		{"zero-missing", "leases/none", 0, 0, "revision 0 cannot exist"},
		{"beyond-int64", key, 1 << 63, 0, "cannot exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			calls := counter.calls(func() { _, err = s.Update(ctx, tc.key, []byte("x"), tc.rev) })
			if !errors.Is(err, stores.ErrConflict) {
				t.Fatalf("Update(%q, %d) = %v, want ErrConflict", tc.key, tc.rev, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.HasPrefix(err.Error(), "etcd: ") {
				t.Errorf("Update(%q, %d) error %q, want prefix %q and %q", tc.key, tc.rev, err, "etcd: ", tc.wantMsg)
			}
			if calls != tc.wantCalls {
				t.Errorf("Update(%q, %d) made %d gRPC calls, want %d", tc.key, tc.rev, calls, tc.wantCalls)
			}
		})
	}
	// The zero revision must not have created the missing key.
	if _, err := s.Get(ctx, "leases/none"); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(%q) after Update at revision 0 = %v, want ErrNotFound", "leases/none", err)
	}
}

// TestInvalidKey checks that every operation refuses an empty key without
// a round trip.
func TestInvalidKey(t *testing.T) {
	s, counter := countedStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, ""); return err }},
		{"create", func() error { _, err := s.Create(ctx, "", []byte("v")); return err }},
		{"update", func() error { _, err := s.Update(ctx, "", []byte("v"), 1); return err }},
		{"delete", func() error { return s.Delete(ctx, "") }},
		{"history", func() error { _, err := s.History(ctx, ""); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			calls := counter.calls(func() { err = tc.op() })
			if !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", tc.name, "", err)
			}
			if calls != 0 {
				t.Errorf("%s(%q) made %d gRPC calls, want 0", tc.name, "", calls)
			}
		})
	}
}

// TestListPages checks the number of round trips List makes for several
// page sizes, and that the pages join up into the full sorted listing.
func TestListPages(t *testing.T) {
	const n = 10
	var all []stores.Entry
	{
		s := newStore(t)
		for i := range n {
			key := fmt.Sprintf("page/%02d", n-1-i) // created in reverse order
			rev, err := s.Create(t.Context(), key, []byte(key))
			if err != nil {
				t.Fatalf("Create(%q) = %v", key, err)
			}
			all = append(all, stores.Entry{Key: key, Value: []byte(key), Revision: rev})
		}
		if _, err := s.Create(t.Context(), "pagf", []byte("outside")); err != nil {
			t.Fatalf("Create(%q) = %v", "pagf", err)
		}
		slices.SortFunc(all, func(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) })
	}
	for _, tc := range []struct {
		page      int
		wantCalls int64
	}{
		{1, 10}, {2, 5}, {3, 4}, {4, 3}, {5, 2}, {9, 2}, {10, 1}, {11, 1}, {5000, 1},
	} {
		t.Run(fmt.Sprintf("page-%d", tc.page), func(t *testing.T) {
			counter := &callCounter{}
			s, err := etcd.New(shared(t).Client(t, counter.option()), etcd.WithPageSize(tc.page))
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			var got []stores.Entry
			calls := counter.calls(func() { got, err = s.List(t.Context(), "page/") })
			if err != nil {
				t.Fatalf("List(%q) = %v", "page/", err)
			}
			if !slices.EqualFunc(got, all, equalEntry) {
				t.Errorf("List(%q) = %v, want %v", "page/", got, all)
			}
			if calls != tc.wantCalls {
				t.Errorf("List(%q) with page size %d made %d gRPC calls, want %d", "page/", tc.page, calls, tc.wantCalls)
			}
		})
	}
}

// afterFirstRange is a unary interceptor that runs fn once, right after the
// first Range call it sees: between the first and second page of a List.
func afterFirstRange(fn func()) grpc.DialOption {
	done := false
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if !done && strings.HasSuffix(method, "/Range") {
			done = true
			fn()
		}
		return err
	})
}

// TestListSnapshot checks that the pages of one List all read the first
// page's revision, even when the keys change between two pages.
func TestListSnapshot(t *testing.T) {
	base := newStore(t)
	ctx := t.Context()
	want := make([]stores.Entry, 0, 4)
	for _, key := range []string{"snap/a", "snap/b", "snap/c", "snap/d"} {
		rev, err := base.Create(ctx, key, []byte("old"))
		if err != nil {
			t.Fatalf("Create(%q) = %v", key, err)
		}
		want = append(want, stores.Entry{Key: key, Value: []byte("old"), Revision: rev})
	}
	cli := shared(t).Client(t, afterFirstRange(func() {
		// Between the pages: change a listed key of the second page, delete
		// another, add a new one at the end.
		if _, err := base.Update(ctx, "snap/c", []byte("new"), want[2].Revision); err != nil {
			t.Errorf("Update(%q) = %v", "snap/c", err)
		}
		if err := base.Delete(ctx, "snap/d"); err != nil {
			t.Errorf("Delete(%q) = %v", "snap/d", err)
		}
		if _, err := base.Create(ctx, "snap/e", []byte("new")); err != nil {
			t.Errorf("Create(%q) = %v", "snap/e", err)
		}
	}))
	s, err := etcd.New(cli, etcd.WithPageSize(2))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	got, err := s.List(ctx, "snap/")
	if err != nil {
		t.Fatalf("List(%q) = %v", "snap/", err)
	}
	if !slices.EqualFunc(got, want, equalEntry) {
		t.Errorf("List(%q) = %v, want the snapshot %v", "snap/", got, want)
	}
}

// TestListCompactedBetweenPages checks that a List whose snapshot revision
// is compacted away between two pages starts over and returns the new state.
func TestListCompactedBetweenPages(t *testing.T) {
	base := newStore(t)
	raw := shared(t).Client(t)
	ctx := t.Context()
	for _, key := range []string{"cmp/a", "cmp/b", "cmp/c"} {
		if _, err := base.Create(ctx, key, []byte("old")); err != nil {
			t.Fatalf("Create(%q) = %v", key, err)
		}
	}
	var newRev uint64
	counter := &callCounter{}
	cli := shared(t).Client(t, afterFirstRange(func() {
		e, err := base.Get(ctx, "cmp/c")
		if err != nil {
			t.Errorf("Get(%q) = %v", "cmp/c", err)
			return
		}
		if newRev, err = base.Update(ctx, "cmp/c", []byte("new"), e.Revision); err != nil {
			t.Errorf("Update(%q) = %v", "cmp/c", err)
			return
		}
		if _, err := raw.Compact(ctx, int64(newRev), clientv3.WithCompactPhysical()); err != nil {
			t.Errorf("Compact(%d) = %v", newRev, err)
		}
	}), counter.option())
	s, err := etcd.New(cli, etcd.WithPageSize(2))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	var got []stores.Entry
	calls := counter.calls(func() { got, err = s.List(ctx, "cmp/") })
	if err != nil {
		t.Fatalf("List(%q) = %v, want nil after a restart", "cmp/", err)
	}
	keys := make([]string, len(got))
	for i, e := range got {
		keys[i] = e.Key
	}
	if !slices.Equal(keys, []string{"cmp/a", "cmp/b", "cmp/c"}) || string(got[2].Value) != "new" || got[2].Revision != newRev {
		t.Errorf("List(%q) = %v, want a, b and c = %q at revision %d", "cmp/", got, "new", newRev)
	}
	// Page 1, page 2 (compacted), then pages 1 and 2 again.
	if calls != 4 {
		t.Errorf("List(%q) made %d gRPC calls, want 4", "cmp/", calls)
	}
}

// TestHistory checks what the conformance suite cannot: etcd's bound of
// twenty values, a compaction horizon, and a re-created key whose history
// starts at its creation.
func TestHistory(t *testing.T) {
	s := newStore(t)
	raw := shared(t).Client(t)
	ctx := t.Context()

	// write creates key (or recreates it) and updates it until it holds
	// n values, returning them oldest first.
	write := func(t *testing.T, key string, n int) []stores.Entry {
		t.Helper()
		rev, err := s.Create(ctx, key, []byte("v0"))
		if err != nil {
			t.Fatalf("Create(%q) = %v", key, err)
		}
		hist := []stores.Entry{{Key: key, Value: []byte("v0"), Revision: rev}}
		for i := 1; i < n; i++ {
			v := fmt.Appendf(nil, "v%d", i)
			// Another key's write in between must not show up.
			if _, err := raw.Put(ctx, key+"-other", "x"); err != nil {
				t.Fatalf("Put = %v", err)
			}
			if rev, err = s.Update(ctx, key, v, rev); err != nil {
				t.Fatalf("Update(%q) = %v", key, err)
			}
			hist = append(hist, stores.Entry{Key: key, Value: v, Revision: rev})
		}
		return hist
	}
	check := func(t *testing.T, key string, want []stores.Entry) {
		t.Helper()
		got, err := s.History(ctx, key)
		if err != nil {
			t.Fatalf("History(%q) = %v", key, err)
		}
		if !slices.EqualFunc(got, want, equalEntry) {
			t.Errorf("History(%q) = %v, want %v", key, got, want)
		}
	}

	t.Run("few", func(t *testing.T) {
		hist := write(t, "hist/few", 4)
		check(t, "hist/few", hist)
	})
	t.Run("capped", func(t *testing.T) {
		hist := write(t, "hist/capped", 25)
		check(t, "hist/capped", hist[len(hist)-20:])
	})
	t.Run("recreated", func(t *testing.T) {
		write(t, "hist/recreated", 3)
		if err := s.Delete(ctx, "hist/recreated"); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		hist := write(t, "hist/recreated", 2)
		check(t, "hist/recreated", hist)
	})
	t.Run("compacted", func(t *testing.T) {
		hist := write(t, "hist/compacted", 6)
		// Compacting at the third newest value keeps it and what follows.
		if _, err := raw.Compact(ctx, int64(hist[len(hist)-3].Revision), clientv3.WithCompactPhysical()); err != nil {
			t.Fatalf("Compact = %v", err)
		}
		check(t, "hist/compacted", hist[len(hist)-3:])
	})
}

// TestUnreachable checks that calls against a server that is not there end
// with the caller's deadline and a clear error instead of hanging.
func TestUnreachable(t *testing.T) {
	srv := stoppedServer(t)
	endpoint := srv.Endpoints()[0]
	const deadline = time.Second

	t.Run("dial", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		s, err := etcd.Dial(ctx, etcd.Config{Endpoints: []string{endpoint}})
		if err == nil {
			s.Close()
			t.Fatalf("Dial(%s) = nil error, want one", endpoint)
		}
		t.Logf("Dial(%s) = %v", endpoint, err)
		for _, want := range []string{"etcd: dial " + endpoint, "cluster unreachable", "connection refused"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Dial(%s) = %q, want it to mention %q", endpoint, err, want)
			}
		}
		if s := matchesSentinel(err); s != nil {
			t.Errorf("Dial(%s) = %v, matches %v", endpoint, err, s)
		}
	})

	t.Run("dial-timeout", func(t *testing.T) {
		// No context deadline: Config.DialTimeout bounds Dial.
		s, err := etcd.Dial(t.Context(), etcd.Config{Endpoints: []string{endpoint}, DialTimeout: deadline})
		if err == nil {
			s.Close()
			t.Fatalf("Dial(%s) = nil error, want one", endpoint)
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Dial(%s) = %v, want it to mention %q", endpoint, err, "connection refused")
		}
	})

	t.Run("dial-with-password", func(t *testing.T) {
		// clientv3.New authenticates first, waiting for a connection.
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		s, err := etcd.Dial(ctx, etcd.Config{Endpoints: []string{endpoint}, Username: "ops", Password: "pw"})
		if err == nil {
			s.Close()
			t.Fatalf("Dial(%s) = nil error, want one", endpoint)
		}
		t.Logf("Dial(%s) with a password = %v", endpoint, err)
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Dial(%s) = %v, want it to mention %q", endpoint, err, "connection refused")
		}
	})

	t.Run("operations", func(t *testing.T) {
		s, err := etcd.New(srv.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			op   func(ctx context.Context) error
		}{
			{"get", func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err }},
			{"create", func(ctx context.Context) error { _, err := s.Create(ctx, "k", nil); return err }},
			{"update", func(ctx context.Context) error { _, err := s.Update(ctx, "k", nil, 3); return err }},
			{"list", func(ctx context.Context) error { _, err := s.List(ctx, ""); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				err := tc.op(ctx)
				if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "etcd: "+tc.name) {
					t.Errorf("%s = %v, want an %q error matching context.DeadlineExceeded", tc.name, err, "etcd: "+tc.name)
				}
				if !strings.Contains(err.Error(), "cluster unreachable") || !strings.Contains(err.Error(), "connection refused") {
					t.Errorf("%s = %v, want it to say why: cluster unreachable, connection refused", tc.name, err)
				}
				if s := matchesSentinel(err); s != nil {
					t.Errorf("%s = %v, matches %v", tc.name, err, s)
				}
			})
		}
	})
}

func TestDialConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  etcd.Config
		want string
	}{
		{"no-endpoints", etcd.Config{}, "no endpoints"},
		{"blank-endpoint", etcd.Config{Endpoints: []string{" "}}, "empty endpoint"},
		{"password-only", etcd.Config{Endpoints: shared(t).Endpoints(), Password: "pw"}, "password without username"},
		{"username-only", etcd.Config{Endpoints: shared(t).Endpoints(), Username: "ops"}, "without password"},
		{"negative-timeout", etcd.Config{Endpoints: shared(t).Endpoints(), DialTimeout: -time.Second}, "negative dial timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := etcd.Dial(t.Context(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Dial(%+v) = nil error, want %q", tc.cfg, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "etcd: dial") {
				t.Errorf("Dial(%+v) = %q, want %q", tc.cfg, err, tc.want)
			}
		})
	}

	t.Run("ok", func(t *testing.T) {
		s, err := etcd.Dial(t.Context(), etcd.Config{Endpoints: shared(t).Endpoints()}, etcd.WithPageSize(10))
		if err != nil {
			t.Fatalf("Dial(%s) = %v", shared(t).Endpoints()[0], err)
		}
		if _, err := s.Get(t.Context(), "dial/none"); !errors.Is(err, stores.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", "dial/none", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		// The store owned its client: it is closed now.
		if _, err := s.Watch(t.Context(), "dial/"); err == nil || !strings.Contains(err.Error(), "client closed") {
			t.Errorf("Watch after Close = %v, want a client closed error", err)
		}
	})

	t.Run("bad-option", func(t *testing.T) {
		s, err := etcd.Dial(t.Context(), etcd.Config{Endpoints: shared(t).Endpoints()}, etcd.WithPageSize(0))
		if err == nil {
			s.Close()
			t.Fatalf("Dial(WithPageSize(0)) = nil error, want one")
		}
	})
}

// TestCloseKeepsCallerClient checks that a store from New leaves its
// caller's client open.
func TestCloseKeepsCallerClient(t *testing.T) {
	cli := shared(t).Client(t)
	s, err := etcd.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := cli.Get(t.Context(), "close/none"); err != nil {
		t.Errorf("client Get after store Close = %v, want nil", err)
	}
}

// TestLeaseRoundTrips counts the gRPC calls of one lease.TryAcquire on a
// free, a held and an expired key.
func TestLeaseRoundTrips(t *testing.T) {
	s, counter := countedStore(t)
	ctx := t.Context()
	t0 := time.Unix(1_718_000_000, 0)
	at := func(d time.Duration) lease.Option {
		return lease.WithClock(func() time.Time { return t0.Add(d) })
	}
	acquire := func(t *testing.T, holder string, now time.Duration) (int64, error) {
		t.Helper()
		l, err := lease.New(s, "exports/orders", holder, at(now))
		if err != nil {
			t.Fatalf("lease.New() = %v", err)
		}
		var aerr error
		calls := counter.calls(func() { _, aerr = l.TryAcquire(ctx, 10*time.Second) })
		return calls, aerr
	}
	for _, tc := range []struct {
		name      string
		holder    string
		now       time.Duration
		wantWon   bool
		wantCalls int64
	}{
		{"free", "node-a", 0, true, 1},                   // create wins
		{"held", "node-b", 5 * time.Second, false, 1},    // create loses with the live record
		{"expired", "node-c", 10 * time.Second, true, 2}, // create loses, update takes over
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, err := acquire(t, tc.holder, tc.now)
			t.Logf("TryAcquire on a %s key: %d gRPC calls, err %v", tc.name, calls, err)
			if won := err == nil; won != tc.wantWon {
				t.Errorf("TryAcquire(%s) = %v, want won %v", tc.name, err, tc.wantWon)
			}
			if !tc.wantWon && !errors.Is(err, lease.ErrHeld) {
				t.Errorf("TryAcquire(%s) = %v, want ErrHeld", tc.name, err)
			}
			if calls != tc.wantCalls {
				t.Errorf("TryAcquire(%s) made %d gRPC calls, want %d", tc.name, calls, tc.wantCalls)
			}
		})
	}
}

// equalEntry compares entries; a nil and an empty value are equal.
func equalEntry(a, b stores.Entry) bool {
	return a.Key == b.Key && a.Revision == b.Revision && string(a.Value) == string(b.Value)
}

// TestContention races 32 candidates per round for 500 rounds on the real
// server, through the lease algorithm.
func TestContention(t *testing.T) {
	s, counter := countedStore(t)
	var report leasetest.ContentionReport
	calls := counter.calls(func() { report = leasetest.Contention(t, s, 32, 500) })
	t.Logf("contention on etcd: %v", report)
	t.Logf("%d gRPC calls for %d attempts (planting and checking included): %.2f per attempt",
		calls, report.Attempts, float64(calls)/float64(max(report.Attempts, 1)))
	if report.Rounds != 500 {
		t.Errorf("Contention played %d rounds, want 500", report.Rounds)
	}
}
