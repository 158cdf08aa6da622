// Package storetest is the conformance suite for stores.Store drivers, in the
// spirit of testing/fstest.TestFS. A driver's test calls Run with the
// optional capabilities it implements and a function that opens the driver
// on an empty key space:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Capabilities{Watch: true, Delete: true},
//			func(t *testing.T) stores.Store { return openOnFreshBucket(t) })
//	}
//
// The suite checks the contract of stores.Store: not-found and zero-length
// values, create-only writes, compare-and-swap updates, listing by prefix,
// binary values, goroutines racing one key, a random concurrent history
// checked for linearizability with porcupine, and that stores.CheckKey agrees
// with what the store accepts. It checks the declared optional capabilities
// (stores.Watcher, stores.Historian, stores.Deleter, stores.Scanner) and
// that the store behind stores.ReadOnly reads the same, keeps every
// capability and refuses every write. Keys are valid on every backend (NATS KV's [-/_=.a-zA-Z0-9]+
// and Consul's no-leading-slash rule) and start with "st/", except "other/"
// keys used to test List("") and the odd keys of the key checks, which some
// backends refuse.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// Capabilities declares which optional capabilities of package stores a
// driver implements. The declaration must be exact: Run fails when a
// declared capability cannot be found with stores.AsWatcher, AsHistorian,
// AsDeleter or AsScanner (a wrapper that hides it would otherwise pass
// unnoticed), and when a capability that is present is not declared (it
// would go unchecked). The checks of an undeclared capability are not run; Run logs
// their names.
type Capabilities struct {
	// Watch declares stores.Watcher.
	Watch bool
	// History declares stores.Historian.
	History bool
	// Delete declares stores.Deleter.
	Delete bool
	// Scan declares stores.Scanner.
	Scan bool
}

// String lists the declared capabilities, e.g. "{Watch Delete}".
func (c Capabilities) String() string {
	return "{" + strings.Join(c.names(), " ") + "}"
}

// names returns the names of the declared capabilities.
func (c Capabilities) names() []string {
	var names []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"Watch", c.Watch}, {"History", c.History}, {"Delete", c.Delete}, {"Scan", c.Scan}} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

// covers reports whether c declares every capability that need declares.
func (c Capabilities) covers(need Capabilities) bool {
	return (c.Watch || !need.Watch) && (c.History || !need.History) && (c.Delete || !need.Delete) && (c.Scan || !need.Scan)
}

// capabilitiesOf returns the capabilities that s, or a store it wraps,
// implements, as the stores lookups find them.
func capabilitiesOf(s stores.Store) Capabilities {
	_, watch := stores.AsWatcher(s)
	_, history := stores.AsHistorian(s)
	_, del := stores.AsDeleter(s)
	_, scan := stores.AsScanner(s)
	return Capabilities{Watch: watch, History: history, Delete: del, Scan: scan}
}

// check is one named property of the suite, run on a fresh store when the
// driver declares every capability it needs.
type check struct {
	name  string
	needs Capabilities
	fn    func(t *testing.T, s stores.Store)
}

// Run runs the conformance suite, one named subtest per property, for a
// driver that implements the optional capabilities caps declares. Every
// call to newStore must return a store on an empty key space (a fresh
// server, bucket or namespace, or a wiped one); newStore registers its own
// cleanup with t.Cleanup. Subtests run sequentially, so drivers may share
// one server.
//
// The "capabilities" subtest fails unless caps is exactly what the store
// implements. The checks of a capability caps does not declare are not run
// (they are named in the log, not skipped: CI must not show them as passed
// or skipped). A driver that bounds what History returns must keep at least
// the three most recent values of a key.
func Run(t *testing.T, caps Capabilities, newStore func(t *testing.T) stores.Store) {
	t.Helper()
	t.Run("capabilities", func(t *testing.T) {
		testCapabilities(t, caps, newStore(t))
	})
	var notRun []string
	for _, c := range checks(caps) {
		if !caps.covers(c.needs) {
			notRun = append(notRun, fmt.Sprintf("%s (needs %v)", c.name, c.needs))
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newStore(t))
		})
	}
	if len(notRun) > 0 {
		t.Logf("storetest: capabilities declared %v; not run, as their capability is not declared: %s",
			caps, strings.Join(notRun, ", "))
	}
}

// checks returns the suite. The read-only checks compare the store with
// its wrapped self, and need to know what it declares.
func checks(caps Capabilities) []check {
	var (
		watch   = Capabilities{Watch: true}
		history = Capabilities{History: true}
		del     = Capabilities{Delete: true}
		scan    = Capabilities{Scan: true}
	)
	return []check{
		{"get/missing", Capabilities{}, testGetMissing},
		{"create/then-get", Capabilities{}, testCreateThenGet},
		{"create/twice", Capabilities{}, testCreateTwice},
		{"update/current", Capabilities{}, testUpdateCurrent},
		{"update/stale", Capabilities{}, testUpdateStale},
		{"update/missing", Capabilities{}, testUpdateMissing},
		{"update/rev-zero", Capabilities{}, testUpdateRevZero},
		{"update/same-read", Capabilities{}, testUpdateSameRead},
		{"revision/per-key", Capabilities{}, testRevisionPerKey},
		{"empty-value", Capabilities{}, testEmptyValue},
		{"binary-value", Capabilities{}, testBinaryValue},
		{"values-copied", Capabilities{}, testValuesCopied},
		{"list/prefix", Capabilities{}, testListPrefix},
		{"list/many", Capabilities{}, testListMany},
		{"key-check/agrees-with-writes", Capabilities{}, func(t *testing.T, s stores.Store) {
			testKeyCheckAgrees(t, caps, s)
		}},
		{"context/canceled", Capabilities{}, testContextCanceled},
		{"race/create", Capabilities{}, testRaceCreate},
		{"race/update", Capabilities{}, testRaceUpdate},
		{"linearizable", Capabilities{}, testLinearizable},
		{"delete/recreate", del, testDeleteRecreate},
		{"delete/missing", del, testDeleteMissing},
		{"history/order", history, testHistoryOrder},
		{"history/single", history, testHistorySingle},
		{"history/bounded", history, testHistoryBounded},
		{"history/missing", history, testHistoryMissing},
		{"history/recreated", Capabilities{History: true, Delete: true}, testHistoryRecreated},
		{"history/context-canceled", history, testHistoryCanceled},
		{"scan/equals-list", scan, testScanEqualsList},
		{"scan/stops-on-error", scan, testScanStops},
		{"scan/context-canceled", scan, testScanCanceled},
		{"watch/snapshot-then-changes", watch, testWatchSnapshotThenChanges},
		{"watch/all-keys", watch, testWatchAllKeys},
		{"watch/cancel", watch, testWatchCancel},
		{"watch/burst", watch, testWatchBurst},
		{"watch/delete", Capabilities{Watch: true, Delete: true}, testWatchDelete},
		{"readonly/capabilities", Capabilities{}, func(t *testing.T, s stores.Store) {
			testReadOnlyCapabilities(t, caps, s)
		}},
		{"readonly/reads", Capabilities{}, func(t *testing.T, s stores.Store) {
			testReadOnlyReads(t, caps, s)
		}},
		{"readonly/key-check", Capabilities{}, testReadOnlyKeyCheck},
		{"readonly/writes-refused", Capabilities{}, func(t *testing.T, s stores.Store) {
			testReadOnlyWrites(t, caps, s)
		}},
	}
}

// testCapabilities checks that caps is exactly what s implements, and that
// a fresh store is writable.
func testCapabilities(t *testing.T, caps Capabilities, s stores.Store) {
	got := capabilitiesOf(s)
	for _, c := range []struct {
		name, iface, lookup string
		declared, found     bool
	}{
		{"Watch", "Watcher", "AsWatcher", caps.Watch, got.Watch},
		{"History", "Historian", "AsHistorian", caps.History, got.History},
		{"Delete", "Deleter", "AsDeleter", caps.Delete, got.Delete},
		{"Scan", "Scanner", "AsScanner", caps.Scan, got.Scan},
	} {
		switch {
		case c.declared && !c.found:
			t.Errorf("Capabilities.%s is declared, but stores.%s(%T) finds no stores.%s: a wrapper hides it, or the driver lost it",
				c.name, c.lookup, s, c.iface)
		case !c.declared && c.found:
			t.Errorf("%T implements stores.%s, but Capabilities.%s is not declared: declare it, so that the suite checks it",
				s, c.iface, c.name)
		}
	}
	if stores.IsReadOnly(s) {
		t.Errorf("stores.IsReadOnly(%T) = true for a fresh store, want false: the suite needs a writable store", s)
	}
}

func testGetMissing(t *testing.T, s stores.Store) {
	if e, err := s.Get(t.Context(), "st/a"); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(%q) = %v, %v, want ErrNotFound", "st/a", e, err)
	}
}

func testCreateThenGet(t *testing.T, s stores.Store) {
	const key = "st/a"
	value := []byte("hello")
	rev := mustCreate(t, s, key, value)
	wantGet(t, s, key, value, rev)
}

func testCreateTwice(t *testing.T, s stores.Store) {
	const key = "st/a"
	rev := mustCreate(t, s, key, []byte("first"))
	got, err := s.Create(t.Context(), key, []byte("second"))
	if !errors.Is(err, stores.ErrExists) {
		t.Fatalf("second Create(%q) = %d, %v, want ErrExists", key, got, err)
	}
	if got != 0 {
		t.Errorf("second Create(%q) revision = %d, want 0", key, got)
	}
	if ee, ok := errors.AsType[*stores.ExistsError](err); ok {
		want := stores.Entry{Key: key, Value: []byte("first"), Revision: rev}
		if !equalEntry(ee.Current, want) {
			t.Errorf("second Create(%q) ExistsError.Current = %s, want %s", key, fmtEntry(ee.Current), fmtEntry(want))
		}
	}
	wantGet(t, s, key, []byte("first"), rev)
}

func testUpdateCurrent(t *testing.T, s stores.Store) {
	const key = "st/a"
	rev1 := mustCreate(t, s, key, []byte("v1"))
	rev2 := mustUpdate(t, s, key, []byte("v2"), rev1)
	if rev2 <= rev1 {
		t.Errorf("Update(%q, rev %d) = revision %d, want > %d", key, rev1, rev2, rev1)
	}
	wantGet(t, s, key, []byte("v2"), rev2)
}

func testUpdateStale(t *testing.T, s stores.Store) {
	const key = "st/a"
	rev1 := mustCreate(t, s, key, []byte("v1"))
	rev2 := mustUpdate(t, s, key, []byte("v2"), rev1)
	wantConflict(t, s, key, []byte("stale"), rev1)
	wantGet(t, s, key, []byte("v2"), rev2)
}

func testUpdateMissing(t *testing.T, s stores.Store) {
	// A revision that exists in the store, but belongs to another key.
	other := mustCreate(t, s, "st/other", []byte("x"))
	for _, rev := range []uint64{1, other, other + 1} {
		wantConflict(t, s, "st/a", []byte("v"), rev)
	}
	wantAbsent(t, s, "st/a")
}

func testUpdateRevZero(t *testing.T, s stores.Store) {
	// Revision 0 means "absent": on a missing key it must not act as a
	// create (Consul's cas=0 and NATS's expected sequence 0 do).
	wantConflict(t, s, "st/missing", []byte("v"), 0)
	wantAbsent(t, s, "st/missing")

	rev := mustCreate(t, s, "st/a", []byte("v1"))
	wantConflict(t, s, "st/a", []byte("v2"), 0)
	wantGet(t, s, "st/a", []byte("v1"), rev)
}

func testUpdateSameRead(t *testing.T, s stores.Store) {
	t.Run("sequential", func(t *testing.T) {
		const key = "st/seq"
		rev := mustCreate(t, s, key, []byte("v0"))
		won := mustUpdate(t, s, key, []byte("first"), rev)
		wantConflict(t, s, key, []byte("second"), rev)
		wantGet(t, s, key, []byte("first"), won)
	})
	t.Run("concurrent", func(t *testing.T) {
		const key = "st/conc"
		rev := mustCreate(t, s, key, []byte("v0"))
		results := race(2, func(i int) result {
			r, err := s.Update(t.Context(), key, fmt.Appendf(nil, "writer-%d", i), rev)
			return result{rev: r, err: err}
		})
		winner := exactlyOne(t, "Update", results, stores.ErrConflict)
		if winner >= 0 {
			wantGet(t, s, key, fmt.Appendf(nil, "writer-%d", winner), results[winner].rev)
		}
	})
}

func testRevisionPerKey(t *testing.T, s stores.Store) {
	const key = "st/a"
	rev := mustCreate(t, s, key, []byte("0"))
	for i := 1; i <= 10; i++ {
		// A write to another key in between must not disturb the order.
		if i%2 == 0 {
			mustCreate(t, s, fmt.Sprintf("st/b/%d", i), []byte("x"))
		}
		next := mustUpdate(t, s, key, fmt.Appendf(nil, "%d", i), rev)
		if next <= rev {
			t.Fatalf("Update(%q, rev %d) = revision %d, want > %d", key, rev, next, rev)
		}
		rev = next
	}
	wantGet(t, s, key, []byte("10"), rev)
}

func testEmptyValue(t *testing.T, s stores.Store) {
	revNil := mustCreate(t, s, "st/nil", nil)
	wantGet(t, s, "st/nil", []byte{}, revNil)
	revEmpty := mustCreate(t, s, "st/empty", []byte{})
	wantGet(t, s, "st/empty", []byte{}, revEmpty)

	// An empty value is not a deletion: a create over it fails.
	if _, err := s.Create(t.Context(), "st/empty", []byte("x")); !errors.Is(err, stores.ErrExists) {
		t.Errorf("Create(%q) over an empty value = %v, want ErrExists", "st/empty", err)
	}

	rev := mustCreate(t, s, "st/flip", []byte("full"))
	rev = mustUpdate(t, s, "st/flip", []byte{}, rev)
	wantGet(t, s, "st/flip", []byte{}, rev)
	rev = mustUpdate(t, s, "st/flip", []byte("full again"), rev)
	wantGet(t, s, "st/flip", []byte("full again"), rev)
	rev = mustUpdate(t, s, "st/flip", nil, rev)
	wantGet(t, s, "st/flip", []byte{}, rev)

	wantList(t, s, "st/", []stores.Entry{
		{Key: "st/empty", Value: []byte{}, Revision: revEmpty},
		{Key: "st/flip", Value: []byte{}, Revision: rev},
		{Key: "st/nil", Value: []byte{}, Revision: revNil},
	})

	// Empty, not nil: callers tell a tombstone from "no value" by it (the
	// audit log writes "" for one and null for the other).
	if e := mustGet(t, s, "st/empty"); e.Value == nil {
		t.Errorf("Get(%q).Value = nil, want an empty, non-nil slice", "st/empty")
	}
	list, err := s.List(t.Context(), "st/")
	if err != nil {
		t.Fatalf("List(%q) = %v", "st/", err)
	}
	for _, e := range list {
		if e.Value == nil {
			t.Errorf("List(%q) entry %q has a nil Value, want an empty, non-nil slice", "st/", e.Key)
		}
	}
}

func testBinaryValue(t *testing.T, s stores.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	invalidUTF8 := []byte("\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\x00\xed\xa0\x80")
	reversed := slices.Clone(all)
	slices.Reverse(reversed)

	revAll := mustCreate(t, s, "st/all", all)
	wantGet(t, s, "st/all", all, revAll)
	revBad := mustCreate(t, s, "st/utf8", invalidUTF8)
	wantGet(t, s, "st/utf8", invalidUTF8, revBad)
	revAll = mustUpdate(t, s, "st/all", reversed, revAll)
	wantGet(t, s, "st/all", reversed, revAll)
	wantList(t, s, "st/", []stores.Entry{
		{Key: "st/all", Value: reversed, Revision: revAll},
		{Key: "st/utf8", Value: invalidUTF8, Revision: revBad},
	})
}

func testValuesCopied(t *testing.T, s stores.Store) {
	const key = "st/a"
	buf := []byte("original")
	rev := mustCreate(t, s, key, buf)
	copy(buf, "XXXXXXXX")
	wantGet(t, s, key, []byte("original"), rev)

	e := mustGet(t, s, key)
	copy(e.Value, "YYYYYYYY")
	wantGet(t, s, key, []byte("original"), rev)

	list, err := s.List(t.Context(), "st/")
	if err != nil {
		t.Fatalf("List(%q) = %v, want nil", "st/", err)
	}
	for _, e := range list {
		copy(e.Value, "ZZZZZZZZ")
	}
	wantGet(t, s, key, []byte("original"), rev)

	buf = []byte("updated!")
	rev = mustUpdate(t, s, key, buf, rev)
	copy(buf, "XXXXXXXX")
	wantGet(t, s, key, []byte("updated!"), rev)
}

func testListPrefix(t *testing.T, s stores.Store) {
	// Created out of order, so that a store returning insertion order fails.
	keys := []string{"st/q", "st/p/b/d", "other/x", "st/pa", "st/p/a", "st/p/b/c", "st/p.dot"}
	byKey := map[string]stores.Entry{}
	for _, k := range keys {
		v := []byte("value of " + k)
		byKey[k] = stores.Entry{Key: k, Value: v, Revision: mustCreate(t, s, k, v)}
	}
	for _, k := range keys {
		wantGet(t, s, k, byKey[k].Value, byKey[k].Revision)
	}
	entries := func(keys ...string) []stores.Entry {
		var list []stores.Entry
		for _, k := range keys {
			list = append(list, byKey[k])
		}
		return list
	}
	for _, tc := range []struct {
		prefix string
		want   []stores.Entry
	}{
		{"st/p/", entries("st/p/a", "st/p/b/c", "st/p/b/d")},
		{"st/p/b/", entries("st/p/b/c", "st/p/b/d")},
		// A prefix is a plain string prefix, not a path segment.
		{"st/p", entries("st/p.dot", "st/p/a", "st/p/b/c", "st/p/b/d", "st/pa")},
		{"st/p/a", entries("st/p/a")},
		{"", entries("other/x", "st/p.dot", "st/p/a", "st/p/b/c", "st/p/b/d", "st/pa", "st/q")},
		{"st/none/", nil},
		{"nothing", nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			wantList(t, s, tc.prefix, tc.want)
		})
	}
}

func testListMany(t *testing.T, s stores.Store) {
	const n = 1000
	want := make([]stores.Entry, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				key := fmt.Sprintf("st/many/%04d", i)
				value := fmt.Appendf(nil, "value-%d", i)
				rev, err := s.Create(t.Context(), key, value)
				want[i] = stores.Entry{Key: key, Value: value, Revision: rev}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Create(%q) = %v, want nil", want[i].Key, err)
		}
	}
	mustCreate(t, s, "st/manyx", []byte("outside"))
	wantList(t, s, "st/many/", want)
}

func testContextCanceled(t *testing.T, s stores.Store) {
	rev := mustCreate(t, s, "st/a", []byte("v"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Get(ctx, "st/a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled, %q) = %v, want context.Canceled", "st/a", err)
	}
	if _, err := s.Create(ctx, "st/b", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("Create(canceled, %q) = %v, want context.Canceled", "st/b", err)
	}
	if _, err := s.Update(ctx, "st/a", []byte("v2"), rev); !errors.Is(err, context.Canceled) {
		t.Errorf("Update(canceled, %q) = %v, want context.Canceled", "st/a", err)
	}
	if _, err := s.List(ctx, "st/"); !errors.Is(err, context.Canceled) {
		t.Errorf("List(canceled, %q) = %v, want context.Canceled", "st/", err)
	}
}

// raceN is how many goroutines race one key.
const raceN = 16

func testRaceCreate(t *testing.T, s stores.Store) {
	const key = "st/race"
	results := race(raceN, func(i int) result {
		rev, err := s.Create(t.Context(), key, fmt.Appendf(nil, "racer-%02d", i))
		return result{rev: rev, err: err}
	})
	winner := exactlyOne(t, "Create", results, stores.ErrExists)
	if winner < 0 {
		return
	}
	wantGet(t, s, key, fmt.Appendf(nil, "racer-%02d", winner), results[winner].rev)
}

func testRaceUpdate(t *testing.T, s stores.Store) {
	const key = "st/race"
	rev := mustCreate(t, s, key, []byte("start"))
	for round := range 5 {
		// Everybody reads before anybody writes, so all hold the same revision.
		reads := race(raceN, func(int) result {
			e, err := s.Get(t.Context(), key)
			return result{rev: e.Revision, err: err}
		})
		for i, r := range reads {
			if r.err != nil || r.rev != rev {
				t.Fatalf("round %d: Get(%q) by racer %d = revision %d, %v, want %d, nil", round, key, i, r.rev, r.err, rev)
			}
		}
		value := func(i int) []byte { return fmt.Appendf(nil, "round-%d-racer-%02d", round, i) }
		results := race(raceN, func(i int) result {
			r, err := s.Update(t.Context(), key, value(i), reads[i].rev)
			return result{rev: r, err: err}
		})
		winner := exactlyOne(t, fmt.Sprintf("round %d: Update", round), results, stores.ErrConflict)
		if winner < 0 {
			return
		}
		rev = results[winner].rev
		wantGet(t, s, key, value(winner), rev)
	}
}

// result is one racer's outcome.
type result struct {
	rev uint64
	err error
}

// race runs fn in n goroutines released together and returns their results.
func race(n int, fn func(i int) result) []result {
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return results
}

// exactlyOne checks that exactly one result succeeded with a non-zero
// revision and that every other failed with loser, and returns the winner's
// index or -1.
func exactlyOne(t *testing.T, op string, results []result, loser error) int {
	t.Helper()
	var winners []int
	for i, r := range results {
		switch {
		case r.err == nil:
			winners = append(winners, i)
			if r.rev == 0 {
				t.Errorf("%s by racer %d = revision 0, want non-zero", op, i)
			}
		case !errors.Is(r.err, loser):
			t.Errorf("%s by racer %d = %v, want nil or %v", op, i, r.err, loser)
		}
	}
	if len(winners) != 1 {
		t.Errorf("%s: racers %v of %d succeeded, want exactly one", op, winners, len(results))
	}
	if t.Failed() {
		return -1
	}
	return winners[0]
}

func mustCreate(t *testing.T, s stores.Store, key string, value []byte) uint64 {
	t.Helper()
	rev, err := s.Create(t.Context(), key, value)
	if err != nil {
		t.Fatalf("Create(%q) = %v, want nil", key, err)
	}
	if rev == 0 {
		t.Fatalf("Create(%q) = revision 0, want non-zero", key)
	}
	return rev
}

func mustUpdate(t *testing.T, s stores.Store, key string, value []byte, rev uint64) uint64 {
	t.Helper()
	next, err := s.Update(t.Context(), key, value, rev)
	if err != nil {
		t.Fatalf("Update(%q, rev %d) = %v, want nil", key, rev, err)
	}
	if next == 0 {
		t.Fatalf("Update(%q, rev %d) = revision 0, want non-zero", key, rev)
	}
	return next
}

func mustGet(t *testing.T, s stores.Store, key string) stores.Entry {
	t.Helper()
	e, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", key, err)
	}
	return e
}

// wantGet checks that key holds value at revision rev.
func wantGet(t *testing.T, s stores.Store, key string, value []byte, rev uint64) {
	t.Helper()
	got := mustGet(t, s, key)
	want := stores.Entry{Key: key, Value: value, Revision: rev}
	if !equalEntry(got, want) {
		t.Errorf("Get(%q) = %s, want %s", key, fmtEntry(got), fmtEntry(want))
	}
}

func wantAbsent(t *testing.T, s stores.Store, key string) {
	t.Helper()
	if e, err := s.Get(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("Get(%q) = %s, %v, want ErrNotFound", key, fmtEntry(e), err)
	}
}

func wantConflict(t *testing.T, s stores.Store, key string, value []byte, rev uint64) {
	t.Helper()
	if got, err := s.Update(t.Context(), key, value, rev); !errors.Is(err, stores.ErrConflict) {
		t.Errorf("Update(%q, rev %d) = %d, %v, want ErrConflict", key, rev, got, err)
	}
}

func wantList(t *testing.T, s stores.Store, prefix string, want []stores.Entry) {
	t.Helper()
	got, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q) = %v, want nil", prefix, err)
	}
	if !equalEntries(got, want) {
		t.Errorf("List(%q) = %s, want %s", prefix, fmtEntries(got), fmtEntries(want))
	}
}

// equalEntry compares entries; a nil and an empty value are equal.
func equalEntry(a, b stores.Entry) bool {
	return a.Key == b.Key && a.Revision == b.Revision && bytes.Equal(a.Value, b.Value)
}

// equalEntries compares lists of entries with equalEntry.
func equalEntries(a, b []stores.Entry) bool { return slices.EqualFunc(a, b, equalEntry) }

// fmtEntry prints an entry, eliding the middle of a long value.
func fmtEntry(e stores.Entry) string {
	const most = 40
	if len(e.Value) > most {
		return fmt.Sprintf("{%q %q…%q (%d bytes) rev %d}", e.Key, e.Value[:most/2], e.Value[len(e.Value)-most/2:], len(e.Value), e.Revision)
	}
	return fmt.Sprintf("{%q %q rev %d}", e.Key, e.Value, e.Revision)
}

// fmtEntries prints at most a few entries of a long list.
func fmtEntries(list []stores.Entry) string {
	const most = 8
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d entries [", len(list))
	for i, e := range list {
		if i == most {
			fmt.Fprintf(&b, " …")
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(fmtEntry(e))
	}
	b.WriteString("]")
	return b.String()
}
