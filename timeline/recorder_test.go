package timeline

import (
	"fmt"
	"sync"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

func entry(key string, rev uint64) stores.Entry {
	return stores.Entry{Key: key, Value: []byte(fmt.Sprint(rev)), Revision: rev}
}

func revs(cs []Change) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.Entry.Revision)
	}
	return out
}

func TestRecorderRing(t *testing.T) {
	r := NewRecorder(3, 10)
	r.Observe(entry("k", 2), at(2), entry("k", 1), true)
	if got := r.Changes("k"); fmt.Sprint(revs(got)) != "[1 2]" || !got[0].At.IsZero() || !got[1].At.Equal(at(2)) || got[1].Source != FromObserved {
		t.Errorf("Changes = %v, want the row before (time unknown) and the change seen at t0+2s", got)
	}
	for rev := uint64(3); rev <= 6; rev++ {
		r.Observe(entry("k", rev), at(int(rev)), entry("k", rev-1), true)
	}
	r.Observe(entry("k", 5), at(9), entry("k", 6), true) // a repeat after a reset
	if got := revs(r.Changes("k")); fmt.Sprint(got) != "[4 5 6]" {
		t.Errorf("Changes = %v, want the last three, oldest first", got)
	}
	if got := r.Changes("other"); got != nil {
		t.Errorf("Changes(other) = %v, want nothing", got)
	}
}

func TestRecorderEvictsTheQuietestKey(t *testing.T) {
	r := NewRecorder(2, 2)
	r.Observe(entry("a", 1), at(1), stores.Entry{}, false)
	r.Observe(entry("b", 2), at(2), stores.Entry{}, false)
	r.Observe(entry("a", 3), at(3), entry("a", 1), true) // a is now the most recent
	r.Observe(entry("c", 4), at(4), stores.Entry{}, false)
	if r.Keys() != 2 || r.Changes("b") != nil || len(r.Changes("a")) != 2 || len(r.Changes("c")) != 1 {
		t.Errorf("keys %d, a %v, b %v, c %v; want b evicted", r.Keys(), revs(r.Changes("a")), revs(r.Changes("b")), revs(r.Changes("c")))
	}
}

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder(4, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			key := fmt.Sprint("k", g%3)
			for rev := uint64(1); rev <= 50; rev++ {
				r.Observe(entry(key, rev*10+uint64(g)), at(int(rev)), stores.Entry{}, false)
				r.Changes(key)
			}
		})
	}
	wg.Wait()
	for k := range 3 {
		got := revs(r.Changes(fmt.Sprint("k", k)))
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Errorf("Changes(k%d) = %v, not ascending", k, got)
			}
		}
	}
}

// BenchmarkRecorderObserve records changes of keys drawn from 100,000, as
// a console's watch over a busy fleet delivers them: the cost the console
// adds to each change to keep timelines of stores without history.
func BenchmarkRecorderObserve(b *testing.B) {
	r := NewRecorder(0, 0)
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("exports/region-%d/job-%07d", i%7, i)
	}
	value := []byte(`{"holder_id":"node-1","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`)
	rev := uint64(0)
	for b.Loop() {
		rev++
		k := keys[(rev*7919)%uint64(len(keys))]
		r.Observe(stores.Entry{Key: k, Value: value, Revision: rev}, t0, stores.Entry{Key: k, Value: value, Revision: rev - 1}, true)
	}
}
