package tui

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// syncLeases is how many keys BenchmarkSync's snapshot holds.
const syncLeases = 100_000

// syncEntries returns n entries in key order, a mix of states as the
// benchmark tool seeds them (bench/scale): keys exports/bulk/fold-NNN/…,
// values of about 200 bytes, a tenth expired, a twentieth corrupt and a
// twentieth tombstones.
func syncEntries(n int) []stores.Entry {
	pad := fmt.Sprintf("%0120d", 0)
	out := make([]stores.Entry, n)
	for i := range out {
		var v []byte
		switch {
		case i%20 == 3:
			v = []byte{}
		case i%20 == 7:
			v = []byte(`{"holder_id":1}`)
		case i%10 == 5:
			v = lease.Record{HolderID: fmt.Sprintf("node-%02d-%s", i%37, pad[:100]), AcquiredAtUnix: now0 - 600, ExpiresAtUnix: now0 - 30}.Encode()
		default:
			v = lease.Record{HolderID: fmt.Sprintf("node-%02d-%s", i%37, pad[:100]), AcquiredAtUnix: now0 - 60, ExpiresAtUnix: now0 + 7200}.Encode()
		}
		out[i] = stores.Entry{Key: fmt.Sprintf("exports/bulk/fold-%03d/export-%06d", i/100, i), Value: v, Revision: uint64(i + 1)}
	}
	return out
}

// BenchmarkSync feeds a watch snapshot of syncLeases keys and EventSynced
// through the console as the Bubble Tea runtime does — nextEventsCmd, then
// Update, then View for every message — from a driver that sends on an
// unbuffered channel (Consul's, before issue 9) and on a 64-event buffer
// (etcd's and NATS's). It reports the messages per 1,000 events (each
// message costs an Update and a full View), the time per event, and the
// heap the console holds per row once live, beyond the entries themselves
// (their keys and values, which the benchmark holds as well). A
// batch that took only what was already queued came to ~770 messages per
// 1,000 events on the unbuffered channel.
func BenchmarkSync(b *testing.B) {
	entries := syncEntries(syncLeases)
	for _, buf := range []int{0, 64} {
		b.Run(fmt.Sprintf("buffer=%d", buf), func(b *testing.B) {
			msgs, events := 0, 0
			var tUpdate, tView time.Duration
			var held uint64
			b.ReportAllocs()
			for b.Loop() {
				before := heapInUse()
				m := syncConsole(b)
				ch := make(chan stores.Event, buf)
				go func() {
					for _, e := range entries {
						ch <- stores.Event{Kind: stores.EventPut, Entry: e}
					}
					ch <- stores.Event{Kind: stores.EventSynced}
				}()
				for m.byName["prod"].conn != connLive {
					msg := nextEventsCmd(ch, "prod", 1)().(eventsMsg)
					msgs++
					events += len(msg.events)
					t0 := time.Now()
					next, _ := m.Update(msg)
					m = next.(Model)
					t1 := time.Now()
					_ = m.View()
					tView += time.Since(t1)
					tUpdate += t1.Sub(t0)
				}
				if got := m.rows.len(); got != syncLeases {
					b.Fatalf("live with %d rows, want %d", got, syncLeases)
				}
				held = heapInUse() - before
				runtime.KeepAlive(m)
			}
			b.ReportMetric(1000*float64(msgs)/float64(events), "msgs/1000ev")
			b.ReportMetric(float64(tUpdate.Nanoseconds())/float64(events), "update-ns/ev")
			b.ReportMetric(float64(tView.Nanoseconds())/float64(events), "view-ns/ev")
			b.ReportMetric(float64(held)/syncLeases, "held-B/row")
		})
	}
}

// heapInUse returns the bytes of the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// syncConsole returns a console, 120×35, watching one store called prod
// whose snapshot has not begun.
func syncConsole(b *testing.B) Model {
	b.Helper()
	st := memory.New()
	b.Cleanup(func() { st.Close() })
	m := New(Options{Sources: []Source{newRig(b, nil).source("prod", listOnly{st})}, Now: func() time.Time { return t0 }})
	m.tick = 0
	next, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
	m = next.(Model)
	s := m.byName["prod"]
	s.conn, s.watching, s.watchGen = connSyncing, true, 1
	return m
}

// BenchmarkSteadyState is the console's steady state in process: 100,000
// leases, one watch event a message to a random key (a lease rewritten by
// its holder), the clock 10 ms further each time — 100 writes a second —
// and Update and View for each, as the runtime does. It reports the cost
// of a message and what 100 of them a second take of a core (the issue's
// goal is under 10% for the whole process, the driver included). Once a
// second the countdowns on screen change and the visible rows are
// rendered again; in between a frame is put together from what was
// rendered.
func BenchmarkSteadyState(b *testing.B) {
	m := benchConsole(b, 100_000)
	clk := &clock{now: t0}
	m.clock = clk.Now
	s := m.byName["prod"]
	s.watching, s.watchGen, s.synced = true, 1, true
	rng := rand.New(rand.NewPCG(9, 9))
	rev := uint64(1 << 20)
	msgs := 0
	start := time.Now()
	for b.Loop() {
		clk.Add(10 * time.Millisecond)
		rev++
		i := rng.IntN(100_000)
		u := lease.UnixSeconds(clk.Now())
		ev := put(fmt.Sprintf("exports/region-%d/job-%07d", i%7, i), record(fmt.Sprintf("node-%d", i%17), u, u+300), rev)
		next, _ := m.Update(eventsMsg{store: "prod", watchGen: 1, events: []stores.Event{ev}})
		m = next.(Model)
		_ = m.View()
		msgs++
	}
	perMsg := float64(time.Since(start).Nanoseconds()) / float64(msgs)
	b.ReportMetric(perMsg, "ns/msg")
	b.ReportMetric(perMsg*100/1e9*100, "%core@100msg/s")
}
