//go:build !js

// The tests need a real HTTP server: they run natively.

package webclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/webapi"
)

// The client's tests talk to the real gateway (package gateway, the
// handler `leasectl serve` runs), built as cli/serve.go builds it — stores
// opened on demand, operators with tokens, a real audit log, the loopback
// Host names — behind a real HTTP server, over real stores: memory stores,
// and a real etcd shared by the tests, each under a prefix of its own.

// etcdServer is the real etcd every test that needs one shares.
var etcdServer etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	etcdServer.Close()
	os.Exit(code)
}

// The operators the gateways of the tests know: alice may write, bob only
// read (an operator's read_only).
const (
	testOperator   = "alice"
	testToken      = "alice-token-0123456789abcdef"
	readerOperator = "bob"
	readerToken    = "bob-token-0123456789abcdef"
)

// testGateway is a real gateway behind a real HTTP server.
type testGateway struct {
	srv   *httptest.Server
	gw    *gateway.Gateway
	front *front
	audit string // the audit log's path, when the test did not set its own
}

// front passes every request to the gateway unchanged. It only watches:
// it counts the requests that came without webapi.RequestHeader (the page
// sends it on every request), and it can hold new event streams back, so
// that a test decides when a dropped stream may reconnect.
type front struct {
	next http.Handler

	mu       sync.Mutex
	noHeader int
	hold     chan struct{} // non-nil: event streams wait until it is closed
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Header.Get(webapi.RequestHeader) != "1" {
		f.noHeader++
	}
	hold := f.hold
	f.mu.Unlock()
	if hold != nil && strings.HasSuffix(r.URL.Path, "/events") {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	f.next.ServeHTTP(w, r)
}

// newTestGateway serves sts with the operators alice and bob and an audit
// log in a temporary directory.
func newTestGateway(t *testing.T, sts ...gateway.Store) *testGateway {
	t.Helper()
	return startGateway(t, nil, false, sts...)
}

// startGateway is newTestGateway with edit applied to the configuration
// first, over TLS when tls is set.
func startGateway(t *testing.T, edit func(*gateway.Config), tls bool, sts ...gateway.Store) *testGateway {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	g := &testGateway{srv: srv, audit: filepath.Join(t.TempDir(), "audit.jsonl")}
	cfg := gateway.Config{
		Stores: sts,
		Operators: []gateway.Credential{
			{Name: testOperator, Token: testToken},
			{Name: readerOperator, Token: readerToken, ReadOnly: true},
		},
		CallTimeout: 10 * time.Second,
		Host:        "webclient-test",
		Secure:      tls,
		// As `leasectl serve` on loopback: only its own Host names.
		Hosts: gateway.LoopbackHosts(srv.Listener.Addr().String()),
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.Auditor == nil {
		a, err := audit.NewFile(g.audit)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Auditor, cfg.AuditLog = a, g.audit
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.gw, g.front = gw, &front{next: gw}
	srv.Config.Handler = g.front
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		g.srv.Close() // the server of the moment: restart replaces it
		g.gw.Close()
		g.front.mu.Lock()
		defer g.front.mu.Unlock()
		if g.front.noHeader > 0 {
			t.Errorf("%d requests came without %s", g.front.noHeader, webapi.RequestHeader)
		}
	})
	return g
}

// client returns a client of g logged in as alice, and its session.
func (g *testGateway) client(t *testing.T) (*Client, webapi.Session) {
	t.Helper()
	return g.clientAs(t, testToken)
}

// clientAs returns a client of g logged in with token, and its session.
func (g *testGateway) clientAs(t *testing.T, token string) (*Client, webapi.Session) {
	t.Helper()
	c, err := New(g.srv.URL, WithHTTPClient(jarClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(t.Context(), token)
	if err != nil {
		t.Fatalf("Login = %v", err)
	}
	return c, s
}

// backend returns the Backend of store of a client logged in as alice.
func (g *testGateway) backend(t *testing.T, store string) *Backend {
	t.Helper()
	c, s := g.client(t)
	b, err := c.Backend(s, store)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// holdEvents makes new event streams wait until release is called.
func (g *testGateway) holdEvents() (release func()) {
	g.front.mu.Lock()
	defer g.front.mu.Unlock()
	hold := make(chan struct{})
	g.front.hold = hold
	return func() {
		g.front.mu.Lock()
		defer g.front.mu.Unlock()
		g.front.hold = nil
		close(hold)
	}
}

// drop cuts every connection to the server now open, event streams
// included, as a network that fails does; the server stays up.
func (g *testGateway) drop() { g.srv.CloseClientConnections() }

// stop takes the server down: nothing listens at its address until
// restart. It returns the address.
func (g *testGateway) stop() string {
	addr := g.srv.Listener.Addr().String()
	g.srv.Listener.Close() // first, so that nothing reconnects meanwhile
	g.srv.CloseClientConnections()
	g.srv.Close()
	return addr
}

// restart serves the same gateway (its sessions too) at addr again, as a
// restarted `leasectl serve` on the same port would, but without losing
// the sessions.
func (g *testGateway) restart(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s again: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(g.front)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	g.srv = srv
}

// auditLines is the audit log as it is on disk.
func (g *testGateway) auditLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(g.audit)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// newMemory returns a memory store closed at the end of the test.
func newMemory(t *testing.T) *memory.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// opened is an Open that hands st over, as `leasectl serve` does for the
// demo store; the test closes st.
func opened(st stores.Store) func(context.Context) (stores.Store, func() error, error) {
	return func(context.Context) (stores.Store, func() error, error) { return st, nil, nil }
}

// memStore serves st as a memory store named name.
func memStore(name string, st stores.Store) gateway.Store {
	return gateway.Store{Name: name, Kind: "memory", Open: opened(st)}
}

var prefixes atomic.Int64

// etcdPrefix is a store over the shared etcd, a client of it, and a
// prefix no other test uses.
type etcdPrefix struct {
	store  *etcd.Store
	cli    *clientv3.Client
	prefix string
}

func newEtcd(t *testing.T) etcdPrefix {
	t.Helper()
	cli := etcdServer.Get(t).Client(t)
	st, err := etcd.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	return etcdPrefix{store: st, cli: cli, prefix: fmt.Sprintf("wc%d/", prefixes.Add(1))}
}

// served is the gateway's configuration of a store named name over e's
// prefix.
func (e etcdPrefix) served(name string, readOnly bool) gateway.Store {
	return gateway.Store{Name: name, Kind: "etcd", Prefix: e.prefix, ReadOnly: readOnly, Open: opened(e.store)}
}

// put writes key (under the prefix) straight to etcd and returns its
// revision.
func (e etcdPrefix) put(t *testing.T, key string, value []byte) uint64 {
	t.Helper()
	resp, err := e.cli.Put(t.Context(), e.prefix+key, string(value))
	if err != nil {
		t.Fatal(err)
	}
	return uint64(resp.Header.Revision)
}
