package webapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
)

func TestAuditEntry(t *testing.T) {
	tests := map[string]audit.Entry{
		"takeover": {ID: "0123456789ab", Time: time.Date(2024, 6, 10, 6, 13, 20, 5, time.UTC), Operator: "alice", Host: "ops-1",
			Store: "prod", Key: "exports/orders", Action: lease.ActionTakeover, Reason: "stuck", Seen: 7, RevisionBefore: 7,
			ValueBefore: []byte{0xff, 0x00, '{'}, ValueAfter: []byte(`{"holder_id":"operator:alice"}`), RevisionAfter: 8, Outcome: lease.OutcomeWon},
		"revert to a tombstone": {ID: "ba9876543210", Time: time.Date(2024, 6, 10, 6, 14, 0, 0, time.UTC), Operator: "bob", Store: "prod",
			Key: "k", Action: lease.ActionRevert, Reason: "undo", Reverts: "0123456789ab", RevisionBefore: 8,
			ValueBefore: []byte("x"), ValueAfter: []byte{}, RevisionAfter: 9, Outcome: lease.OutcomeWon},
		"refused": {ID: "cccccccccccc", Time: time.Date(2024, 6, 10, 6, 15, 0, 0, time.UTC), Operator: "bob", Store: "prod",
			Key: "k", Action: lease.ActionRevert, Reverts: "0123456789ab", Outcome: lease.OutcomeChanged, Error: "changed"},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(FromAuditEntry(e))
			if err != nil {
				t.Fatal(err)
			}
			var w AuditEntry
			if err := json.Unmarshal(b, &w); err != nil {
				t.Fatal(err)
			}
			if got := w.ToAuditEntry(); !reflect.DeepEqual(got, e) {
				t.Errorf("entry through the wire = %+v, want %+v\n%s", got, e, b)
			}
			for _, f := range []string{`"id":`, `"time":`, `"operator":`, `"store":`, `"key":`, `"action":`, `"reason":`, `"outcome":`, `"value_before":`, `"value_after":`} {
				if !strings.Contains(string(b), f) {
					t.Errorf("%s lacks %s", b, f)
				}
			}
		})
	}
}

// TestRevertAction carries a revert's id and reason, never a value.
func TestRevertAction(t *testing.T) {
	req := lease.Request{Action: lease.ActionRevert, Key: "exports/orders", Seen: 8, Value: []byte("mallory"), Reason: "undo", Reverts: "0123456789ab"}
	b, err := json.Marshal(FromRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "mallory") || strings.Contains(string(b), "bWFsbG9yeQ") || !strings.Contains(string(b), `"reverts":"0123456789ab"`) || !strings.Contains(string(b), `"action":"revert"`) {
		t.Errorf("revert on the wire = %s, want its id and no value", b)
	}
	var a Action
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	got, err := a.ToRequest()
	want := req
	want.Value = nil
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("revert through the wire = %+v, %v; want %+v", got, err, want)
	}
}
