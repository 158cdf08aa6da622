// Package metricstest scrapes a leasectl /metrics endpoint for tests, the
// way Prometheus would, and lints every answer with client_golang's
// promlint (the library's `promtool check metrics`).
package metricstest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// ScrapeLinted GETs url until its body contains every one of wants, and
// returns that body. Each answer must be 200 and pass the lint; t fails on
// a lint problem, and fatally on a failed GET or when within passes without
// every want. context, when not nil, is added to a fatal message (e.g. the
// serving process's stderr).
func ScrapeLinted(t testing.TB, url string, within time.Duration, context func() string, wants ...string) []byte {
	t.Helper()
	more := func() string {
		if context == nil {
			return ""
		}
		return "\n" + context()
	}
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v%s", url, err, more())
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %s, %v:\n%s%s", url, resp.Status, err, body, more())
		}
		problems, err := promlint.New(bytes.NewReader(body)).Lint()
		if err != nil {
			t.Fatalf("lint %s: %v\n%s", url, err, body)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
		missing := ""
		for _, w := range wants {
			if !bytes.Contains(body, []byte(w)) {
				missing = w
				break
			}
		}
		if missing == "" {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s has no %q within %v:\n%s%s", url, missing, within, body, more())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
