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

// TestIndexFollowsChanges applies random changes to a row set and checks,
// after each, that the table's index updated in place equals the index
// rebuilt from scratch, for every sort, order and a few filters.
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
						if step%5 == 0 {
							tb.cursor = rng.IntN(len(tb.index) + 1)
							tb.clamp()
						}
						selected, hadSel := tb.Selected()
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
