package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
)

// TestHistoryAuditActions writes audit lines with the real log and reads
// them back: intent and result lines are one action, an intent without a
// result is pending (the process died), other keys and stores are left out.
func TestHistoryAuditActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(r lease.AuditRecord) {
		t.Helper()
		if err := log.Audit(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	base := lease.AuditRecord{Time: t1, Operator: "alice", Store: "fleet", Key: "exports/orders", Action: lease.ActionTakeover, Reason: "wedged"}
	intent := base
	intent.Outcome, intent.ValueAfter = lease.OutcomePending, []byte("x")
	write(intent)
	other := base
	other.Key, other.Outcome = "exports/other", lease.OutcomeWon
	write(other)
	result := base
	result.Outcome, result.ValueAfter, result.RevisionAfter = lease.OutcomeWon, []byte("x"), 7
	write(result)
	died := base
	died.Time, died.Action, died.Outcome = t1.Add(time.Minute), lease.ActionRelease, lease.OutcomePending
	write(died)
	if f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0); err == nil {
		f.WriteString("not json\n")
		f.Close()
	}

	got, err := auditActions(path, "fleet", "exports/orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Outcome != lease.OutcomeWon || got[0].RevisionAfter != 7 || got[0].Reason != "wedged" ||
		got[1].Action != lease.ActionRelease || got[1].Outcome != lease.OutcomePending {
		t.Errorf("auditActions = %+v, want the takeover (won at 7) and the release (pending)", got)
	}
	if got, err := auditActions(filepath.Join(t.TempDir(), "none.jsonl"), "fleet", "k"); err != nil || got != nil {
		t.Errorf("auditActions(missing log) = %v, %v; want nothing, no error", got, err)
	}
}

// TestHistoryEmptyKey asks for a key the store holds nothing of: the
// timeline says so, and -o json has empty arrays, not nulls.
func TestHistoryEmptyKey(t *testing.T) {
	f := newFixture(t)
	res := f.run(t, "", "history", "exports/none", "--store", "fleet")
	if res.code != 0 || !strings.Contains(res.stdout, "no rounds known") {
		t.Errorf("history of an absent key = %d %q %q, want exit 0 and no rounds known", res.code, res.stdout, res.stderr)
	}
	res = f.run(t, "", "history", "exports/none", "--store", "fleet", "-o", "json")
	if res.code != 0 || !strings.Contains(res.stdout, `"rounds": []`) || !strings.Contains(res.stdout, `"state": "absent"`) {
		t.Errorf("history -o json of an absent key = %d %s %s", res.code, res.stdout, res.stderr)
	}
	if res := f.run(t, "", "history", "k", "--store", "fleet", "-o", "yaml"); res.code != ExitUsage {
		t.Errorf("history -o yaml = exit %d, want %d", res.code, ExitUsage)
	}
}
