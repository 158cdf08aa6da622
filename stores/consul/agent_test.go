package consul_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

// The tests run against a real Consul agent in -dev mode (in-memory state,
// a single server that elects itself), started by package consultest. One
// shared agent serves the suite; tests that stop an agent or enable ACLs or
// TLS start their own.

// eventTimeout bounds every wait for a watch event; a correct driver
// delivers within milliseconds, so reaching it is a failure, not a
// measurement.
const eventTimeout = 30 * time.Second

var shared struct {
	once  sync.Once
	agent *consultest.Agent
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.agent != nil {
		shared.agent.Close()
	}
	os.Exit(code)
}

// sharedAgent returns the suite's agent, starting it on first use.
func sharedAgent(t testing.TB) *consultest.Agent {
	t.Helper()
	shared.once.Do(func() {
		shared.agent, shared.err = consultest.New(context.Background())
	})
	if shared.err != nil {
		t.Fatalf("consul agent: %v", shared.err)
	}
	return shared.agent
}

// apiConfig returns an api client configuration for a with token (may be
// empty), sending its requests through rt when rt is not nil.
func apiConfig(t testing.TB, a *consultest.Agent, token string, rt http.RoundTripper) *api.Config {
	t.Helper()
	cfg := a.Config()
	cfg.Token = token
	cfg.Transport.MaxIdleConnsPerHost = 64
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	if rt != nil {
		cfg.HttpClient = &http.Client{Transport: rt}
	}
	return cfg
}

// apiClient returns an api client for a with token (may be empty), sending
// its requests through rt when rt is not nil.
func apiClient(t testing.TB, a *consultest.Agent, token string, rt http.RoundTripper) *api.Client {
	t.Helper()
	cfg := apiConfig(t, a, token, rt)
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient(%s) = %v", cfg.Address, err)
	}
	return c
}

// wipe deletes every key of a.
func wipe(t testing.TB, a *consultest.Agent) {
	t.Helper()
	if _, err := apiClient(t, a, a.Token(), nil).KV().DeleteTree("", nil); err != nil {
		t.Fatalf("DeleteTree(\"\") = %v", err)
	}
}

// newStore returns a Store on the shared agent with an empty key space.
func newStore(t testing.TB, opts ...consul.Option) *consul.Store {
	t.Helper()
	a := sharedAgent(t)
	wipe(t, a)
	s, err := consul.New(apiConfig(t, a, "", nil), opts...)
	if err != nil {
		t.Fatalf("consul.New() = %v", err)
	}
	return s
}

// countingTransport counts the HTTP requests that reach the agent.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func newCountingTransport() *countingTransport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &countingTransport{base: base}
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

// take returns and forgets the requests counted so far.
func (c *countingTransport) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

// mustCreate creates key or fails the test.
func mustCreate(t testing.TB, s stores.Store, key string, value []byte) uint64 {
	t.Helper()
	rev, err := s.Create(context.Background(), key, value)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	return rev
}

// isDenied reports whether err matches consul.ErrPermissionDenied.
func isDenied(err error) bool { return errors.Is(err, consul.ErrPermissionDenied) }
