//go:build unix

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/metrics/metricstest"
)

// metricsWait bounds the wait for the exporter to start and to show what
// a test planted: it dials real stores on a busy machine. It stays below
// commandTimeout, after which the process is killed.
const metricsWait = 45 * time.Second

// TestMetricsExporter runs the real `leasectl metrics`, and `leasectl
// serve --metrics`, over real etcd and NATS, scrapes /metrics over HTTP as
// Prometheus does, lints every answer as promtool check metrics would, and
// finds a planted overdue lease by its key and in the counts; SIGTERM then
// stops the process with status 0.
func TestMetricsExporter(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// url matches the line where the process says where the metrics
		// are.
		url *regexp.Regexp
	}{
		{"metrics", []string{"metrics", "--listen", "127.0.0.1:0"}, regexp.MustCompile(`(?m)^leasectl metrics: serving (\S+)\n`)},
		{"serve", []string{"serve", "--listen", "127.0.0.1:0", "--metrics"}, regexp.MustCompile(`(?m)^leasectl serve: metrics at (\S+) `)},
	} {
		t.Run(tc.name, func(t *testing.T) { testMetricsExporter(t, tc.args, tc.url) })
	}
}

func testMetricsExporter(t *testing.T, args []string, exportingURL *regexp.Regexp) {
	etcd, nats := newEtcd(t), newNATS(t)
	es, ns := etcd.scope(t, "metrics"), nats.scope(t, "metrics")
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yaml")
	perLease := "    metrics: {per_lease: true}\n"
	if err := os.WriteFile(conf, fmt.Appendf(nil, "audit_log: %q\nstores:\n%s%s%s%s", filepath.Join(dir, "audit.jsonl"),
		es.storeYAML("etcd", etcd.addr()), perLease, ns.storeYAML("nats", nats.addr()), perLease), 0o600); err != nil {
		t.Fatal(err)
	}
	// Acquired 30 minutes ago for 10: expired 20 minutes ago, two periods.
	now := time.Now()
	overdue := lease.Record{HolderID: "node-a", AcquiredAtUnix: uint64(now.Add(-30 * time.Minute).Unix()), ExpiresAtUnix: uint64(now.Add(-20 * time.Minute).Unix())}
	held := lease.Record{HolderID: "node-b", AcquiredAtUnix: uint64(now.Unix()), ExpiresAtUnix: uint64(now.Add(5 * time.Minute).Unix())}
	for _, sc := range []scope{es, ns} {
		sc.put(t, sc.key("orders"), overdue.Encode())
		sc.put(t, sc.key("billing"), held.Encode())
	}

	p := command(t, append([]string{"--config", conf}, args...)...)
	var stdout, stderr cliLockedBuffer
	p.cmd.Stdout, p.cmd.Stderr = &stdout, &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start leasectl %v: %v", args, err)
	}
	exited := make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(exited)
	}()
	// The process is waited for here, never again by the cleanup, which
	// kills it if the test fails first.
	t.Cleanup(func() {
		p.cancel()
		<-exited
	})
	var url string
	for deadline := time.Now().Add(metricsWait); url == ""; {
		if m := exportingURL.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("leasectl %v exited before printing its URL: %v\nstdout: %s\nstderr: %s", args, p.cmd.ProcessState, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("leasectl %v printed no URL within %v\nstdout: %s\nstderr: %s", args, metricsWait, stdout.String(), stderr.String())
		}
	}

	wants := []string{
		`leasectl_store_up{store="etcd"} 1`,
		`leasectl_store_up{store="nats"} 1`,
		`leasectl_lease_overdue{key="metrics/orders",store="etcd"} 1`,
		`leasectl_lease_overdue{key="metrics/orders",store="nats"} 1`,
		`leasectl_lease_overdue{key="metrics/billing",store="etcd"} 0`,
		`leasectl_leases_flagged{flag="overdue",store="etcd"} 1`,
		`leasectl_leases_flagged{flag="overdue",store="nats"} 1`,
		`leasectl_leases{state="held",store="nats"} 1`,
		// The exposition writes floats as strconv's 'g' does.
		`leasectl_lease_expires_timestamp_seconds{key="metrics/orders",store="etcd"} ` + strconv.FormatFloat(float64(overdue.ExpiresAtUnix), 'g', -1, 64),
		`leasectl_lease_period_seconds{key="metrics/orders",store="nats"} 600`,
	}
	body := metricstest.ScrapeLinted(t, url, metricsWait, func() string { return "stderr: " + stderr.String() }, wants...)
	t.Logf("scraped %s: %d bytes; the leasectl_ series:\n%s", url, len(body), leasectlLines(body))

	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		p.waited = true
	case <-time.After(30 * time.Second):
		t.Fatalf("leasectl %v did not stop within 30s of SIGTERM\nstderr: %s", args, stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("leasectl %v exited %d after SIGTERM, want 0\nstderr: %s", args, code, stderr.String())
	}
}

// leasectlLines are the lines of an exposition that are leasectl's
// samples.
func leasectlLines(body []byte) string {
	var out []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "leasectl_") {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}
