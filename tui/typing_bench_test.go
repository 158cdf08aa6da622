package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/stores/memory"
)

// typingKeys is how many key events BenchmarkTyping feeds the dialog:
// far past the field's 256-character cap, as a terminal sends a long paste
// typed out key by key.
const typingKeys = 5000

// typingConsole returns a console over n leases with the takeover dialog
// open on the selected one and its reason field focused.
func typingConsole(b *testing.B, n int) Model {
	b.Helper()
	m := benchConsole(b, n)
	st := memory.New()
	b.Cleanup(func() { st.Close() })
	m.byName["prod"].backend = newRig(b, nil).backend("prod", st)
	m.syncKeys()
	for _, k := range []tea.KeyPressMsg{keyPress("T"), keyPress("tab")} {
		next, _ := m.Update(k)
		m = next.(Model)
	}
	if !m.screen.dialog() || m.dialog.fields[m.dialog.focus].name != fieldReason {
		b.Fatalf("the takeover dialog is not open on its reason field")
	}
	return m
}

// BenchmarkTyping feeds typingKeys key events, one at a time, through
// Update and View — what the Bubble Tea runtime does for each event — into
// the reason field of an open takeover dialog over 10,000 leases, and
// reports the cost of one key against the baseline of the same run: one
// Update and View of the idle table (a tick) over the same leases. A ratio
// near 1 means a typed key costs no more than an idle frame; it should be
// well below, and keys past the field's 256-character cap (ns/key-past-cap)
// should cost next to nothing.
func BenchmarkTyping(b *testing.B) {
	idle := benchConsole(b, 10_000)
	var tIdle, tType, tFull time.Duration
	keys, frames := 0, 0
	for b.Loop() {
		m := typingConsole(b, 10_000)
		limit := m.dialog.fields[m.dialog.focus].input.CharLimit
		start := time.Now()
		var full time.Time
		for i := range typingKeys {
			if i == limit {
				full = time.Now()
			}
			r := rune('a' + i%26)
			next, _ := m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
			m = next.(Model)
			_ = m.View()
		}
		tType += time.Since(start)
		tFull += time.Since(full)
		keys += typingKeys
		if got := len(m.dialog.fields[m.dialog.focus].input.Value()); got != 256 {
			b.Fatalf("the reason field holds %d characters, want the cap of 256", got)
		}
		start = time.Now()
		for range typingKeys / 10 {
			next, _ := idle.Update(tickMsg{})
			idle = next.(Model)
			_ = idle.View()
		}
		tIdle += time.Since(start)
		frames += typingKeys / 10
	}
	perKey := float64(tType.Nanoseconds()) / float64(keys)
	perIdle := float64(tIdle.Nanoseconds()) / float64(frames)
	b.ReportMetric(perKey, "ns/key")
	b.ReportMetric(float64(tFull.Nanoseconds())/float64(keys-keys/typingKeys*256), "ns/key-past-cap")
	b.ReportMetric(perIdle, "ns/idle-frame")
	b.ReportMetric(1e9/perKey, "keys/s")
	b.ReportMetric(perKey/perIdle, "ratio")
}

// BenchmarkFilterTyping types a filter key by key over 100,000 leases,
// through Update and View, and reports the cost of one key against an idle
// Update and View of the same table: a filter that only grows narrows the
// rows it already matched instead of filtering and sorting every lease
// again.
func BenchmarkFilterTyping(b *testing.B) {
	const text = "region-3 job-00"
	idle := benchConsole(b, 100_000)
	var tIdle, tType time.Duration
	keys, frames := 0, 0
	for b.Loop() {
		m := benchConsole(b, 100_000)
		next, _ := m.Update(keyPress("/"))
		m = next.(Model)
		start := time.Now()
		for _, r := range text {
			next, _ := m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
			m = next.(Model)
			_ = m.View()
		}
		tType += time.Since(start)
		keys += len(text)
		if m.table.filter != text {
			b.Fatalf("filter = %q, want %q", m.table.filter, text)
		}
		start = time.Now()
		for range len(text) {
			next, _ := idle.Update(tickMsg{})
			idle = next.(Model)
			_ = idle.View()
		}
		tIdle += time.Since(start)
		frames += len(text)
	}
	perKey := float64(tType.Nanoseconds()) / float64(keys)
	b.ReportMetric(perKey, "ns/key")
	b.ReportMetric(perKey/(float64(tIdle.Nanoseconds())/float64(frames)), "ratio")
}
