package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// outputLeases is the fleet size: 100,000 leases in one store.
const outputLeases = 100_000

// benchFleet returns n leases shaped like bench/scale's: keys
// exports/bulk/fold-NNN/export-NNNNNN, a tenth expired, a twentieth corrupt,
// a twentieth tombstones, the rest held; values padded to about 200 bytes
// with a completion cursor on some.
func benchFleet(n int, now time.Time) []stores.Entry {
	sec := uint64(now.Unix())
	entries := make([]stores.Entry, n)
	for i := range entries {
		var v []byte
		switch {
		case i%20 == 7:
			v = []byte{}
		case i%20 == 13:
			v = []byte(`{"holder_id":"node-x","acquired_at_unix":"soon","expires_at_unix":1}`)
		case i%10 == 3:
			v = lease.Record{HolderID: fmt.Sprintf("node-%03d.fleet.example", i%97), AcquiredAtUnix: sec - 7200, ExpiresAtUnix: sec - 3600}.Encode()
		default:
			at := sec - 30
			v = lease.Record{HolderID: fmt.Sprintf("node-%03d.fleet.example", i%97), AcquiredAtUnix: sec - 60, ExpiresAtUnix: sec + 7200 + uint64(i%3600),
				CompletedCursorHex: fmt.Sprintf("%064x", i), CompletedAtUnix: &at}.Encode()
		}
		entries[i] = stores.Entry{Key: fmt.Sprintf("exports/bulk/fold-%03d/export-%06d", i/100, i), Value: v, Revision: uint64(1000 + i)}
	}
	return entries
}

// perLease starts counting the bytes allocated; the function it returns,
// called after the loop, reports the time and the bytes per lease of one op
// over n leases.
func perLease(b *testing.B, n int) func() {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	return func() {
		runtime.ReadMemStats(&ms)
		ops := float64(b.N) * float64(n)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops, "ns/lease")
		b.ReportMetric(float64(ms.TotalAlloc-before)/ops, "B/lease")
	}
}

// BenchmarkOutput100k measures what ls does per lease besides the store
// listing, over 100,000 leases: classification, then -o json (the streamed
// hand-written encoder, and the reflection encoder it replaced as the
// baseline of the same run) or -o table, into a pipe and a terminal. Each
// sub-benchmark reports ns/lease and B/lease (allocated).
func BenchmarkOutput100k(b *testing.B) {
	now := time.Now()
	entries := benchFleet(outputLeases, now)
	th := lease.DefaultThresholds()
	obs := make([]lease.Observation, len(entries))
	for i, e := range entries {
		obs[i] = lease.Observe("s", e, true, now, th)
	}
	b.Run("classify", func(b *testing.B) {
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			for _, e := range entries {
				lease.Observe("s", e, true, now, th)
			}
		}
		report()
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			if err := writeListJSON(io.Discard, obs); err != nil {
				b.Fatal(err)
			}
		}
		report()
	})
	b.Run("json-reflect", func(b *testing.B) {
		// The encoder before issue 9, for the ratio: the document built
		// whole by json.MarshalIndent, then safetext.JSON.
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			views := make([]leaseJSON, len(obs))
			for i, o := range obs {
				views[i] = observationJSON(o, false)
			}
			doc, err := json.MarshalIndent(views, "", "  ")
			if err != nil {
				b.Fatal(err)
			}
			io.Discard.Write(append(safetext.JSON(doc), '\n'))
		}
		report()
	})
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			if err := writeTable(io.Discard, obs, now, 0); err != nil {
				b.Fatal(err)
			}
		}
		report()
	})
	b.Run("table-terminal", func(b *testing.B) {
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			if err := writeTable(io.Discard, obs, now, 80); err != nil {
				b.Fatal(err)
			}
		}
		report()
	})
}

// BenchmarkListPath100k runs ls's path in-process over 100,000 leases in a
// memory store, from the store's listing to the bytes written (printLeases,
// stores.Scan, classification, output); native is the memory store's List
// alone, for the ratio. The dial and the process are left out: e2e's
// BenchmarkLs10k and bench/scale measure those.
func BenchmarkListPath100k(b *testing.B) {
	now := time.Now()
	m := memory.New()
	for _, e := range benchFleet(outputLeases, now) {
		if _, err := m.Create(context.Background(), e.Key, e.Value); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		report := perLease(b, outputLeases)
		for b.Loop() {
			if l, err := m.List(ctx, "exports/"); err != nil || len(l) != outputLeases {
				b.Fatalf("List = %d, %v", len(l), err)
			}
		}
		report()
	})
	env := Env{Stdout: io.Discard, Width: func() int { return 0 }}
	for _, format := range []string{formatJSON, formatTable} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			report := perLease(b, outputLeases)
			for b.Loop() {
				err := printLeases(ctx, env, format, now, []string{"s"}, leaseFilter{}, func(ctx context.Context, _ int, sink leaseSink) error {
					return scanStore(ctx, m, "s", "exports/", sink)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			report()
		})
	}
}
