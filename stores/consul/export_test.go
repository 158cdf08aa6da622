package consul

import "time"

// Test hooks: the tests shard prefixes of a handful of keys, and see how.

// WithShardKeys sets the shard size a watch aims at (shardKeys).
func WithShardKeys(n int) Option {
	return func(s *Store) error { s.shardKeys = n; return nil }
}

// WithGuardGap sets the least time between two answers of a sharded
// watch's guard query (guardGap).
func WithGuardGap(d time.Duration) Option {
	return func(s *Store) error { s.guardGap = d; return nil }
}

// WithPlanHook calls f with the regions of each plan of a sharded watch:
// prefixes, exact keys marked with a trailing "=".
func WithPlanHook(f func(regions []string)) Option {
	return func(s *Store) error {
		s.onPlan = func(specs []shardSpec) {
			regions := make([]string, len(specs))
			for i, sp := range specs {
				regions[i] = sp.prefix
				if sp.exact {
					regions[i] += "="
				}
			}
			f(regions)
		}
		return nil
	}
}
