package consul_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
)

// The tests run against a real Consul agent in -dev mode (in-memory state,
// a single server that elects itself). The binary comes from $LEASECTL_CONSUL
// or from scripts/ensure-consul.sh, which builds it from tools/consul into the
// user cache once. One shared agent serves the suite; tests that stop an
// agent or enable ACLs start their own.

const (
	agentStartTimeout = 60 * time.Second
	// eventTimeout bounds every wait for a watch event; a correct driver
	// delivers within milliseconds, so reaching it is a failure, not a
	// measurement.
	eventTimeout = 30 * time.Second
)

var shared struct {
	once  sync.Once
	agent *agent
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.agent != nil {
		shared.agent.stop()
	}
	os.Exit(code)
}

// sharedAgent returns the suite's agent, starting it on first use.
func sharedAgent(t testing.TB) *agent {
	t.Helper()
	shared.once.Do(func() {
		bin, err := consulBinary()
		if err != nil {
			shared.err = err
			return
		}
		shared.agent, shared.err = startAgent(bin, freePorts(), "")
	})
	if shared.err != nil {
		t.Fatalf("consul agent: %v", shared.err)
	}
	return shared.agent
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// consulBinary finds the agent binary once: $LEASECTL_CONSUL, else the path
// that scripts/ensure-consul.sh prints (building it if needed).
func consulBinary() (string, error) {
	binary.once.Do(func() { binary.path, binary.err = findConsul() })
	return binary.path, binary.err
}

func findConsul() (string, error) {
	if bin := os.Getenv("LEASECTL_CONSUL"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("LEASECTL_CONSUL=%s: %w", bin, err)
		}
		return bin, nil
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "ensure-consul.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("no consul binary: set LEASECTL_CONSUL or fix %s: %w\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// ports are the listeners of one agent.
type ports struct{ http, serfLAN, serfWAN, server int }

// freePorts asks the kernel for four free ports. Another process could take
// one before the agent binds it; startAgent then fails loudly.
func freePorts() ports {
	var p [4]int
	var ls []net.Listener
	for i := range p {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		ls = append(ls, l)
		p[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	return ports{http: p[0], serfLAN: p[1], serfWAN: p[2], server: p[3]}
}

// agent is one running `consul agent -dev`.
type agent struct {
	bin   string
	ports ports
	hcl   string
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	logs  *lockedBuffer
	// startup is how long the agent took to elect itself leader.
	startup time.Duration
}

// addr is the agent's HTTP address.
func (a *agent) addr() string { return fmt.Sprintf("127.0.0.1:%d", a.ports.http) }

// startAgent starts a dev agent on p, with extra HCL configuration, and
// waits until it has elected itself leader.
func startAgent(bin string, p ports, hcl string) (*agent, error) {
	args := []string{
		"agent", "-dev",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", fmt.Sprint(p.http),
		"-serf-lan-port", fmt.Sprint(p.serfLAN),
		"-serf-wan-port", fmt.Sprint(p.serfWAN),
		"-server-port", fmt.Sprint(p.server),
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-log-level", "error",
	}
	if hcl != "" {
		args = append(args, "-hcl", hcl)
	}
	a := &agent{bin: bin, ports: p, hcl: hcl, done: make(chan struct{}), logs: &lockedBuffer{}}
	a.cmd = exec.Command(bin, args...)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	a.cmd.SysProcAttr = agentProcAttr() // own process group, killed with us
	a.cmd.Env = append(os.Environ(), "CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR=")
	start := time.Now()
	if err := a.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		a.cmd.Wait()
		close(a.done)
	}()
	if err := a.waitLeader(); err != nil {
		a.stop()
		return nil, fmt.Errorf("%w\nagent output:\n%s", err, a.logs.String())
	}
	a.startup = time.Since(start)
	return a, nil
}

// waitLeader polls /v1/status/leader until the agent names a leader.
func (a *agent) waitLeader() error {
	deadline := time.Now().Add(agentStartTimeout)
	url := "http://" + a.addr() + "/v1/status/leader"
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return fmt.Errorf("consul agent exited during start-up: %v", a.cmd.ProcessState)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if s := strings.Trim(strings.TrimSpace(string(body)), `"`); resp.StatusCode == 200 && s != "" {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("consul agent on %s has no leader after %v", a.addr(), agentStartTimeout)
}

// stop kills the agent's process group and waits for it to exit.
func (a *agent) stop() {
	killGroup(a.cmd.Process.Pid)
	<-a.done
}

// client returns an api client for the agent with token (may be empty),
// sending its requests through rt when rt is not nil.
func (a *agent) client(t testing.TB, token string, rt http.RoundTripper) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = a.addr()
	cfg.Token = token
	cfg.Transport.MaxIdleConnsPerHost = 64
	if rt != nil {
		cfg.HttpClient = &http.Client{Transport: rt}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient(%s) = %v", a.addr(), err)
	}
	return c
}

// wipe deletes every key.
func (a *agent) wipe(t testing.TB) {
	t.Helper()
	if _, err := a.client(t, "", nil).KV().DeleteTree("", nil); err != nil {
		t.Fatalf("DeleteTree(\"\") = %v", err)
	}
}

// newStore returns a Store on the shared agent with an empty key space.
func newStore(t testing.TB, opts ...consul.Option) *consul.Store {
	t.Helper()
	a := sharedAgent(t)
	a.wipe(t)
	s, err := consul.New(a.client(t, "", nil), opts...)
	if err != nil {
		t.Fatalf("consul.New() = %v", err)
	}
	return s
}

// lockedBuffer is a bytes.Buffer safe for the agent's two output streams.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
