package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

// BenchmarkScrape serves /metrics over a memory store of n leases (a
// tenth of them overdue), through the handler `leasectl metrics` serves:
// classification at the scrape's clock, the Go and process collectors and
// the text exposition. It reports the size of a scrape.
func BenchmarkScrape(b *testing.B) {
	for _, n := range benchSizes {
		for _, perLease := range []bool{false, true} {
			b.Run(fmt.Sprintf("leases=%d/per_lease=%v", n, perLease), func(b *testing.B) {
				st := memory.New()
				now := time.Now()
				for i := range n {
					r := lease.Record{HolderID: fmt.Sprintf("node-%d", i%7), AcquiredAtUnix: uint64(now.Unix()), ExpiresAtUnix: uint64(now.Add(5 * time.Minute).Unix())}
					if i%10 == 0 {
						r.AcquiredAtUnix, r.ExpiresAtUnix = uint64(now.Add(-30*time.Minute).Unix()), uint64(now.Add(-20*time.Minute).Unix())
					}
					if _, err := st.Create(context.Background(), fmt.Sprintf("exports/job-%06d", i), r.Encode()); err != nil {
						b.Fatal(err)
					}
				}
				c, err := New([]Store{opened("m", "", perLease, st)})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); c.Run(ctx) }()
				defer func() { cancel(); <-done }()
				h := c.Handler()
				for deadline := time.Now().Add(time.Minute); ; {
					c.followers[0].mu.Lock()
					ready := c.followers[0].live && len(c.followers[0].items) == n
					c.followers[0].mu.Unlock()
					if ready {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("the store did not sync within a minute")
					}
					time.Sleep(10 * time.Millisecond)
				}
				req := httptest.NewRequest(http.MethodGet, Path, nil)
				var size int
				b.ResetTimer()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("GET %s = %d", Path, w.Code)
					}
					size = w.Body.Len()
				}
				b.ReportMetric(float64(size), "bytes/scrape")
			})
		}
	}
}

// benchSizes are the fleet sizes of BenchmarkScrape.
var benchSizes = []int{1_000, 10_000, 100_000}
