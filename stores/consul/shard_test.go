package consul

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func specStrings(specs []shardSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.prefix
		if s.exact {
			out[i] += "="
		}
	}
	return out
}

// checkPlan checks the properties every plan must have: sorted regions
// that do not overlap, each key in exactly one, at most maxShards.
func checkPlan(t *testing.T, prefix string, keys []string, specs []shardSpec, maxShards int) {
	t.Helper()
	if len(specs) == 0 || (len(specs) > maxShards && len(specs) > 1) {
		t.Fatalf("plan gave %d regions, want 1 to %d", len(specs), maxShards)
	}
	if !slices.IsSortedFunc(specs, func(a, b shardSpec) int { return strings.Compare(a.prefix, b.prefix) }) {
		t.Errorf("regions not sorted: %q", specStrings(specs))
	}
	for i, a := range specs {
		if !strings.HasPrefix(a.prefix, prefix) {
			t.Errorf("region %q is not under %q", a.prefix, prefix)
		}
		if !queryable(a.prefix, a.exact) && (len(specs) > 1 || a.prefix != prefix) {
			t.Errorf("region %q cannot be queried", a.prefix)
		}
		for _, b := range specs[i+1:] {
			if (!a.exact && strings.HasPrefix(b.prefix, a.prefix)) || (!b.exact && strings.HasPrefix(a.prefix, b.prefix)) {
				t.Errorf("regions %q and %q overlap", specStrings([]shardSpec{a})[0], specStrings([]shardSpec{b})[0])
			}
		}
	}
	c := newCoverage(specs)
	for _, k := range keys {
		n := 0
		for _, s := range specs {
			if s.covers(k) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("key %q lies in %d regions of %q, want 1", k, n, specStrings(specs))
		}
		if c.covered([]byte(k)) != (n == 1) {
			t.Errorf("coverage.covered(%q) = %v, want %v", k, !(n == 1), n == 1)
		}
	}
}

// fleet returns the benchmark's keys: folds of 100 under exports/bulk/.
func fleet(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("exports/bulk/fold-%03d/export-%06d", i/100, i)
	}
	return keys
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prefix     string
		keys       []string
		max, keys1 int
		want       []string // nil: only the properties
	}{
		{"small", "exports/", fleet(1000), 100, 1000, []string{"exports/"}},
		{"one-shard-allowed", "exports/", fleet(5000), 1, 1000, []string{"exports/"}},
		{"fleet-10k", "exports/", fleet(10_000), 100, 1000, []string{
			"exports/bulk/fold-00", "exports/bulk/fold-01", "exports/bulk/fold-02", "exports/bulk/fold-03", "exports/bulk/fold-04",
			"exports/bulk/fold-05", "exports/bulk/fold-06", "exports/bulk/fold-07", "exports/bulk/fold-08", "exports/bulk/fold-09"}},
		{"exact-key", "a", []string{"a/", "a/1", "a/2", "a/3"}, 10, 1, []string{"a/=", "a/1", "a/2", "a/3"}},
		{"dot-segment", "p/", []string{"p/.", "p/.x", "p/a", "p/b"}, 10, 1, []string{"p/"}},
		{"dot-dot", "p/", []string{"p/a", "p/b/..", "p/b/..x", "p/b/.y"}, 10, 1, []string{"p/a", "p/b"}},
		{"double-slash", "p/", []string{"p//a", "p//b", "p/c"}, 10, 1, []string{"p/"}},
		{"runes", "", []string{"é1", "é2", "ê1"}, 10, 1, []string{"é1", "é2", "ê"}},
		{"empty-prefix", "", []string{"a", "b/1", "b/2", "c"}, 3, 1, []string{"a", "b", "c"}},
		{"empty-prefix-split", "", []string{"a", "b/1", "b/2", "c"}, 4, 1, []string{"a", "b/1", "b/2", "c"}},
		{"budget", "", []string{"a1", "a2", "b1", "b2"}, 3, 1, []string{"a1", "a2", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs := plan(tc.prefix, tc.keys, tc.max, tc.keys1)
			checkPlan(t, tc.prefix, tc.keys, specs, tc.max)
			if tc.want != nil && !slices.Equal(specStrings(specs), tc.want) {
				t.Errorf("plan = %q, want %q", specStrings(specs), tc.want)
			}
		})
	}
}

// TestPlanFleet checks the plan of issue 9's benchmark, 100,000 keys in
// 1,000 folds of 100: the ten regions fold-0…fold-9 of 10,000 keys, as
// many of them split in ten regions of 1,000 as the budget allows
// (4 × 10 + 6 = 46 within 48).
func TestPlanFleet(t *testing.T) {
	keys := fleet(100_000)
	specs := plan("exports/", keys, DefaultWatchShards, shardKeys)
	checkPlan(t, "exports/", keys, specs, DefaultWatchShards)
	split := (DefaultWatchShards - 10) / 9
	if want := split*10 + 10 - split; len(specs) != want || specs[0].prefix != "exports/bulk/fold-00" {
		t.Errorf("plan = %d regions from %q, want %d from exports/bulk/fold-00", len(specs), specs[0].prefix, want)
	}
}

func TestPlanRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	alphabet := []string{"a", "b", "/", ".", "é", "z"}
	for i := range 300 {
		prefix := []string{"", "a", "a/"}[i%3]
		set := map[string]bool{}
		for range 1 + rnd.IntN(200) {
			k := prefix
			for range rnd.IntN(8) {
				k += alphabet[rnd.IntN(len(alphabet))]
			}
			set[k] = true
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range set {
				if !yield(k) {
					return
				}
			}
		})
		maxShards, target := 1+rnd.IntN(20), 1+rnd.IntN(10)
		specs := plan(prefix, keys, maxShards, target)
		checkPlan(t, prefix, keys, specs, maxShards)

		// Keys that appear later, outside every region, get a region that
		// holds them and overlaps none.
		for range 20 {
			k := prefix
			for range 1 + rnd.IntN(8) {
				k += alphabet[rnd.IntN(len(alphabet))]
			}
			if newCoverage(specs).covered([]byte(k)) {
				continue
			}
			sp, ok := region(specs, prefix, k)
			if !ok {
				if queryable(k, true) {
					t.Errorf("region(%q, %q) found none, but the key itself can be queried", specStrings(specs), k)
				}
				continue
			}
			if !sp.covers(k) {
				t.Errorf("region(%q) = %q does not hold it", k, sp.prefix)
			}
			for _, o := range specs {
				if (!sp.exact && strings.HasPrefix(o.prefix, sp.prefix)) || (!o.exact && strings.HasPrefix(sp.prefix, o.prefix)) {
					t.Errorf("region(%q) = %q overlaps %q", k, sp.prefix, o.prefix)
				}
			}
			j, _ := slices.BinarySearchFunc(specs, sp.prefix, func(s shardSpec, p string) int { return strings.Compare(s.prefix, p) })
			specs = slices.Insert(slices.Clone(specs), j, sp)
		}
	}
}
