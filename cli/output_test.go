package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

// tableBulk is the count: 100,000 keys that differ only at the end.
const tableBulk = 100_000

func bulkObservations(now time.Time) []lease.Observation {
	n := uint64(now.Unix())
	v := lease.Record{HolderID: "node-with-a-rather-long-holder-name-7", AcquiredAtUnix: n - 60, ExpiresAtUnix: n + 3600}.Encode()
	obs := make([]lease.Observation, tableBulk)
	th := lease.DefaultThresholds()
	for i := range obs {
		obs[i] = lease.Observe("prod-exports", stores.Entry{Key: bulkKey(i), Value: v, Revision: uint64(i + 1)}, true, now, th)
	}
	return obs
}

// keyCells returns the second field of every row (the KEY column; no cell
// before it has a space).
func keyCells(table string) (rows int, cells map[string]bool) {
	cells = map[string]bool{}
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	for _, l := range lines[1:] {
		if fs := strings.Fields(l); len(fs) > 1 {
			cells[fs[1]] = true
		}
	}
	return len(lines) - 1, cells
}

func TestTableBulk(t *testing.T) {
	now := time.Now()
	obs := bulkObservations(now)

	t.Run("pipe", func(t *testing.T) {
		var out bytes.Buffer
		if err := writeTable(&out, obs, now, 0); err != nil {
			t.Fatal(err)
		}
		rows, cells := keyCells(out.String())
		whole := 0
		for i := range tableBulk {
			if cells[bulkKey(i)] {
				whole++
			}
		}
		if rows != tableBulk || len(cells) != tableBulk || whole != tableBulk {
			t.Errorf("into a pipe: %d rows, %d distinct key cells, %d keys whole; want %d, every key whole", rows, len(cells), whole, tableBulk)
		}
	})
	// The 80 columns with all 100,000 keys; other widths with the
	// first few thousand (the arithmetic does not depend on the count).
	for _, width := range []int{80, 60, 120, 200, 40, 20} {
		t.Run(fmt.Sprintf("terminal-%d", width), func(t *testing.T) {
			obs, want := obs, tableBulk
			if width != 80 {
				obs, want = obs[:3000], 3000
			}
			var out bytes.Buffer
			if err := writeTable(&out, obs, now, width); err != nil {
				t.Fatal(err)
			}
			over := 0
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				if w := safetext.Width(l); w > width {
					if over++; over < 3 {
						t.Errorf("a line is %d cells wide, want at most %d: %q", w, width, l)
					}
				}
			}
			if width < 60 {
				return // too narrow for every column: lines are cut, not promised distinct
			}
			rows, cells := keyCells(out.String())
			if rows != want || len(cells) != want {
				t.Errorf("at %d columns: %d rows, %d distinct key cells; want %d distinct", width, rows, len(cells), want)
			}
			for c := range cells {
				if !strings.Contains(c, "/export-") && !strings.Contains(c, "…") {
					t.Errorf("at %d columns the key cell %q lost its last segment", width, c)
					break
				}
			}
			t.Logf("at %d columns: %q", width, strings.SplitN(out.String(), "\n", 3)[1])
		})
	}
}

func TestElideKey(t *testing.T) {
	tests := []struct {
		key   string
		width int
		want  string
	}{
		{"exports/orders", 20, "exports/orders"},
		{"exports/bulk/fold-001/export-000123", 24, "exports/b…/export-000123"},
		{"exports/bulk/fold-001/export-000123", 16, "e…/export-000123"},
		{"exports/bulk/fold-001/export-000123", 10, "e…t-000123"},
		{"exports.orders.nightly-full-export", 20, "e…ightly-full-export"},
		{"a-key-without-any-separator-at-all", 12, "a-key-…t-all"},
		{"exports/a/x", 8, "expo…a/x"},
	}
	for _, tt := range tests {
		got := elideKey(tt.key, tt.width)
		if got != tt.want || safetext.Width(got) > tt.width {
			t.Errorf("elideKey(%q, %d) = %q (%d cells), want %q", tt.key, tt.width, got, safetext.Width(got), tt.want)
		}
	}
}
