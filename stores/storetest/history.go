package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// minHistory is how many of a key's most recent values a driver that bounds
// History must keep: enough to show the rounds of a takeover (the holder's
// last renewal, the takeover, the new holder's renewal).
const minHistory = 3

// historian returns s's stores.Historian, failing the test when the lookup
// does not find the capability the driver declared.
func historian(t *testing.T, s stores.Store) stores.Historian {
	t.Helper()
	h, ok := stores.AsHistorian(s)
	if !ok {
		t.Fatalf("stores.AsHistorian(%T) finds no stores.Historian, but Capabilities.History is declared", s)
	}
	return h
}

func mustHistory(t *testing.T, h stores.Historian, key string) []stores.Entry {
	t.Helper()
	got, err := h.History(t.Context(), key)
	if err != nil {
		t.Fatalf("History(%q) = %v, want nil", key, err)
	}
	return got
}

// wantHistory checks that History(key) is exactly want, oldest first.
func wantHistory(t *testing.T, h stores.Historian, key string, want []stores.Entry) {
	t.Helper()
	if got := mustHistory(t, h, key); !slices.EqualFunc(got, want, equalEntry) {
		t.Errorf("History(%q) = %s, want %s (oldest first)", key, fmtEntries(got), fmtEntries(want))
	}
}

func wantNoHistory(t *testing.T, h stores.Historian, key string) {
	t.Helper()
	if got, err := h.History(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("History(%q) = %s, %v, want ErrNotFound", key, fmtEntries(got), err)
	}
}

// testHistoryOrder checks one key's values oldest first, a tombstone among
// them, with writes to other keys (one sharing its prefix) in between.
func testHistoryOrder(t *testing.T, s stores.Store) {
	h := historian(t, s)
	const key = "st/h/a"
	r1 := mustCreate(t, s, key, []byte("one"))
	mustCreate(t, s, "st/h/ab", []byte("neighbour"))
	r2 := mustUpdate(t, s, key, nil, r1) // a tombstone is a value
	mustCreate(t, s, "st/h/a/b", []byte("child"))
	r3 := mustUpdate(t, s, key, []byte("three"), r2)
	wantHistory(t, h, key, []stores.Entry{entry(key, "one", r1), entry(key, "", r2), entry(key, "three", r3)})
	wantHistory(t, h, "st/h/ab", []stores.Entry{mustGet(t, s, "st/h/ab")})
}

func testHistorySingle(t *testing.T, s stores.Store) {
	h := historian(t, s)
	rev := mustCreate(t, s, "st/h/a", []byte("only"))
	wantHistory(t, h, "st/h/a", []stores.Entry{entry("st/h/a", "only", rev)})
	rev = mustCreate(t, s, "st/h/empty", nil)
	wantHistory(t, h, "st/h/empty", []stores.Entry{entry("st/h/empty", "", rev)})
}

// testHistoryBounded writes more values than a driver must keep, and checks
// that History is a suffix of them: the most recent, oldest first, at least
// minHistory of them.
func testHistoryBounded(t *testing.T, s stores.Store) {
	h := historian(t, s)
	const key, n = "st/h/a", 2 * minHistory
	written := []stores.Entry{entry(key, "v0", mustCreate(t, s, key, []byte("v0")))}
	for i := 1; i < n; i++ {
		value := fmt.Sprintf("v%d", i)
		written = append(written, entry(key, value, mustUpdate(t, s, key, []byte(value), written[i-1].Revision)))
	}
	got := mustHistory(t, h, key)
	if len(got) < minHistory || len(got) > n || !slices.EqualFunc(got, written[n-len(got):], equalEntry) {
		t.Errorf("History(%q) = %s, want the last %d to %d of %s (oldest first)", key, fmtEntries(got), minHistory, n, fmtEntries(written))
	}
	t.Logf("History(%q) returned %d of %d values", key, len(got), n)
}

func testHistoryMissing(t *testing.T, s stores.Store) {
	h := historian(t, s)
	wantNoHistory(t, h, "st/h/a")
	// Keys that share a prefix with it are not its history.
	mustCreate(t, s, "st/h/a/b", []byte("child"))
	mustCreate(t, s, "st/h/ab", []byte("neighbour"))
	mustCreate(t, s, "st/h", []byte("parent"))
	wantNoHistory(t, h, "st/h/a")
	if got, err := h.History(t.Context(), ""); !errors.Is(err, stores.ErrInvalidKey) {
		t.Errorf("History(%q) = %s, %v, want ErrInvalidKey", "", fmtEntries(got), err)
	}
}

// testHistoryRecreated checks a key deleted and created again: its history
// ends with the values of its current life, oldest first, and holds no
// deletion. Values from before the deletion may come first (NATS keeps them;
// etcd's history starts at the key's creation).
func testHistoryRecreated(t *testing.T, s stores.Store) {
	h, d := historian(t, s), deleter(t, s)
	const key = "st/h/a"
	old := entry(key, "old", mustCreate(t, s, key, []byte("old")))
	mustDelete(t, d, key)
	r1 := mustCreate(t, s, key, []byte("new"))
	r2 := mustUpdate(t, s, key, nil, r1)
	current := []stores.Entry{entry(key, "new", r1), entry(key, "", r2)}

	got := mustHistory(t, h, key)
	if !slices.EqualFunc(got, current, equalEntry) && !slices.EqualFunc(got, append([]stores.Entry{old}, current...), equalEntry) {
		t.Errorf("History(%q) after delete and re-create = %s, want %s, optionally after %s", key, fmtEntries(got), fmtEntries(current), fmtEntry(old))
	}
}

func testHistoryCanceled(t *testing.T, s stores.Store) {
	h := historian(t, s)
	mustCreate(t, s, "st/h/a", []byte("v"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got, err := h.History(ctx, "st/h/a"); !errors.Is(err, context.Canceled) {
		t.Errorf("History(canceled, %q) = %s, %v, want context.Canceled", "st/h/a", fmtEntries(got), err)
	}
}
