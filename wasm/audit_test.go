//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/leasectl/leasectl/lease"
)

func TestMemoryAuditorKeeps(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		wantLen   int
		wantFirst string // Key of the oldest record kept
	}{
		{name: "one", n: 1, wantLen: 1, wantFirst: "k0"},
		{name: "full", n: maxAuditRecords, wantLen: maxAuditRecords, wantFirst: "k0"},
		{name: "oldest dropped", n: maxAuditRecords + 3, wantLen: maxAuditRecords, wantFirst: "k3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a memoryAuditor
			for i := range tt.n {
				r := lease.AuditRecord{Key: fmt.Sprintf("k%d", i), Action: lease.ActionTakeover}
				if err := a.Audit(t.Context(), r); err != nil {
					t.Fatalf("Audit(%q) = %v, want nil", r.Key, err)
				}
			}
			if len(a.records) != tt.wantLen || a.records[0].Key != tt.wantFirst {
				t.Fatalf("after %d records: kept %d, oldest %q; want %d, oldest %q",
					tt.n, len(a.records), a.records[0].Key, tt.wantLen, tt.wantFirst)
			}
			if last := a.records[len(a.records)-1].Key; last != fmt.Sprintf("k%d", tt.n-1) {
				t.Fatalf("newest record = %q, want k%d", last, tt.n-1)
			}
		})
	}
}

// TestMemoryAuditorRefusesWhenDone checks that a record that could not be
// kept fails the audit, so that the lease core refuses the write.
func TestMemoryAuditorRefusesWhenDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var a memoryAuditor
	if err := a.Audit(ctx, lease.AuditRecord{Key: "k"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Audit(cancelled ctx) = %v, want context.Canceled", err)
	}
	if len(a.records) != 0 {
		t.Fatalf("kept %d records after a failed Audit, want 0", len(a.records))
	}
}
