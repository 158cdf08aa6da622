package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/metrics"
)

// TestMetrics: with a metrics handler, /metrics answers GET without a
// session (Prometheus cannot log in), through the same Host check and
// headers as everything else; the API still needs a session; without one,
// /metrics is the site's.
func TestMetrics(t *testing.T) {
	var c *metrics.Collector
	f := newFixture(t, func(cfg *gateway.Config) {
		var err error
		c, err = metrics.New([]metrics.Store{{Name: "fleet", Prefix: cfg.Stores[0].Prefix, Open: cfg.Stores[0].Open}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Metrics = c.Handler()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	get := func(method, url string, host string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, h, body := get(http.MethodGet, f.srv.URL+metrics.Path, "")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics without a session = %d %q, want 200", code, body)
		}
		if h.Get("Content-Security-Policy") == "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET /metrics headers %v, want the gateway's", h)
		}
		if strings.Contains(body, `leasectl_store_up{store="fleet"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store is not up in /metrics:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, _ := get(http.MethodPost, f.srv.URL+metrics.Path, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", code)
	}
	if code, _, _ := get(http.MethodGet, f.srv.URL+"/api/v1/session", ""); code != http.StatusUnauthorized {
		t.Errorf("GET the session without one = %d, want 401", code)
	}

	plain := newFixture(t, nil)
	if code, _, body := get(http.MethodGet, plain.srv.URL+metrics.Path, ""); code == http.StatusOK {
		t.Errorf("GET /metrics without a metrics handler = 200 %q, want the site's 404", body)
	}

	hosts := newFixture(t, func(cfg *gateway.Config) {
		cfg.Hosts = []string{"127.0.0.1:1"}
		cfg.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	})
	if code, _, _ := get(http.MethodGet, hosts.srv.URL+metrics.Path, "rebound.example:80"); code != http.StatusMisdirectedRequest {
		t.Errorf("GET /metrics with a foreign Host = %d, want 421", code)
	}
}
