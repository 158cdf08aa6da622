package audit

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/lease"
)

// FuzzRead feeds Read arbitrary logs, seeded with the lines of the legacy
// fixture and of today's format: it never fails on content, every entry
// it returns has an id of today's shape or the line's own, a known action
// and outcome, and a log read twice in a row (the same lines again, as a
// copied log would hold) gives entries that a second copy of each line
// cannot drop.
func FuzzRead(f *testing.F) {
	legacy, err := os.ReadFile(legacyLog)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legacy)
	for _, l := range bytes.SplitAfter(legacy, []byte("\n")) {
		f.Add(l)
	}
	i, r := action("0123456789ab", 1, lease.ActionRevert, lease.OutcomeWon)
	i.Reverts, r.Reverts = "ba9876543210", "ba9876543210"
	for _, rec := range []lease.AuditRecord{i, r} {
		b, err := encode(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, log []byte) {
		entries, err := Read(bytes.NewReader(log))
		if err != nil {
			t.Fatalf("Read = %v: only a failing reader fails it", err)
		}
		if n := bytes.Count(log, []byte("\n")) + 1; len(entries) > n {
			t.Fatalf("Read made %d entries of %d lines", len(entries), n)
		}
		for _, e := range entries {
			if e.ID == "" || e.Action < lease.ActionAcquire || e.Action > lease.ActionRevert ||
				e.Outcome < lease.OutcomePending || e.Outcome > lease.OutcomeCancelled {
				t.Fatalf("entry %+v: want an id, a known action and outcome", e)
			}
			if strings.TrimSpace(e.ID) == "" {
				t.Fatalf("entry with a blank id: %+v", e)
			}
		}
		twice, _ := Read(bytes.NewReader(append(append(append([]byte{}, log...), '\n'), log...)))
		if len(twice) < len(entries) {
			t.Fatalf("the log twice gives %d entries, once %d", len(twice), len(entries))
		}
	})
}
