//go:build !js

package webclient

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// TestAuditAndRevert reads the server's audit log through the client and
// reverts a takeover from it, as the browser's console does: the client
// sends the entry's id, the gateway writes back what its own log holds.
func TestAuditAndRevert(t *testing.T) {
	ctx := t.Context()
	e := newEtcd(t)
	original := liveRecord("replica-1")
	rev := e.put(t, "orders", original)
	g := newTestGateway(t, e.served("fleet", false))
	c, s := g.client(t)
	b, err := c.Backend(s, "fleet")
	if err != nil {
		t.Fatal(err)
	}

	if entries, err := c.Entries(ctx); err != nil || len(entries) != 0 {
		t.Fatalf("Entries before any action = %v, %v; want none", entries, err)
	}
	key := e.prefix + "orders"
	if _, err := b.Do(ctx, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: time.Minute, Seen: rev, Reason: "mistake"}); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	entries, err := c.Entries(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("Entries = %+v, %v; want the takeover", entries, err)
	}
	took := entries[0]
	if took.Action != lease.ActionTakeover || took.Outcome != lease.OutcomeWon || took.Operator != testOperator ||
		took.Store != "fleet" || took.Key != key || !bytes.Equal(took.ValueBefore, original) || took.ID == "" || took.Time.IsZero() {
		t.Fatalf("takeover entry = %+v", took)
	}

	// A read-only operator sees the log and cannot revert.
	rc, rs := g.clientAs(t, readerToken)
	if got, err := rc.Entries(ctx); err != nil || len(got) != 1 || got[0].ID != took.ID {
		t.Errorf("the reader's Entries = %+v, %v; want the takeover", got, err)
	}
	reader, err := rc.Backend(rs, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	req, err := audit.RevertRequest(took, "undo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Do(ctx, req); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("revert by the reader = %v, want read-only", err)
	}

	// The value a client puts in the request does not cross: the
	// gateway writes back its log's.
	forged := req
	forged.Value = []byte("mallory")
	res, err := b.Do(ctx, forged)
	if err != nil || res.Outcome != lease.OutcomeWon {
		t.Fatalf("revert = %+v, %v; want won", res, err)
	}
	got, err := e.store.Get(ctx, key)
	if err != nil || !bytes.Equal(got.Value, original) {
		t.Errorf("after the revert the store holds %q (%v), want the original %q", got.Value, err, original)
	}
	var changed *lease.ChangedError
	if _, err := b.Do(ctx, req); !errors.As(err, &changed) {
		t.Errorf("second revert = %v, want *lease.ChangedError", err)
	}
	entries, err = c.Entries(ctx)
	if err != nil || len(entries) != 3 {
		t.Fatalf("Entries = %+v, %v; want takeover, revert, refused revert", entries, err)
	}
	for i, want := range []lease.Outcome{lease.OutcomeWon, lease.OutcomeChanged} {
		if r := entries[i+1]; r.Action != lease.ActionRevert || r.Reverts != took.ID || r.Outcome != want {
			t.Errorf("entry %d = %+v, want a revert of %s, %s", i+1, r, took.ID, want)
		}
	}
}
