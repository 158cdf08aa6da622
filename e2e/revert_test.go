//go:build unix

package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
)

// auditRow returns the audit view's row of key with action and outcome,
// or "" when the screen shows none (the status line, which may say
// "won: reverted …", is no row).
func auditRow(screen, key, action, outcome string) string {
	for _, l := range strings.Split(screen, "\n") {
		if hasField(l, key) && hasField(l, action) && hasField(l, outcome) {
			return l
		}
	}
	return ""
}

// TestConsoleRevert undoes a mistaken force takeover from the console's
// audit log, in the real binary against a real etcd: the takeover shows in
// the log (L), u reverts it after a reason and the typed confirmation, and
// the store holds the replica's record again, byte for byte. Reverting the
// same entry again is refused, because the key changed since the takeover
// wrote it; the audit log holds the takeover, the revert and the refused
// revert, both pointing at the takeover.
func TestConsoleRevert(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	original := record("node-a", now-60, now+3600)
	planted := f.scope.put(t, orders, original)

	tm := startConsole(t, consoleEnv(), f.args()...)
	tm.waitFor("exports/orders held by node-a, selected", func(s string) bool {
		l := rowLine(s, orders)
		return hasField(l, "node-a") && strings.HasPrefix(l, "▶")
	})

	// The mistake: a force takeover of the wrong lease.
	tm.keys("T")
	tm.waitText("FORCE TAKEOVER", orders)
	tm.keys("Enter")
	tm.typeText("incident 99: exporter wedged")
	tm.keys("Enter")
	tm.typeText("orders")
	tm.waitFor(`the confirm field holding "orders"`, func(s string) bool {
		l := lineWith(s, "confirm", "orders")
		return l != "" && !strings.Contains(l, "to confirm")
	})
	tm.keys("Enter")
	tm.waitText("won: took over " + storeName + "/" + orders)
	_, tookRev, _ := f.scope.get(t, orders)

	// The audit log, newest first: the takeover is on top, selected.
	tm.keys("L")
	list := tm.waitFor("the takeover in the audit log, selected", func(s string) bool {
		l := auditRow(s, orders, "takeover", "won")
		return strings.Contains(s, "Audit log") && strings.HasPrefix(l, "▶")
	})
	saveScreen(t, "console-audit", list)
	for _, want := range []string{"TIME", "OPERATOR", "STORE", "KEY", "ACTION", "OUTCOME", "REASON", "ID", operator, "incident 99"} {
		if !strings.Contains(list, want) {
			t.Errorf("the audit view does not show %q:\n%s", want, list)
		}
	}
	tm.keys("Enter")
	entry := tm.waitText("Audit entry", "before · revision", "after · revision", "node-a", "operator:"+operator)
	saveScreen(t, "console-audit-entry", entry)
	tm.keys("Escape")
	tm.waitText("Audit log", "OUTCOME")

	// u: the revert dialog, its reason and confirmation.
	tm.keys("u")
	dialog := tm.waitText("REVERT", orders, "as the action left it", "the value before")
	saveScreen(t, "console-revert", dialog)
	tm.typeText("undo the mistaken takeover")
	tm.keys("Enter")
	tm.typeText("order") // a wrong confirmation writes nothing
	tm.keys("Enter")
	tm.waitText("confirmation does not match")
	if _, rev, _ := f.scope.get(t, orders); rev != tookRev {
		t.Fatalf("%s moved to revision %d after a wrong confirmation, want %d", orders, rev, tookRev)
	}
	tm.typeText("s")
	tm.keys("Enter")
	tm.waitText("won: reverted " + storeName + "/" + orders)
	value, revertRev, ok := f.scope.get(t, orders)
	if !ok || !bytes.Equal(value, original) || revertRev <= tookRev {
		t.Fatalf("after the revert %s = %q at %d (found %v), want the original %q past %d", orders, value, revertRev, ok, original, tookRev)
	}

	// The same entry again: the key changed since the takeover wrote it.
	after := tm.waitFor("the revert in the log, the takeover still selected", func(s string) bool {
		return auditRow(s, orders, "revert", "won") != "" && strings.HasPrefix(auditRow(s, orders, "takeover", "won"), "▶")
	})
	t.Logf("audit view after the revert:\n%s", after)
	tm.keys("u")
	tm.waitText("REVERT", "changed since that action")
	tm.typeText("again")
	tm.keys("Enter")
	tm.typeText("orders")
	tm.keys("Enter")
	refused := tm.waitText("refused: the key changed since")
	if v, rev, _ := f.scope.get(t, orders); !bytes.Equal(v, original) || rev != revertRev {
		t.Errorf("after the refused revert %s = %q at %d, want %q at %d untouched", orders, v, rev, original, revertRev)
	}
	final := tm.waitFor("the refused revert in the log", func(s string) bool {
		return auditRow(s, orders, "revert", "changed") != ""
	})
	saveScreen(t, "console-audit-after", final)
	t.Logf("status after the second revert:\n%s", lineWith(refused, "refused"))

	checkAudit(t, f.audit, 3)
	entries, err := audit.ReadFile(f.audit)
	if err != nil {
		t.Fatalf("audit.ReadFile = %v", err)
	}
	if len(entries) != 3 {
		t.Fatalf("audit log holds %d actions, want 3: %+v", len(entries), entries)
	}
	took, reverted, again := entries[0], entries[1], entries[2]
	if took.Action != lease.ActionTakeover || took.Outcome != lease.OutcomeWon || !bytes.Equal(took.ValueBefore, original) ||
		took.RevisionBefore != planted || took.RevisionAfter != tookRev || took.ID == "" {
		t.Errorf("first entry = %+v, want the takeover of %s at %d, won", took, orders, planted)
	}
	if reverted.Action != lease.ActionRevert || reverted.Outcome != lease.OutcomeWon || reverted.Reverts != took.ID ||
		reverted.Reason != "undo the mistaken takeover" || reverted.RevisionAfter != revertRev || !bytes.Equal(reverted.ValueAfter, original) {
		t.Errorf("second entry = %+v, want the revert of %s, won at %d", reverted, took.ID, revertRev)
	}
	if again.Action != lease.ActionRevert || again.Outcome != lease.OutcomeChanged || again.Reverts != took.ID || again.RevisionAfter != 0 {
		t.Errorf("third entry = %+v, want the revert of %s refused as changed", again, took.ID)
	}
}

// TestBrowserRevert undoes a mistaken takeover from the browser console's
// audit view, in a real Chromium against `leasectl serve` over a real
// etcd: L shows the server's log, u reverts the takeover, and etcd holds
// the replica's record again; the audit log names the revert's operator
// and the entry it reverts.
func TestBrowserRevert(t *testing.T) {
	// Not parallel, as the other browser tests: one Chromium at a time.
	etcdB := newEtcd(t)
	st := browserStore{name: "etcd", b: etcdB, sc: etcdB.scope(t, browserPrefix)}
	now := time.Now().Unix()
	orders := st.sc.key("orders")
	original := record("node-a", now-60, now+3600)
	st.sc.put(t, orders, original)

	dir := t.TempDir()
	log := filepath.Join(dir, "audit.jsonl")
	conf := writeServeConfig(t, dir, log, []browserStore{st})
	token := newToken(t)
	srv := startServe(t, conf, browserTokenVar+"="+token)
	p := newBrowser(t)
	p.do("open the console", chromedp.Navigate(srv.url+"#token="+token))
	p.waitScreen("browser/orders held by node-a, selected", func(s string) bool {
		l := browserRow(s, st.name, orders)
		return hasField(l, "node-a") && strings.HasPrefix(l, "▶")
	})

	p.keys("T")
	p.waitScreen("the takeover modal", func(s string) bool { return strings.Contains(s, "FORCE TAKEOVER") })
	p.keys("\r")
	p.keys("wrong lease")
	p.keys("\r")
	p.keys("orders")
	p.waitScreen(`the confirm field holding "orders"`, func(s string) bool {
		l := lineWith(s, "confirm", "orders")
		return l != "" && !strings.Contains(l, "to confirm")
	})
	p.keys("\r")
	p.waitScreen("the takeover won", func(s string) bool { return strings.Contains(s, "won: took over "+st.name+"/"+orders) })

	p.keys("L")
	list := p.waitScreen("the takeover in the server's audit log, selected", func(s string) bool {
		return strings.HasPrefix(auditRow(s, orders, "takeover", "won"), "▶")
	})
	saveScreen(t, "browser-audit", list)
	if !strings.Contains(auditRow(list, orders, "takeover", "won"), browserOperator) {
		t.Errorf("the takeover's row does not name %s:\n%s", browserOperator, list)
	}
	p.keys("u")
	p.waitScreen("the revert dialog", func(s string) bool { return strings.Contains(s, "REVERT") && strings.Contains(s, "the value before") })
	p.keys("undo the wrong lease")
	p.keys("\r")
	p.keys("orders")
	p.keys("\r")
	done := p.waitScreen("the revert won, and in the log", func(s string) bool {
		return strings.Contains(s, "won: reverted "+st.name+"/"+orders) && auditRow(s, orders, "revert", "won") != ""
	})
	saveScreen(t, "browser-audit-reverted", done)
	if v, _, _ := st.sc.get(t, orders); !bytes.Equal(v, original) {
		t.Errorf("after the revert %s = %q, want the original %q", orders, v, original)
	}
	entries, err := audit.ReadFile(log)
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit log = %+v, %v; want the takeover and the revert", entries, err)
	}
	if r := entries[1]; r.Action != lease.ActionRevert || r.Outcome != lease.OutcomeWon || r.Reverts != entries[0].ID || r.Operator != browserOperator {
		t.Errorf("revert entry = %+v, want %s's revert of %s, won", r, browserOperator, entries[0].ID)
	}
}
