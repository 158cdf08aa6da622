package tui

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// benchConsole returns a console showing n leases of mixed states, sized
// 120×40, with the index built.
func benchConsole(b *testing.B, n int) Model {
	b.Helper()
	st := memory.New()
	b.Cleanup(func() { st.Close() })
	m := New(Options{Sources: []Source{newRig(b, nil).source("prod", listOnly{st})}, Now: func() time.Time { return t0 }})
	m.tick = 0
	entries := make([]stores.Entry, n)
	for i := range entries {
		var v []byte
		switch i % 5 {
		case 0:
			v = record(fmt.Sprintf("node-%d", i%17), now0-60, now0+240)
		case 1:
			v = record(fmt.Sprintf("node-%d", i%17), now0-600, now0-30)
		case 2:
			v = lease.Record{HolderID: "node-c", AcquiredAtUnix: now0 - 60, ExpiresAtUnix: now0 + 240, CompletedCursorHex: "00000000000000ff", CompletedAtUnix: ptr(now0 - 10)}.Encode()
		case 3:
			v = []byte{}
		case 4:
			v = []byte(`{"holder_id":1}`)
		}
		entries[i] = stores.Entry{Key: fmt.Sprintf("exports/region-%d/job-%07d", i%7, i), Value: v, Revision: uint64(i + 1)}
	}
	next, _ := m.Update(listedMsg{store: "prod", gen: 1, entries: entries})
	next, _ = next.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m = next.(Model)
	if got := len(m.table.index); got != n {
		b.Fatalf("the table shows %d rows, want %d", got, n)
	}
	// Scroll to the middle, so that the visible window is not the start.
	m.table.cursor = n / 2
	m.table.clamp()
	return m
}

// BenchmarkView renders one frame of the main view with 100 and with
// 100,000 leases: only the visible rows are rendered, so both cost about
// the same. BenchmarkViewRatio reports the ratio.
func BenchmarkView(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("leases=%d", n), func(b *testing.B) {
			m := benchConsole(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkViewRatio renders a frame with 100 and a frame with 100,000
// leases in turn, timing each, and reports the ratio of their costs in the
// same run (near 1 when a frame does not depend on the number of leases).
// Interleaving the two keeps drift in the machine's speed out of the ratio.
// (testing.Benchmark cannot be nested in a benchmark: it would deadlock.)
func BenchmarkViewRatio(b *testing.B) {
	small, large := benchConsole(b, 100), benchConsole(b, 100_000)
	var tSmall, tLarge time.Duration
	frames := 0
	for b.Loop() {
		start := time.Now()
		_ = small.View()
		mid := time.Now()
		_ = large.View()
		tLarge += time.Since(mid)
		tSmall += mid.Sub(start)
		frames++
	}
	b.ReportMetric(float64(tSmall.Nanoseconds())/float64(frames), "ns/frame@100")
	b.ReportMetric(float64(tLarge.Nanoseconds())/float64(frames), "ns/frame@100k")
	b.ReportMetric(float64(tLarge)/float64(tSmall), "ratio")
}

// BenchmarkUpdateEvents applies a batch of watch events to a console of
// 100,000 leases: the cost of a change (one index rebuild per batch), for
// comparison with a frame.
func BenchmarkUpdateEvents(b *testing.B) {
	m := benchConsole(b, 100_000)
	s := m.byName["prod"]
	s.watching, s.watchGen, s.synced = true, 1, true
	rev := uint64(1 << 20)
	for b.Loop() {
		rev++
		msg := eventsMsg{store: "prod", watchGen: 1, events: []stores.Event{put("exports/region-0/job-0000000", record("node-z", now0, now0+60), rev)}}
		next, _ := m.Update(msg)
		m = next.(Model)
	}
}
