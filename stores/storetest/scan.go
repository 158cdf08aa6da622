package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// scanner returns s's stores.Scanner, failing the test when the lookup does
// not find the capability the driver declared.
func scanner(t *testing.T, s stores.Store) stores.Scanner {
	t.Helper()
	sc, ok := stores.AsScanner(s)
	if !ok {
		t.Fatalf("stores.AsScanner(%T) finds no stores.Scanner, but Capabilities.Scan is declared", s)
	}
	return sc
}

// scanAll collects what Scan gives for prefix.
func scanAll(t *testing.T, sc stores.Scanner, prefix string) []stores.Entry {
	t.Helper()
	var got []stores.Entry
	if err := sc.Scan(t.Context(), prefix, func(e stores.Entry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("Scan(%q) = %v, want nil", prefix, err)
	}
	return got
}

// testScanEqualsList checks that Scan gives exactly what List gives, in the
// same order, for several prefixes, with tombstones and more keys than a
// page of some drivers.
func testScanEqualsList(t *testing.T, s stores.Store) {
	sc := scanner(t, s)
	for i := range 130 {
		key := "st/scan/" + string(rune('a'+i%26)) + "/" + string(rune('a'+i/26))
		value := []byte(key)
		if i%7 == 0 {
			value = nil // a tombstone is listed like any value
		}
		mustCreate(t, s, key, value)
	}
	mustCreate(t, s, "st/scan-neighbour", []byte("n"))
	mustCreate(t, s, "other/scan", []byte("o"))
	for _, prefix := range []string{"", "st/", "st/scan/", "st/scan/b/", "st/none/"} {
		want, err := s.List(t.Context(), prefix)
		if err != nil {
			t.Fatalf("List(%q) = %v", prefix, err)
		}
		got := scanAll(t, sc, prefix)
		if !slices.EqualFunc(got, want, equalEntry) {
			t.Errorf("Scan(%q) = %s, want what List gives: %s", prefix, fmtEntries(got), fmtEntries(want))
		}
		if !slices.IsSortedFunc(got, func(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) }) {
			t.Errorf("Scan(%q) is not sorted by key", prefix)
		}
	}
}

// testScanStops checks that an error from fn ends the scan at once and is
// returned as it is.
func testScanStops(t *testing.T, s stores.Store) {
	sc := scanner(t, s)
	for _, k := range []string{"st/a", "st/b", "st/c"} {
		mustCreate(t, s, k, []byte(k))
	}
	stop := errors.New("enough")
	calls := 0
	err := sc.Scan(t.Context(), "st/", func(stores.Entry) error {
		calls++
		return stop
	})
	if err != stop { //nolint:errorlint // the very error, not wrapped
		t.Errorf("Scan with fn failing = %v, want fn's error itself", err)
	}
	if calls != 1 {
		t.Errorf("fn was called %d times after it failed, want 1 call in all", calls)
	}
}

// testScanCanceled checks that a done context ends Scan with its error.
func testScanCanceled(t *testing.T, s stores.Store) {
	sc := scanner(t, s)
	mustCreate(t, s, "st/a", []byte("a"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sc.Scan(ctx, "st/", func(stores.Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a canceled context = %v, want context.Canceled", err)
	}
}
