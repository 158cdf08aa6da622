package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// TestIndexFollowsChanges applies random changes to a row set, in batches
// of one to a few (a key may change twice in one), and checks after each
// batch that the table's index updated in place equals the index rebuilt
// from scratch, for every sort, order and a few filters.
func TestIndexFollowsChanges(t *testing.T) {
	s := NewStyles(true)
	for _, sortBy := range sortCycle {
		for _, desc := range []bool{false, true} {
			for _, filter := range []string{"", "held", "node-1", "s2 expired"} {
				t.Run(fmt.Sprintf("%s/desc=%v/%q", sortBy.name(), desc, filter), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(sortBy), 7))
					rs := newRowSet(lease.DefaultThresholds())
					tb := newTable(&s, DefaultKeyMap(), lease.DefaultThresholds())
					tb.sortBy, tb.desc, tb.filter = sortBy, desc, filter
					tb.SetSize(120, 10)
					now := t0
					rev := uint64(0)
					selected, hadSel := tb.Selected()
					for step := range 400 {
						store := fmt.Sprintf("s%d", 1+rng.IntN(2))
						key := fmt.Sprintf("k%02d", rng.IntN(30))
						var what string
						switch n := rng.IntN(20); {
						case n < 12:
							rev++
							u := lease.UnixSeconds(now)
							var v []byte
							switch rng.IntN(4) {
							case 0:
								v = record(fmt.Sprintf("node-%d", rng.IntN(3)), u-10, u+uint64(1+rng.IntN(30)))
							case 1:
								v = record("node-x", u-100, u-1)
							case 2:
								v = []byte{}
							case 3:
								v = []byte("{")
							}
							rs.put(store, stores.Entry{Key: key, Value: v, Revision: rev}, now, true)
							what = "put " + store + "/" + key
						case n < 17:
							rs.del(store, key, 0)
							what = "delete " + store + "/" + key
						case n < 19:
							now = now.Add(time.Duration(1+rng.IntN(20)) * time.Second)
							rs.tick(now)
							what = "tick"
						default:
							rs.dropStore(store)
							what = "reset " + store
						}
						if rng.IntN(3) != 0 && step < 399 {
							continue // the batch goes on
						}
						tb.refresh(rs)

						fresh := newTable(&s, DefaultKeyMap(), lease.DefaultThresholds())
						fresh.sortBy, fresh.desc, fresh.filter = sortBy, desc, filter
						fresh.rebuild(rs)
						if !slices.Equal(tb.index, fresh.index) {
							t.Fatalf("step %d (%s): index updated in place\n%v\nwant rebuilt\n%v", step, what, keysOf(tb.index), keysOf(fresh.index))
						}
						if hadSel {
							if r, ok := rs.get(selected.store, selected.entry.Key); ok && matches(r, splitTerms(filter)) {
								if got, _ := tb.Selected(); got != r {
									t.Fatalf("step %d (%s): selection moved from %s/%s to %v", step, what, selected.store, selected.entry.Key, got.id())
								}
							}
						}
						if rng.IntN(2) == 0 {
							tb.cursor = rng.IntN(len(tb.index) + 1)
							tb.clamp()
						}
						selected, hadSel = tb.Selected()
					}
				})
			}
		}
	}
}

func keysOf(rows []*row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s/%s@%d:%v", r.store, r.entry.Key, r.entry.Revision, r.status.State)
	}
	return out
}

// TestTickKeepsClassification moves the clock second by second, forward and
// back, and checks after each tick that every row's classification is what
// lease.Classify says at that clock: rows are classified again only when a
// moment that may change them passes (an expiry, a skew running out), so
// this checks those moments are the right ones.
func TestTickKeepsClassification(t *testing.T) {
	th := lease.DefaultThresholds()
	tol := uint64(th.SkewTolerance / time.Second)
	values := map[string][]byte{
		"held":          record("a", now0-10, now0+5),
		"held-long":     record("a", now0-10, now0+40),
		"expired":       record("a", now0-100, now0-1),
		"future":        record("a", now0+tol+3, now0+tol+50), // skewed for 3 s
		"future-short":  record("a", now0+tol+2, now0+tol+4),  // skewed, then expires
		"future-bad":    record("a", now0+tol+8, now0+tol+1),  // skewed for good: expires before acquired
		"overlong":      record("a", now0-10, now0+uint64(th.MaxPeriod/time.Second)+60),
		"completed":     lease.Record{HolderID: "a", AcquiredAtUnix: now0 - 5, ExpiresAtUnix: now0 + 7, CompletedCursorHex: "2a"}.Encode(),
		"tombstone":     {},
		"corrupt":       []byte("{"),
		"acquired-zero": record("a", 0, now0+6),
	}
	rs := newRowSet(th)
	rev := uint64(0)
	for k, v := range values {
		rev++
		rs.put("s", stores.Entry{Key: k, Value: v, Revision: rev}, t0, false)
	}
	rs.tick(t0)
	now := t0
	check := func(what string) {
		t.Helper()
		for k, r := range rs.rows {
			want := lease.Classify(r.entry.Value, now, th)
			if r.status.State != want.State || r.status.Flags != want.Flags {
				t.Errorf("%s, clock t0%+ds: %s is %v %v, want %v %v", what, now.Unix()-t0.Unix(), k.key, r.status.State, r.status.Flags, want.State, want.Flags)
			}
		}
	}
	check("start")
	for _, step := range []int{1, 1, 1, 1, 1, 1, 3, 1, 30, -50, 1, 2, 40, -1, 1} {
		now = now.Add(time.Duration(step) * time.Second)
		rs.tick(now)
		check(fmt.Sprintf("after %+ds", step))
	}
}
