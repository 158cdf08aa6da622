//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/leasectl/leasectl/lease"
)

// maxAuditRecords bounds the trail kept in memory: two records per operator
// action, so a long session's worth; older ones are dropped, so that a page
// left open for days does not grow.
const maxAuditRecords = 1000

// memoryAuditor is the browser's audit trail: nothing leaves the page, yet
// it has to exist, because the lease core refuses operator writes without
// an auditor.
type memoryAuditor struct {
	mu      sync.Mutex
	records []lease.AuditRecord
}

var _ lease.Auditor = (*memoryAuditor)(nil)

// Audit keeps r. It fails only when ctx is done, and then keeps nothing, so
// that the write it was to record is refused.
func (a *memoryAuditor) Audit(ctx context.Context, r lease.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wasm: audit: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.records) == maxAuditRecords {
		a.records = append(a.records[:0], a.records[1:]...)
	}
	a.records = append(a.records, r)
	return nil
}
