package etcd_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
)

// scanAll collects what Scan gives for prefix.
func scanAll(t *testing.T, s *etcd.Store, prefix string) ([]stores.Entry, error) {
	t.Helper()
	var got []stores.Entry
	err := s.Scan(t.Context(), prefix, func(e stores.Entry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

// TestScanPages checks that Scan makes the round trips List makes, one per
// page, whatever the page size, and stops asking once fn fails.
func TestScanPages(t *testing.T) {
	const n = 10
	s := newStore(t)
	for i := range n {
		key := fmt.Sprintf("page/%02d", i)
		if _, err := s.Create(t.Context(), key, []byte(key)); err != nil {
			t.Fatalf("Create(%q) = %v", key, err)
		}
	}
	want, err := s.List(t.Context(), "page/")
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	for _, tc := range []struct {
		page      int
		wantCalls int64
	}{
		{1, 10}, {3, 4}, {5, 2}, {9, 2}, {10, 1}, {5000, 1},
	} {
		t.Run(fmt.Sprintf("page-%d", tc.page), func(t *testing.T) {
			counter := &callCounter{}
			s, err := etcd.New(shared(t).Client(t, counter.option()), etcd.WithPageSize(tc.page))
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			var got []stores.Entry
			calls := counter.calls(func() { got, err = scanAll(t, s, "page/") })
			if err != nil || !slices.EqualFunc(got, want, equalEntry) {
				t.Errorf("Scan(%q) = %v, %v, want %v", "page/", got, err, want)
			}
			if calls != tc.wantCalls {
				t.Errorf("Scan(%q) with page size %d made %d gRPC calls, want %d", "page/", tc.page, calls, tc.wantCalls)
			}
			// fn failing on the first entry: the page read meanwhile
			// is the only other call (or none, when one page holds all).
			stop := errors.New("stop")
			calls = counter.calls(func() {
				err = s.Scan(t.Context(), "page/", func(stores.Entry) error { return stop })
			})
			if err != stop { //nolint:errorlint // fn's very error
				t.Errorf("Scan with fn failing = %v, want fn's error", err)
			}
			if calls > min(tc.wantCalls, 2) {
				t.Errorf("Scan with fn failing at once made %d gRPC calls, want at most %d", calls, min(tc.wantCalls, 2))
			}
		})
	}
}

// TestScanSnapshot checks that every page of a Scan reads the first page's
// revision, even when the keys change between two pages.
func TestScanSnapshot(t *testing.T) {
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
	got, err := scanAll(t, s, "snap/")
	if err != nil || !slices.EqualFunc(got, want, equalEntry) {
		t.Errorf("Scan(%q) = %v, %v, want the snapshot %v", "snap/", got, err, want)
	}
}

// TestScanCompactedBetweenPages checks that a Scan whose snapshot revision
// is compacted away after fn saw the first page fails, rather than start
// over (fn would see entries twice) or go on at another revision.
func TestScanCompactedBetweenPages(t *testing.T) {
	base := newStore(t)
	raw := shared(t).Client(t)
	ctx := t.Context()
	for _, key := range []string{"cmp/a", "cmp/b", "cmp/c"} {
		if _, err := base.Create(ctx, key, []byte("old")); err != nil {
			t.Fatalf("Create(%q) = %v", key, err)
		}
	}
	cli := shared(t).Client(t, afterFirstRange(func() {
		e, err := base.Get(ctx, "cmp/c")
		if err != nil {
			t.Errorf("Get(%q) = %v", "cmp/c", err)
			return
		}
		rev, err := base.Update(ctx, "cmp/c", []byte("new"), e.Revision)
		if err != nil {
			t.Errorf("Update(%q) = %v", "cmp/c", err)
			return
		}
		if _, err := raw.Compact(ctx, int64(rev), clientv3.WithCompactPhysical()); err != nil {
			t.Errorf("Compact(%d) = %v", rev, err)
		}
	}))
	s, err := etcd.New(cli, etcd.WithPageSize(2))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	got, err := scanAll(t, s, "cmp/")
	if !errors.Is(err, rpctypes.ErrCompacted) || len(got) != 2 {
		t.Errorf("Scan(%q) compacted between pages = %v, %v; want the first page, then an error matching ErrCompacted", "cmp/", got, err)
	}
}
