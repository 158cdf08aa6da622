package consultest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/internal/leakcheck"
	"github.com/leasectl/leasectl/internal/testpki"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

func TestStart(t *testing.T) {
	// A developer's own Consul address must not reach the agent or Client.
	t.Setenv("CONSUL_HTTP_ADDR", "127.0.0.1:1")
	a := consultest.Start(t)
	t.Logf("agent up in %v", a.Startup())
	if !strings.HasPrefix(a.Addr(), "127.0.0.1:") || a.HTTPAddr() != "http://"+a.Addr() {
		t.Errorf("Addr() = %q, HTTPAddr() = %q; want 127.0.0.1:PORT and http://127.0.0.1:PORT", a.Addr(), a.HTTPAddr())
	}
	if a.HTTPSAddr() != "" || a.Token() != "" {
		t.Errorf("HTTPSAddr() = %q, Token() = %q without options, want both empty", a.HTTPSAddr(), a.Token())
	}
	if a.Startup() <= 0 {
		t.Errorf("Startup() = %v, want > 0", a.Startup())
	}
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "exports/orders", Value: []byte("v1")}, nil); err != nil {
		t.Fatalf("Put = %v", err)
	}
	p, _, err := kv.Get("exports/orders", nil)
	if err != nil || p == nil || string(p.Value) != "v1" {
		t.Errorf("Get = %+v, %v; want v1", p, err)
	}
}

func TestRestart(t *testing.T) {
	a := consultest.Start(t)
	addr := a.Addr()
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "gone", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	a.Stop() // idempotent
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("dial %s after Stop succeeded, want refused", addr)
	}
	a.Restart(t)
	if a.Addr() != addr {
		t.Errorf("Addr() after Restart = %s, want %s", a.Addr(), addr)
	}
	// A dev agent starts empty; the old client reaches the new agent.
	if p, _, err := kv.Get("gone", nil); err != nil || p != nil {
		t.Errorf("Get(gone) after Restart = %+v, %v; want absent (dev agents keep no state)", p, err)
	}
	if _, err := kv.Put(&api.KVPair{Key: "new", Value: []byte("y")}, nil); err != nil {
		t.Errorf("Put after Restart = %v", err)
	}
}

func TestACL(t *testing.T) {
	const token = "root-token"
	a := consultest.Start(t, consultest.WithACL(token))
	t.Logf("agent with ACLs up in %v", a.Startup())
	if a.Token() != token {
		t.Errorf("Token() = %q, want %q", a.Token(), token)
	}
	if _, err := a.Client(t).KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Errorf("Put with the management token = %v", err)
	}
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	cfg := a.Config()
	cfg.Token = ""
	anon, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	_, err = anon.KV().Put(&api.KVPair{Key: "k", Value: []byte("anon")}, nil)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("anonymous Put = %v, want 403 permission denied", err)
	}
}

func TestTLS(t *testing.T) {
	ca := testpki.New(t)
	server := ca.Issue(t, "consul", testpki.ServerAuth, "127.0.0.1")
	a := consultest.Start(t, consultest.WithTLS(ca.CAFile, server.CertFile, server.KeyFile))
	if a.HTTPSAddr() == "" || a.HTTPSAddr() == a.Addr() {
		t.Fatalf("HTTPSAddr() = %q with WithTLS (Addr %q), want a port of its own", a.HTTPSAddr(), a.Addr())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + a.HTTPSAddr() + "/v1/status/leader")
	if err != nil {
		t.Fatalf("GET over HTTPS = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET over HTTPS = %s, want 200", resp.Status)
	}
	if _, _, err := a.Client(t).KV().Get("k", nil); err != nil {
		t.Errorf("plain HTTP next to HTTPS = %v", err)
	}
}

func TestNewClose(t *testing.T) {
	before := runtime.NumGoroutine()
	a, err := consultest.New(t.Context())
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	addr := a.Addr()
	a.Close()
	a.Close() // idempotent
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("dial %s after Close succeeded, want the agent gone", addr)
	}
	leakcheck.Goroutines(t, before)
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  consultest.Option
		want string
	}{
		{"empty token", consultest.WithACL(""), "empty token"},
		{"tls without key", consultest.WithTLS("ca.pem", "cert.pem", ""), "key"},
		{"blank hcl", consultest.WithHCL("  "), "empty configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := consultest.New(t.Context(), tc.opt)
			if err == nil {
				a.Close()
				t.Fatalf("New(%s) = nil error, want %q", tc.name, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "consultest: ") || strings.Count(err.Error(), "consultest:") != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%s) = %q, want a consultest error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
	// A configuration the agent rejects fails New with the agent's output.
	a, err := consultest.New(t.Context(), consultest.WithHCL(`no_such_setting = true`))
	if err == nil {
		a.Close()
		t.Fatal("New(WithHCL(bad)) = nil error")
	}
	if !strings.Contains(err.Error(), "no_such_setting") {
		t.Errorf("New(WithHCL(bad)) = %q, want the agent's complaint", err)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		t.Errorf("New(WithHCL(bad)) = %v, want an agent failure, not a network error", err)
	}
}
