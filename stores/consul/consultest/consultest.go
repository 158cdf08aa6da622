// Package consultest starts real Consul agents for tests, in the spirit of
// net/http/httptest: `consul agent -dev` (in-memory state, a single server
// that elects itself) on free loopback ports, in a process group of its
// own, killed when the test ends.
//
//	a := consultest.Start(t)
//	kv := a.Client(t).KV()
//	kv.Put(&api.KVPair{Key: "exports/orders"}, nil)
//
// The binary is $LEASECTL_CONSUL or, when that is unset, the one that
// scripts/ensure-consul.sh prints, building it into the user cache the first
// time (a few minutes). No binary fails the test: tests that need Consul
// never skip.
//
// Start ties an agent to a test. New starts one that outlives any single
// test (for TestMain); its caller calls Close. On Linux the agent also dies
// with the test binary (PR_SET_PDEATHSIG), so a crashed or killed test
// leaves no agent behind.
package consultest

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
)

// StartTimeout bounds how long an agent may take to elect itself leader
// (and, with ACLs, to accept its management token).
const StartTimeout = 60 * time.Second

// startAttempts is how many port sets a first start tries: a free port can be
// taken by another process between choosing it and the agent binding it.
const startAttempts = 3

// waitDelay bounds how long stopping waits for the agent's output pipes
// after the process died.
const waitDelay = 5 * time.Second

// pollInterval is the pause between two readiness probes.
const pollInterval = 50 * time.Millisecond

// Option configures an agent.
type Option func(*options) error

type options struct {
	token string // ACL management token; "" without ACLs
	tls   *tlsFiles
	hcl   []string
}

type tlsFiles struct{ ca, cert, key string }

// WithACL enables ACLs with a default policy of deny and token as the
// initial management token. Start returns once token can use the KV store;
// Token returns it and Client sends it.
func WithACL(token string) Option {
	return func(o *options) error {
		if token == "" {
			return errors.New("consultest: WithACL: empty token")
		}
		o.token = token
		return nil
	}
}

// WithTLS makes the agent also serve HTTPS, on a port of its own (see
// HTTPSAddr), with the certificate and key in certFile and keyFile, and
// trust caFile. Plain HTTP stays on Addr.
func WithTLS(caFile, certFile, keyFile string) Option {
	return func(o *options) error {
		if caFile == "" || certFile == "" || keyFile == "" {
			return errors.New("consultest: WithTLS: need the CA, certificate and key files")
		}
		o.tls = &tlsFiles{caFile, certFile, keyFile}
		return nil
	}
}

// WithHCL adds a fragment of agent configuration in HCL, passed with -hcl.
func WithHCL(hcl string) Option {
	return func(o *options) error {
		if strings.TrimSpace(hcl) == "" {
			return errors.New("consultest: WithHCL: empty configuration")
		}
		o.hcl = append(o.hcl, hcl)
		return nil
	}
}

// ports are the listeners of one agent.
type ports struct{ http, https, serfLAN, serfWAN, server int }

// Agent is a running (or stopped) `consul agent -dev`. Its methods are safe
// for concurrent use.
type Agent struct {
	bin  string
	opts options

	mu      sync.Mutex
	ports   ports
	proc    *process // nil while stopped
	startup time.Duration
	closed  bool
}

// process is one agent process.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	logs *lockedBuffer
}

// Start starts an agent for t and kills it when t ends. It fails t when
// there is no binary or the agent does not become ready.
func Start(t testing.TB, opts ...Option) *Agent {
	t.Helper()
	a, err := New(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// New starts an agent that is not tied to a test; the caller must call
// Close. Use it in TestMain to share one agent among tests. ctx bounds the
// wait for the agent to become ready.
func New(ctx context.Context, opts ...Option) (*Agent, error) {
	a := &Agent{}
	for _, opt := range opts {
		if err := opt(&a.opts); err != nil {
			return nil, err
		}
	}
	var err error
	if a.bin, err = Binary(); err != nil {
		return nil, err
	}
	for range startAttempts {
		if a.ports, err = freePorts(); err != nil {
			return nil, err
		}
		err = a.launch(ctx)
		if err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Addr returns the agent's HTTP address, 127.0.0.1:PORT, which stays the
// same across Restart.
func (a *Agent) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprintf("127.0.0.1:%d", a.ports.http)
}

// HTTPAddr returns the agent's HTTP URL, http://127.0.0.1:PORT.
func (a *Agent) HTTPAddr() string { return "http://" + a.Addr() }

// HTTPSAddr returns the address, 127.0.0.1:PORT, where an agent started
// with WithTLS serves HTTPS; "" without WithTLS.
func (a *Agent) HTTPSAddr() string {
	if a.opts.tls == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprintf("127.0.0.1:%d", a.ports.https)
}

// Token returns the ACL management token given to WithACL; "" without ACLs.
func (a *Agent) Token() string { return a.opts.token }

// Config returns a new api client configuration for the agent: its HTTP
// address, scheme http and Token. Like every api configuration, fields it
// leaves empty are filled by api.NewClient from the CONSUL_HTTP_*
// environment (an empty token from $CONSUL_HTTP_TOKEN, for instance).
func (a *Agent) Config() *api.Config {
	cfg := api.DefaultConfig()
	cfg.Address = a.Addr()
	cfg.Scheme = "http"
	cfg.Token = a.opts.token
	return cfg
}

// Client returns an api client for the agent (see Config) whose idle
// connections are closed when t ends.
func (a *Agent) Client(t testing.TB) *api.Client {
	t.Helper()
	cfg := a.Config()
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("consultest: api.NewClient(%s) = %v", cfg.Address, err)
	}
	return c
}

// Startup returns how long the agent's last start took until it was ready:
// a leader elected and, with ACLs, the management token accepted.
func (a *Agent) Startup() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.startup
}

// Logs returns what the agent's current (or last) process has written to
// its standard output and error; it logs errors only.
func (a *Agent) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc == nil {
		return ""
	}
	return a.proc.logs.String()
}

// Stop kills the agent's process group and waits until the agent has
// exited. Its ports are kept for Restart. Stopping a stopped agent does
// nothing.
func (a *Agent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked()
}

func (a *Agent) stopLocked() {
	if a.proc == nil || a.proc.cmd.Process == nil {
		return
	}
	select {
	case <-a.proc.done:
		return // already stopped; logs kept for Logs
	default:
	}
	killGroup(a.proc.cmd.Process)
	<-a.proc.done
}

// Restart stops the agent if it runs and starts a new one on the same ports
// with the same options. A dev agent keeps its state in memory: the new one
// starts empty, with a new index history. It fails t when the agent does not
// come back.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	if err := a.restart(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (a *Agent) restart(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errors.New("consultest: Restart after Close")
	}
	a.stopLocked()
	a.mu.Unlock()
	return a.launch(ctx)
}

// Close stops the agent for good. It is safe to call more than once.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopLocked()
	a.closed = true
}

// errAddrInUse marks a start that failed because a port was taken.
var errAddrInUse = errors.New("address already in use")

// launch starts an agent process on a.ports and waits until it is ready.
func (a *Agent) launch(ctx context.Context) error {
	a.mu.Lock()
	p := a.ports
	a.mu.Unlock()
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
	if o := a.opts.token; o != "" {
		args = append(args, "-hcl", fmt.Sprintf(`acl { enabled = true default_policy = "deny" tokens { initial_management = %q } }`, o))
	}
	if f := a.opts.tls; f != nil {
		args = append(args, "-hcl", fmt.Sprintf(`ports { https = %d } tls { defaults { ca_file = %q cert_file = %q key_file = %q } }`,
			p.https, f.ca, f.cert, f.key))
	}
	for _, h := range a.opts.hcl {
		args = append(args, "-hcl", h)
	}

	proc := &process{done: make(chan struct{}), logs: &lockedBuffer{}}
	proc.cmd = exec.Command(a.bin, args...)
	proc.cmd.Stdout, proc.cmd.Stderr = proc.logs, proc.logs
	proc.cmd.SysProcAttr = procAttr() // own process group, killed with us
	proc.cmd.WaitDelay = waitDelay
	proc.cmd.Env = append(os.Environ(), "CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR=", "CONSUL_HTTP_SSL=")
	start := time.Now()
	if err := proc.cmd.Start(); err != nil {
		return fmt.Errorf("consultest: start %s: %w", a.bin, err)
	}
	go func() {
		proc.cmd.Wait()
		close(proc.done)
	}()
	a.mu.Lock()
	a.proc = proc
	a.mu.Unlock()

	err := a.waitReady(ctx, proc, p)
	if err != nil {
		a.Stop()
		if strings.Contains(proc.logs.String(), "address already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return fmt.Errorf("consultest: %w\nagent output:\n%s", err, proc.logs.String())
	}
	a.mu.Lock()
	a.startup = time.Since(start)
	a.mu.Unlock()
	return nil
}

// waitReady polls the agent until it names a leader and, with ACLs, until
// the management token can read the KV store (ACL bootstrap follows the
// election).
func (a *Agent) waitReady(ctx context.Context, proc *process, p ports) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	base := fmt.Sprintf("http://127.0.0.1:%d", p.http)
	probes := []probe{{"no leader", "/v1/status/leader", func(status int, body string) bool {
		return status == http.StatusOK && strings.Trim(strings.TrimSpace(body), `"`) != ""
	}}}
	if a.opts.token != "" {
		probes = append(probes, probe{"the management token is refused", "/v1/kv/consultest-probe", func(status int, _ string) bool {
			return status == http.StatusOK || status == http.StatusNotFound
		}})
	}
	for _, probe := range probes {
		var last string
		for {
			select {
			case <-proc.done:
				return fmt.Errorf("consul agent exited during start-up: %v", proc.cmd.ProcessState)
			default:
			}
			status, body, err := get(ctx, client, base+probe.path, a.opts.token)
			if err == nil && probe.ok(status, body) {
				break
			}
			if err != nil {
				last = err.Error()
			} else {
				last = fmt.Sprintf("HTTP %d: %s", status, strings.TrimSpace(body))
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("consul agent on %s: %s after %v (last answer: %s): %w", base, probe.what, StartTimeout, last, ctx.Err())
			case <-proc.done:
			case <-time.After(pollInterval):
			}
		}
	}
	return nil
}

// probe is one readiness check: a GET of path until ok accepts the answer;
// what says what is wrong while it does not.
type probe struct {
	what string
	path string
	ok   func(status int, body string) bool
}

// get makes one GET request with token and returns the status and body.
func get(ctx context.Context, client *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(body), err
}

// freePorts asks the kernel for five free loopback ports, holding them all
// before releasing any so that they differ. Another process could take one
// before the agent binds it; New then tries another set.
func freePorts() (ports, error) {
	var p [5]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range p {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, fmt.Errorf("consultest: free port: %w", err)
		}
		ls = append(ls, l)
		p[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{http: p[0], https: p[1], serfLAN: p[2], serfWAN: p[3], server: p[4]}, nil
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the Consul binary the agents run, found once
// per process: $LEASECTL_CONSUL, else the path that scripts/ensure-consul.sh
// prints (building the binary if the cache lacks it). The script is found in
// the module root: the first directory holding a go.mod, walking up from
// the working directory.
func Binary() (string, error) {
	binary.once.Do(func() { binary.path, binary.err = findBinary() })
	return binary.path, binary.err
}

func findBinary() (string, error) {
	if bin := os.Getenv("LEASECTL_CONSUL"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("consultest: LEASECTL_CONSUL=%s: %w", bin, err)
		}
		return bin, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, "scripts", "ensure-consul.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("consultest: no consul binary: LEASECTL_CONSUL is unset and %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("consultest: no consul binary: set LEASECTL_CONSUL or fix %s: %w\n%s", script, err, stderr.String())
	}
	bin := strings.TrimSpace(stdout.String())
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("consultest: %s printed %q: %w", script, bin, err)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the first directory
// holding a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("consultest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("consultest: no consul binary: LEASECTL_CONSUL is unset and no go.mod above the working directory")
		}
		dir = parent
	}
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
