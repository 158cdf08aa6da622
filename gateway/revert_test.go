package gateway_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/webapi"
)

// mistake plants a replica's live record at orders and takes it over as
// c's operator, the mistake a revert undoes; it returns the planted value
// and the takeover's audit entry as GET audit answers it.
func (f *fixture) mistake(c *client) ([]byte, webapi.AuditEntry) {
	f.t.Helper()
	planted := liveRecord()
	rev := f.put("orders", planted)
	ans, aa := c.action("fleet", webapi.Action{Action: lease.ActionTakeover, Key: f.prefix + "orders", Seen: rev, TTLSeconds: 600, Reason: "wrong key"})
	if ans.status != http.StatusOK || aa.Result.Outcome != lease.OutcomeWon {
		f.t.Fatalf("takeover = %d %s, want 200 won", ans.status, ans.body)
	}
	entries := c.auditEntries()
	if len(entries) == 0 {
		f.t.Fatal("GET audit after a takeover: no entries")
	}
	e := entries[len(entries)-1]
	if e.Action != "takeover" || e.Outcome != "won" || e.Key != f.prefix+"orders" || e.Store != "fleet" || e.ID == "" {
		f.t.Fatalf("last audit entry = %+v, want the takeover of orders, won, with an id", e)
	}
	return planted, e
}

// auditEntries GETs the server's audit log.
func (c *client) auditEntries() []webapi.AuditEntry {
	c.f.t.Helper()
	a := c.get(webapi.PathAudit)
	if a.status != http.StatusOK {
		c.f.t.Fatalf("GET %s = %d %s, want 200", webapi.PathAudit, a.status, a.body)
	}
	var entries []webapi.AuditEntry
	a.decode(c.f.t, &entries)
	return entries
}

// stored reads key (under the prefix) from etcd.
func (f *fixture) stored(key string) ([]byte, uint64) {
	f.t.Helper()
	e, err := f.store.Get(f.t.Context(), f.prefix+key)
	if err != nil {
		f.t.Fatal(err)
	}
	return e.Value, e.Revision
}

func TestAuditPath(t *testing.T) {
	f := newFixture(t, nil)
	if a := (&client{f: f}).get(webapi.PathAudit); a.status != http.StatusUnauthorized {
		t.Errorf("GET audit without a session = %d, want 401", a.status)
	}
	c := f.session()
	if got := c.auditEntries(); len(got) != 0 {
		t.Errorf("GET audit before any action = %v, want an empty array", got)
	}
	// A line of a store this server does not serve stays out.
	log, err := audit.NewFile(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Audit(t.Context(), lease.AuditRecord{Time: time.Now(), Operator: "eve", Store: "elsewhere", Key: "secret",
		Action: lease.ActionRelease, Reason: "x", Outcome: lease.OutcomePending}); err != nil {
		t.Fatal(err)
	}
	planted, e := f.mistake(c)
	entries := c.auditEntries()
	if len(entries) != 1 {
		t.Fatalf("GET audit = %d entries, want the takeover only: %+v", len(entries), entries)
	}
	if e.Operator != "alice" || e.Host != "gateway-test" || e.Reason != "wrong key" || !bytes.Equal(e.ValueBefore, planted) ||
		e.RevisionAfter == 0 || e.RevisionBefore == 0 || len(e.ValueAfter) == 0 {
		t.Errorf("takeover entry = %+v, want alice's, with the planted value before", e)
	}
	// The wire names are those of leasectl audit -o json; values base64.
	a := c.get(webapi.PathAudit)
	for _, name := range []string{`"id":`, `"time":`, `"operator":"alice"`, `"store":"fleet"`, `"key":`, `"action":"takeover"`,
		`"reason":"wrong key"`, `"outcome":"won"`, `"value_before":"` + base64.StdEncoding.EncodeToString(planted) + `"`} {
		if !strings.Contains(string(a.body), name) {
			t.Errorf("GET audit body lacks %s: %s", name, a.body)
		}
	}
}

func TestRevertRestores(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	planted, e := f.mistake(c)
	_, tookRev := f.stored("orders")

	revert := webapi.Action{Action: lease.ActionRevert, Key: f.prefix + "orders", Reverts: e.ID, Reason: "undo the wrong takeover"}
	ans, aa := c.action("fleet", revert)
	if ans.status != http.StatusOK || aa.Error != nil || aa.Result.Outcome != lease.OutcomeWon {
		t.Fatalf("revert = %d %s, want 200 won", ans.status, ans.body)
	}
	value, rev := f.stored("orders")
	if !bytes.Equal(value, planted) || rev <= tookRev {
		t.Errorf("after the revert orders = %q at %d, want the planted %q past %d", value, rev, planted, tookRev)
	}

	// The same revert again: the key changed since the takeover wrote it.
	before := f.revision()
	ans, aa = c.action("fleet", revert)
	if ans.status != http.StatusConflict || aa.Error == nil || aa.Error.Code != webapi.CodeChanged {
		t.Errorf("second revert = %d %s, want 409 changed", ans.status, ans.body)
	}
	if after := f.revision(); after != before {
		t.Errorf("the refused revert wrote: etcd revision %d → %d", before, after)
	}

	var reverts []webapi.AuditEntry
	for _, x := range c.auditEntries() {
		if x.Action == "revert" {
			reverts = append(reverts, x)
		}
	}
	if len(reverts) != 2 || reverts[0].Outcome != "won" || reverts[1].Outcome != "changed" {
		t.Fatalf("revert entries = %+v, want one won and one changed", reverts)
	}
	for _, r := range reverts {
		if r.Reverts != e.ID || r.Operator != "alice" || r.Reason != "undo the wrong takeover" {
			t.Errorf("revert entry = %+v, want alice's, reverting %s", r, e.ID)
		}
	}
}

// TestRevertValueFromServer proves the value written back is the server's
// log's, never the page's: a page cannot send one, and cannot aim an
// entry at another key or store.
func TestRevertValueFromServer(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	_, e := f.mistake(c)
	before := f.revision()

	a := c.do(request{method: http.MethodPost, path: storePath(webapi.PathActions, "fleet"), body: strings.NewReader(
		`{"action":"revert","key":"` + f.prefix + `orders","reverts":"` + e.ID + `","reason":"r","value":"bWFsbG9yeQ=="}`)})
	if a.status != http.StatusBadRequest {
		t.Errorf("revert with a value = %d %s, want 400", a.status, a.body)
	}
	for name, act := range map[string]struct {
		store string
		a     webapi.Action
	}{
		"another key":   {"fleet", webapi.Action{Action: lease.ActionRevert, Key: f.prefix + "other", Reverts: e.ID, Reason: "r"}},
		"another store": {"fleet-ro", webapi.Action{Action: lease.ActionRevert, Key: f.prefix + "orders", Reverts: e.ID, Reason: "r"}},
	} {
		ans, aa := c.action(act.store, act.a)
		if ans.status != http.StatusBadRequest || aa.Error == nil || aa.Error.Code != webapi.CodeInvalid {
			t.Errorf("revert on %s = %d %s, want 400 invalid", name, ans.status, ans.body)
		}
	}
	if after := f.revision(); after != before {
		t.Errorf("a refused revert wrote: etcd revision %d → %d", before, after)
	}
}

func TestRevertUnknownID(t *testing.T) {
	f := newFixture(t, nil)
	c := f.session()
	f.mistake(c)
	lines := len(f.auditLines())
	before := f.revision()
	for _, id := range []string{"ffffffffffff", ""} {
		ans, aa := c.action("fleet", webapi.Action{Action: lease.ActionRevert, Key: f.prefix + "orders", Reverts: id, Reason: "r"})
		if ans.status != http.StatusNotFound || aa.Error == nil || aa.Error.Code != webapi.CodeNotFound {
			t.Errorf("revert of id %q = %d %s, want 404 not_found", id, ans.status, ans.body)
		}
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	if n := len(f.auditLines()); n != lines {
		t.Errorf("audit log went from %d to %d lines: a revert of nothing was audited", lines, n)
	}
}

func TestRevertReadOnlyOperator(t *testing.T) {
	const carol, viewer = "carol-token-0123456789", "viewer-token-0123456789"
	f := newFixture(t, func(c *gateway.Config) {
		c.Operators = []gateway.Credential{{Name: "carol", Token: carol}, {Name: "viewer", Token: viewer, ReadOnly: true}}
	})
	c := &client{f: f}
	if a := c.login(carol); a.status != http.StatusOK {
		t.Fatalf("login = %d %s", a.status, a.body)
	}
	_, e := f.mistake(c)
	v := &client{f: f}
	if a := v.login(viewer); a.status != http.StatusOK {
		t.Fatalf("login = %d %s", a.status, a.body)
	}
	if got := v.auditEntries(); len(got) != 1 || got[0].ID != e.ID {
		t.Errorf("a read-only operator reads the audit log as %+v, want the takeover", got)
	}
	lines := len(f.auditLines())
	before := f.revision()
	ans, aa := v.action("fleet", webapi.Action{Action: lease.ActionRevert, Key: f.prefix + "orders", Reverts: e.ID, Reason: "r"})
	if ans.status != http.StatusForbidden || aa.Error == nil || aa.Error.Code != webapi.CodeReadOnly {
		t.Errorf("revert by a read-only operator = %d %s, want 403 read_only", ans.status, ans.body)
	}
	if after := f.revision(); after != before {
		t.Errorf("etcd revision %d → %d: something was written", before, after)
	}
	if n := len(f.auditLines()); n != lines {
		t.Errorf("audit log went from %d to %d lines", lines, n)
	}
}
