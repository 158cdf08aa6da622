package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/webapi"
)

// BenchmarkServeListing100k is the ratio: the gateway's listing of
// 100,000 leases (GET /api/v1/stores/s/leases, over loopback HTTP, the body
// read to the end) against `leasectl ls -o json` of the same memory store in
// the same run (printLeases, as BenchmarkListPath100k runs it). gateway
// reports x-ls-json, its time over ls-json's; handler is the gateway
// without the HTTP connection.
func BenchmarkServeListing100k(b *testing.B) {
	now := time.Now()
	m := memory.New()
	for _, e := range benchFleet(outputLeases, now) {
		if _, err := m.Create(context.Background(), e.Key, e.Value); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var lsPerOp float64
	b.Run("ls-json", func(b *testing.B) {
		b.ReportAllocs()
		env := Env{Stdout: io.Discard, Width: func() int { return 0 }}
		for b.Loop() {
			err := printLeases(ctx, env, formatJSON, now, []string{"s"}, leaseFilter{}, func(ctx context.Context, _ int, sink leaseSink) error {
				return scanStore(ctx, m, "s", "exports/", sink)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		lsPerOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	gw, err := gateway.New(gateway.Config{Operator: "bench", Stores: []gateway.Store{{Name: "s", Kind: "memory", Prefix: "exports/",
		Open: func(context.Context) (stores.Store, func() error, error) { return m, nil, nil }}}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	cookie := benchLogin(b, srv.URL, gw.OneTimeToken())
	path := strings.Replace(webapi.PathLeases, "{store}", "s", 1)
	b.Run("gateway", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set(webapi.RequestHeader, "1")
			req.AddCookie(cookie)
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || n < outputLeases*100 {
				b.Fatalf("GET leases = %d, %d bytes, %v", resp.StatusCode, n, err)
			}
		}
		if lsPerOp > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/lsPerOp, "x-ls-json")
		}
	})
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		for b.Loop() {
			w := &discardResponse{header: http.Header{}}
			gw.ServeHTTP(w, req)
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("GET leases = %d", w.status)
			}
		}
	})
}

// benchLogin logs in with token and returns the session cookie.
func benchLogin(b *testing.B, base, token string) *http.Cookie {
	b.Helper()
	body, _ := json.Marshal(webapi.Login{Token: token})
	req, _ := http.NewRequest(http.MethodPost, base+webapi.PathLogin, bytes.NewReader(body))
	req.Header.Set(webapi.RequestHeader, "1")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == webapi.SessionCookie {
			return c
		}
	}
	b.Fatalf("login = %d, no session cookie", resp.StatusCode)
	return nil
}

// discardResponse is an http.ResponseWriter that keeps only the status.
type discardResponse struct {
	header http.Header
	status int
}

func (d *discardResponse) Header() http.Header         { return d.header }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(code int)        { d.status = code }
