package cli

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// BenchmarkOutput10k measures what ls does per lease besides the store
// listing: classification, then JSON or table output.
func BenchmarkOutput10k(b *testing.B) {
	now := time.Now()
	n := uint64(now.Unix())
	obs := make([]lease.Observation, 10000)
	for i := range obs {
		v := lease.Record{HolderID: fmt.Sprintf("node-%d", i%7), AcquiredAtUnix: n - 100, ExpiresAtUnix: n + 200}.Encode()
		obs[i] = lease.Observe("s", stores.Entry{Key: fmt.Sprintf("exports/fold-%05d", i), Value: v, Revision: uint64(i + 1)}, true, now, lease.DefaultThresholds())
	}
	b.Run("classify", func(b *testing.B) {
		for b.Loop() {
			for _, o := range obs {
				lease.Classify(o.Entry.Value, now, lease.DefaultThresholds())
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			views := make([]leaseJSON, len(obs))
			for i, o := range obs {
				views[i] = observationJSON(o, false)
			}
			writeJSON(io.Discard, views)
		}
	})
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			writeTable(io.Discard, obs, now, 0)
		}
	})
	b.Run("table-terminal", func(b *testing.B) {
		for b.Loop() {
			writeTable(io.Discard, obs, now, 80)
		}
	})
}
