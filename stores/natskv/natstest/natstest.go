// Package natstest starts real NATS servers with JetStream for tests, in the
// spirit of net/http/httptest: a nats-server embedded in the test binary,
// listening on a free loopback port, storing streams in a temporary
// directory, with its logs and signal handlers off.
//
//	srv := natstest.Start(t)
//	_, js := srv.Connect(t)
//	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "leases", History: 10})
//
// (A bucket keeps one value per key unless History says more; the History
// checks of stores/storetest need at least three.)
//
// Start ties the server to a test and shuts it down when the test ends. New
// starts one that outlives any single test (for TestMain); its caller calls
// Close. Stop and Restart take the server down and bring it back on the same
// port and store directory, so its streams survive and clients reconnect.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartTimeout bounds how long a server may take to accept connections and
// answer a JetStream request; generous for a busy machine running -race.
const StartTimeout = 30 * time.Second

// Anchor is the stream a server creates at start-up unless WithoutAnchor is
// given, and AnchorSubject its only subject.
//
// nats-server v2.15.2 removes an account's streams directory in a goroutine
// after its last stream is deleted (stream.go, deleteStream); creating the
// next stream races with that removal and fails with "could not create
// storage directory" (error 10049). Tests that create and delete buckets
// trip over it; a stream that lives as long as the server keeps the
// directory non-empty.
const (
	Anchor        = "NATSTEST_ANCHOR"
	AnchorSubject = "_natstest.anchor"
)

// Option configures a server.
type Option func(*options) error

type options struct {
	configure []func(*server.Options)
	client    []nats.Option
	logging   bool
	noAnchor  bool
}

// WithServerOptions lets configure change the server's options after the
// defaults are set (loopback host, JetStream, the store directory, no logs,
// no signals), e.g. to require authentication (see WithClientOptions) or cap
// JetStream's storage. The port chosen at the first start is kept on Restart
// whatever configure sets.
func WithServerOptions(configure func(*server.Options)) Option {
	return func(o *options) error {
		if configure == nil {
			return errors.New("natstest: WithServerOptions: nil function")
		}
		o.configure = append(o.configure, configure)
		return nil
	}
}

// WithClientOptions sets options that every connection the package makes
// uses: the one that creates the Anchor stream, and Connect's (before the
// options given to Connect). A server that WithServerOptions makes require
// authentication needs the credentials here.
func WithClientOptions(opts ...nats.Option) Option {
	return func(o *options) error {
		o.client = append(o.client, opts...)
		return nil
	}
}

// WithLogging makes the server log to standard error, for debugging.
func WithLogging() Option {
	return func(o *options) error {
		o.logging = true
		return nil
	}
}

// WithoutAnchor starts the server without the Anchor stream, for a test
// that needs an account with no stream at all.
func WithoutAnchor() Option {
	return func(o *options) error {
		o.noAnchor = true
		return nil
	}
}

// Server is a running (or stopped) embedded NATS server with JetStream. Its
// methods are safe for concurrent use.
type Server struct {
	opts   options
	dir    string
	ownDir bool // dir was made by New; Close removes it

	mu     sync.Mutex
	port   int            // -1 until the first start has picked one
	srv    *server.Server // nil while stopped
	closed bool
}

// Start starts a server for t, storing in t.TempDir(), and shuts it down
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

// New starts a server that is not tied to a test, storing in a new temporary
// directory; the caller must call Close, which also removes the directory.
// Use it in TestMain to share one server among tests.
func New(opts ...Option) (*Server, error) {
	dir, err := os.MkdirTemp("", "natstest-")
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
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
	s := &Server{dir: dir, ownDir: ownDir, port: -1}
	for _, opt := range opts {
		if err := opt(&s.opts); err != nil {
			return nil, err
		}
	}
	srv, err := s.launch()
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
	if !s.opts.noAnchor {
		if err := anchor(s.URL(), s.opts.client); err != nil {
			s.Close()
			return nil, fmt.Errorf("natstest: %w", err)
		}
	}
	return s, nil
}

// URL returns the server's client URL, nats://127.0.0.1:PORT. It stays the
// same across Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", s.port)
}

// Dir returns the server's JetStream store directory.
func (s *Server) Dir() string { return s.dir }

// Connect returns a connection to the server and its JetStream context,
// closed when t ends. opts follow those given by WithClientOptions.
func (s *Server) Connect(t testing.TB, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL(), append(slices.Clone(s.opts.client), opts...)...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", s.URL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// Stop shuts the server down and waits until it is down, keeping its port
// and store directory for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server if it runs and starts it again on the same port
// and store directory: its streams and buckets survive, and clients with
// reconnection enabled come back. It fails t when the server cannot start
// (another process took the port, for instance).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		t.Fatal("natstest: Restart after Close")
	}
	s.stopLocked()
	srv, err := s.launch()
	if err != nil {
		t.Fatalf("natstest: restart: %v", err)
	}
	s.srv = srv
}

// Close shuts the server down for good and, for a server made by New,
// removes its store directory. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	if !s.closed && s.ownDir {
		os.RemoveAll(s.dir)
	}
	s.closed = true
}

// launch starts a server on s's port (any port the first time) and waits
// until it accepts connections.
func (s *Server) launch() (*server.Server, error) {
	o := &server.Options{
		Host:      "127.0.0.1",
		JetStream: true,
		StoreDir:  s.dir,
		NoLog:     !s.opts.logging,
		NoSigs:    true,
	}
	for _, f := range s.opts.configure {
		f(o)
	}
	o.Port = s.port
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if s.opts.logging {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(StartTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("server in %s not ready for connections after %v", s.dir, StartTimeout)
	}
	return srv, nil
}

// anchor creates the Anchor stream, which keeps the account's streams
// directory alive (see Anchor).
func anchor(url string, opts []nats.Option) error {
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("anchor: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: Anchor, Subjects: []string{AnchorSubject}}); err != nil {
		return fmt.Errorf("anchor: create stream %s: %w", Anchor, err)
	}
	return nil
}
