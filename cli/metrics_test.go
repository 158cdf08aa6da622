package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/metrics/metricstest"
)

// exporting is a running `leasectl metrics`, in process.
type exporting struct {
	t              *testing.T
	url            string // as printed
	stdout, stderr *lockedBuffer
	signals        chan os.Signal
	done           chan int
}

// startMetrics runs leasectl with args and waits for the line that starts
// with prefix and ends with the URL of the metrics.
func startMetrics(t *testing.T, prefix string, args ...string) *exporting {
	t.Helper()
	e := &exporting{t: t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, signals: make(chan os.Signal, 2), done: make(chan int, 1)}
	env := Env{Stdin: strings.NewReader(""), Stdout: e.stdout, Stderr: e.stderr, Signals: e.signals}
	go func() { e.done <- Main(t.Context(), args, env) }()
	t.Cleanup(func() { e.stop() })
	deadline := time.Now().Add(30 * time.Second)
	for e.url == "" {
		for line := range strings.Lines(e.stdout.String()) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
				e.url, _, _ = strings.Cut(rest, " ")
			}
		}
		select {
		case code := <-e.done:
			t.Fatalf("leasectl %v exited with %d before printing its URL\nstdout: %s\nstderr: %s", args, code, e.stdout, e.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed\nstdout: %s\nstderr: %s", e.stdout, e.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

// stop interrupts the process as SIGINT would and returns its exit code.
func (e *exporting) stop() int {
	select {
	case e.signals <- syscall.SIGINT:
	default:
	}
	select {
	case code := <-e.done:
		e.done <- code
		return code
	case <-time.After(time.Minute):
		e.t.Fatalf("leasectl did not stop on SIGINT\nstderr: %s", e.stderr)
		return -1
	}
}

// scrapeLinted GETs url until its body contains every one of wants,
// linting each answer; it fails t on a lint problem or after 30s.
func scrapeLinted(t *testing.T, url string, wants ...string) string {
	t.Helper()
	return string(metricstest.ScrapeLinted(t, url, 30*time.Second, nil, wants...))
}

func TestMetricsDemo(t *testing.T) {
	noConfig(t)
	e := startMetrics(t, "leasectl metrics: serving ", "metrics", "--listen", "127.0.0.1:0")
	if strings.Contains(e.url, ":0/") || !strings.HasSuffix(e.url, "/metrics") {
		t.Errorf("printed URL %s, want the real port and /metrics", e.url)
	}
	scrapeLinted(t, e.url, `leasectl_store_up{store="demo"} 1`, `leasectl_leases{state="held",store="demo"}`,
		`leasectl_lease_expires_timestamp_seconds{key="exports/`, "go_goroutines")
	if code := e.stop(); code != ExitOK {
		t.Errorf("metrics stopped by SIGINT exited %d, want 0\nstderr: %s", code, e.stderr)
	}
}

// TestMetricsConfig: over a real NATS store, per lease as the config says,
// an overdue lease shows with its key.
func TestMetricsConfig(t *testing.T) {
	f := newFixture(t)
	conf := filepath.Join(t.TempDir(), "metrics.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`audit_log: %s
stores:
  - name: fleet
    kind: nats
    url: %s
    bucket: leases
    metrics: {per_lease: true}
  - name: counts
    kind: nats
    url: %s
    bucket: leases
`, f.audit, f.url, f.url)), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r := lease.Record{HolderID: "node-a", AcquiredAtUnix: uint64(now.Add(-30 * time.Minute).Unix()), ExpiresAtUnix: uint64(now.Add(-20 * time.Minute).Unix())}
	if _, err := f.store.Create(t.Context(), "exports.orders", r.Encode()); err != nil {
		t.Fatal(err)
	}
	e := startMetrics(t, "leasectl metrics: serving ", "--config", conf, "metrics", "--listen", "127.0.0.1:0")
	body := scrapeLinted(t, e.url,
		`leasectl_lease_overdue{key="exports.orders",store="fleet"} 1`,
		`leasectl_lease_unfinished{key="exports.orders",store="fleet"} 1`,
		`leasectl_leases_flagged{flag="overdue",store="counts"} 1`,
		`leasectl_store_up{store="counts"} 1`)
	if strings.Contains(body, `store="counts",key=`) || strings.Contains(body, `key="exports.orders",store="counts"`) {
		t.Errorf("per-lease series for a store without per_lease:\n%s", body)
	}
	if code := e.stop(); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0\nstderr: %s", code, e.stderr)
	}
}

func TestMetricsRefuses(t *testing.T) {
	noConfig(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"metrics"}, "--listen ADDR is required"},
		{[]string{"metrics", "--listen", "127.0.0.1:0", "--poll-interval", "1ms"}, "--poll-interval 1ms"},
		{[]string{"metrics", "--listen", "127.0.0.1:0", "--store", "nope"}, "no configuration"},
	} {
		r := runEnv(t, Env{}, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("leasectl %v = %d %q, want %d and %q", tc.args, r.code, r.stderr, ExitUsage, tc.want)
		}
	}
}

// TestServeMetrics: serve --metrics answers /metrics without a session, on
// the demo; without the flag /metrics is not served.
func TestServeMetrics(t *testing.T) {
	noConfig(t)
	s := startServe(t, "serve", "--listen", "127.0.0.1:0", "--metrics")
	if !strings.Contains(s.stdout.String(), "leasectl serve: metrics at "+s.origin+"/metrics") {
		t.Errorf("serve did not say where the metrics are:\n%s", s.stdout)
	}
	scrapeLinted(t, s.origin+"/metrics", `leasectl_store_up{store="demo"} 1`, `leasectl_lease_overdue{key="exports/`)
	if code := s.stop(); code != ExitOK {
		t.Errorf("serve stopped by SIGINT exited %d, want 0\nstderr: %s", code, s.stderr)
	}

	plain := startServe(t, "serve", "--listen", "127.0.0.1:0")
	resp, err := http.Get(plain.origin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("GET /metrics without --metrics = %s, want no metrics", resp.Status)
	}
}

// TestServeMetricsConfig: serve.metrics in the config mounts /metrics
// over the configured stores, per lease where a store says so.
func TestServeMetricsConfig(t *testing.T) {
	f := newFixture(t)
	conf := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`audit_log: %s
stores:
  - name: fleet
    kind: nats
    url: %s
    bucket: leases
    metrics: {per_lease: true}
serve:
  metrics: true
`, f.audit, f.url)), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r := lease.Record{HolderID: "node-a", AcquiredAtUnix: uint64(now.Add(-30 * time.Minute).Unix()), ExpiresAtUnix: uint64(now.Add(-20 * time.Minute).Unix())}
	if _, err := f.store.Create(t.Context(), "exports.orders", r.Encode()); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", conf, "serve", "--listen", "127.0.0.1:0")
	scrapeLinted(t, s.origin+"/metrics", `leasectl_lease_overdue{key="exports.orders",store="fleet"} 1`, `leasectl_store_up{store="fleet"} 1`)
	if code := s.stop(); code != ExitOK {
		t.Errorf("serve stopped by SIGINT exited %d, want 0\nstderr: %s", code, s.stderr)
	}
}
