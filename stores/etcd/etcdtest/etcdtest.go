// Package etcdtest starts real etcd servers for tests, in the spirit of
// net/http/httptest: a single-member etcd embedded in the test binary
// (go.etcd.io/etcd/server/v3/embed), listening on free loopback ports, with
// its data in a temporary directory, fsync off and its logs discarded.
//
//	srv := etcdtest.Start(t)
//	cli := srv.Client(t)
//	cli.Put(t.Context(), "exports/orders", "")
//
// Start ties the server to a test and stops it when the test ends. New
// starts one that outlives any single test (for TestMain); its caller
// calls Close. Stop and Restart take the server down and bring it back on
// the same data directory and ports, so clients reconnect to it as to a
// restarted member.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// StartTimeout bounds how long a server may take to become ready; generous,
// because a busy two-core machine running -race tests is slow to elect.
const StartTimeout = time.Minute

// startAttempts is how many port pairs a first start tries: a free port can
// be taken by another process between choosing it and binding it.
const startAttempts = 3

// bcryptCost is bcrypt.MinCost: password checks in milliseconds under -race
// for tests that enable authentication.
const bcryptCost = 4

// Option configures a server.
type Option func(*options) error

type options struct {
	tls    *transport.TLSInfo
	logger *zap.Logger
}

// WithTLS makes the server serve clients over TLS as info describes (server
// certificate, key, trusted CA, whether client certificates are required).
// Client uses info.ClientConfig: set info.ClientCertFile and ClientKeyFile
// when the server requires client certificates.
func WithTLS(info transport.TLSInfo) Option {
	return func(o *options) error {
		if info.CertFile == "" || info.KeyFile == "" {
			return errors.New("etcdtest: WithTLS: the server needs CertFile and KeyFile")
		}
		o.tls = &info
		return nil
	}
}

// WithLogger sends the server's logs to logger instead of discarding them,
// e.g. zaptest.NewLogger(t) while debugging.
func WithLogger(logger *zap.Logger) Option {
	return func(o *options) error {
		if logger == nil {
			return errors.New("etcdtest: WithLogger: nil logger")
		}
		o.logger = logger
		return nil
	}
}

// Server is a running (or stopped) embedded etcd member. Its methods are
// safe for concurrent use.
type Server struct {
	opts   options
	dir    string
	ownDir bool   // dir was made by New; Close removes it
	ports  [2]int // client, peer

	mu     sync.Mutex
	e      *embed.Etcd // nil while stopped
	closed bool
}

// Start starts a server for t, with its data in t.TempDir(), and stops it
// when t ends. It fails t when the server cannot start.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := start(t.TempDir(), false, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a server that is not tied to a test, with its data in a new
// temporary directory; the caller must call Close, which also removes the
// directory. Use it in TestMain to share one server among tests.
func New(opts ...Option) (*Server, error) {
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", err)
	}
	s, err := start(dir, true, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// start starts a server on dir; its errors are prefixed with the package.
func start(dir string, ownDir bool, opts []Option) (*Server, error) {
	s := &Server{dir: dir, ownDir: ownDir, opts: options{logger: zap.NewNop()}}
	for _, opt := range opts {
		if err := opt(&s.opts); err != nil {
			return nil, err
		}
	}
	var err error
	for range startAttempts {
		if s.ports, err = freePorts(); err != nil {
			return nil, fmt.Errorf("etcdtest: %w", err)
		}
		if s.e, err = s.launch(); err == nil || !isAddrInUse(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("etcdtest: %w", err)
	}
	return s, nil
}

// Endpoints returns the client URLs of the server: one, on loopback, with
// scheme https when it serves TLS.
func (s *Server) Endpoints() []string {
	return []string{s.clientURL().String()}
}

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Client returns a client of the server, closed when t ends. With WithTLS
// it dials with the TLS configuration's client side. opts are added to the
// client's gRPC dial options (interceptors, for instance).
func (s *Server) Client(t testing.TB, opts ...grpc.DialOption) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{
		Endpoints:   s.Endpoints(),
		DialTimeout: StartTimeout,
		DialOptions: opts,
		Logger:      zap.NewNop(),
	}
	if s.opts.tls != nil {
		tc, err := s.opts.tls.ClientConfig()
		if err != nil {
			t.Fatalf("etcdtest: client TLS: %v", err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatalf("etcdtest: clientv3.New(%v) = %v", cfg.Endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Stop stops the server, keeping its data directory and ports for Restart.
// Clients see the member go down. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart stops the server if it runs and starts it again on the same data
// directory and ports: its keys and revisions survive. It fails t when the
// server cannot come back (another process took a port, for instance).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		t.Fatal("etcdtest: Restart after Close")
	}
	s.stopLocked()
	e, err := s.launch()
	if err != nil {
		t.Fatalf("etcdtest: restart: %v", err)
	}
	s.e = e
}

// Close stops the server for good and, for a server made by New, removes
// its data directory. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if !s.closed && s.ownDir {
		os.RemoveAll(s.dir)
	}
	s.closed = true
}

func (s *Server) clientURL() *url.URL {
	scheme := "http"
	if s.opts.tls != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: fmt.Sprintf("127.0.0.1:%d", s.ports[0])}
}

// launch starts a member on s's directory and ports and waits until it
// serves.
func (s *Server) launch() (*embed.Etcd, error) {
	client := *s.clientURL()
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", s.ports[1])}

	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.BcryptCost = bcryptCost
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(s.opts.logger)
	if s.opts.tls != nil {
		cfg.ClientTLSInfo = *s.opts.tls
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd in %s: %w", s.dir, err)
	}
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: %w", s.dir, err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: not ready after %v", s.dir, StartTimeout)
	}
}

// freePorts picks a client and a peer port on loopback. A fixed pair rather
// than port 0 lets a restarted server come back at the same address.
func freePorts() ([2]int, error) {
	var ports [2]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// isAddrInUse reports whether err is a failure to bind a port another
// process took.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || err != nil && strings.Contains(err.Error(), "address already in use")
}

// Shared is one server for all the tests of a package, started by the
// first test that asks for it. A server started in TestMain before m.Run
// races with it: under go test -json, testing.M.Run swaps os.Stderr while
// the server's goroutines, still starting, read it. TestMain calls Close
// after m.Run. The zero Shared is ready to use.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on the first call; it fails t
// when the server cannot start.
func (s *Shared) Get(t testing.TB) *Server {
	t.Helper()
	s.once.Do(func() { s.srv, s.err = New() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv
}

// Close stops the server, if a test started it.
func (s *Shared) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}
