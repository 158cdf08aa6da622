package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultDialTimeout bounds Dial when neither Config.DialTimeout nor the
// context sets a shorter limit: long enough for a TLS handshake and an auth
// round trip across regions, short enough that a console start-up with a dead
// store does not look frozen.
const DefaultDialTimeout = 5 * time.Second

// Connection upkeep for stores built by Dial.
const (
	keepAliveTime    = 30 * time.Second
	keepAliveTimeout = 10 * time.Second
)

var reconnectBackoff = backoff.Config{
	BaseDelay:  250 * time.Millisecond,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   5 * time.Second,
}

// Config says how Dial reaches an etcd cluster.
type Config struct {
	// Endpoints are the cluster's client URLs, e.g. https://etcd-1:2379.
	Endpoints []string
	// Username and Password enable etcd authentication; both or neither.
	Username, Password string
	// TLS, when set, is used for every endpoint (CA, client certificate).
	TLS *tls.Config
	// DialTimeout bounds Dial (default DefaultDialTimeout); a context
	// deadline that comes sooner wins.
	DialTimeout time.Duration
}

// Dial connects to the cluster described by cfg and returns a Store that owns
// its client: Close closes it. Dial checks that the cluster answers (TLS
// handshake, authentication, one request) before it returns, so a wrong CA,
// a missing client certificate, a wrong password or an unreachable endpoint
// is reported here, as an error that names the endpoints and says what went
// wrong. When no endpoint accepts a connection, Dial says so as soon as each
// has failed once rather than waiting out its timeout. The client logs
// nothing: everything it has to say comes back as errors.
func Dial(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	where := strings.Join(cfg.Endpoints, ",")
	dialTimeout := cfg.DialTimeout
	if dialTimeout == 0 {
		dialTimeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// clientv3.New fetches the auth token under its own DialTimeout.
	timeout := dialTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}

	rec := &connErrRecorder{}
	ccfg := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		Username:    cfg.Username,
		Password:    cfg.Password,
		TLS:         cfg.TLS,
		DialTimeout: timeout,
		// Notice a dead peer on an idle watch stream, and reconnect
		// within seconds once it is back (gRPC's default waits up to 2m).
		DialKeepAliveTime:    keepAliveTime,
		DialKeepAliveTimeout: keepAliveTimeout,
		DialOptions: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(rec.intercept),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           reconnectBackoff,
				MinConnectTimeout: dialTimeout,
			}),
		},
		Logger: zap.NewNop(),
	}
	cli, err := newClient(ctx, ccfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: dial %s: %w", where, rec.explain(err))
	}
	if err := probe(ctx, cli, rec); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd: dial %s: %w", where, err)
	}
	s, err := New(cli, opts...)
	if err != nil {
		cli.Close()
		return nil, err
	}
	s.owned = true
	rec.stop()
	return s, nil
}

// probe makes one cheap request to prove the transport, TLS and credentials.
// Alarm GET needs an authenticated user but no key permission, so a user
// scoped to one prefix passes. It fails fast, with the connection error,
// when every endpoint has failed to connect: waiting out the deadline would
// only hide that error.
func probe(ctx context.Context, cli *clientv3.Client, rec *connErrRecorder) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost atomic.Bool
	go watchConn(ctx, cli.ActiveConnection(), func() {
		lost.Store(true)
		cancel()
	})
	_, err := cli.AlarmList(ctx)
	switch {
	case err == nil:
		return nil
	case lost.Load():
		return unreachable(cli)
	}
	return rec.explain(err)
}

func (cfg Config) validate() error {
	switch {
	case len(cfg.Endpoints) == 0:
		return errors.New("etcd: dial: no endpoints")
	case cfg.Username == "" && cfg.Password != "":
		return errors.New("etcd: dial: password without username")
	case cfg.Username != "" && cfg.Password == "":
		// clientv3 would silently connect without authenticating.
		return fmt.Errorf("etcd: dial: username %q without password", cfg.Username)
	case cfg.DialTimeout < 0:
		return fmt.Errorf("etcd: dial: negative dial timeout %v", cfg.DialTimeout)
	}
	for _, ep := range cfg.Endpoints {
		if strings.TrimSpace(ep) == "" {
			return errors.New("etcd: dial: empty endpoint")
		}
	}
	return nil
}

// newClient runs clientv3.New, which blocks while it authenticates, so that
// a canceled ctx can abandon it; an abandoned client is closed when New
// returns. At ctx's deadline it waits for New, which shares that deadline
// through DialTimeout and returns with it, because New's error is the one
// that says why the connection failed.
func newClient(ctx context.Context, cfg clientv3.Config) (*clientv3.Client, error) {
	type result struct {
		cli *clientv3.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		cli, err := clientv3.New(cfg)
		done <- result{cli, err}
	}()
	select {
	case r := <-done:
		return r.cli, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r := <-done
			return r.cli, r.err
		}
		go func() {
			if r := <-done; r.cli != nil {
				r.cli.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// connErrRecorder remembers the last transport-level error of the unary
// calls Dial makes while it connects. clientv3.New authenticates with a
// deadline and, when the connection keeps failing, returns the bare
// "context deadline exceeded"; the recorder sees the gRPC status before that
// and gives the reason back (refused, TLS, DNS).
type connErrRecorder struct {
	off  atomic.Bool // Dial is over: record nothing
	mu   sync.Mutex
	last string
}

func (r *connErrRecorder) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if r.off.Load() {
		return err
	}
	msg := ""
	if st, ok := status.FromError(err); ok && err != nil {
		msg = transportMessage(st)
	}
	r.mu.Lock()
	r.last = msg
	r.mu.Unlock()
	return err
}

// stop ends the recording once Dial has succeeded.
func (r *connErrRecorder) stop() { r.off.Store(true) }

// transportMessage returns what a status says about the connection, or ""
// when it is not a connection failure.
func transportMessage(st *status.Status) string {
	const balancer = "latest balancer error: "
	switch msg := st.Message(); st.Code() {
	case codes.Unavailable:
		return msg
	case codes.DeadlineExceeded, codes.Canceled:
		if i := strings.Index(msg, balancer); i >= 0 {
			return msg[i+len(balancer):]
		}
	}
	return ""
}

// explain adds the last connection error to err when err is a bare context
// error.
func (r *connErrRecorder) explain(err error) error {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	if last == "" || strings.Contains(err.Error(), last) {
		return err
	}
	return fmt.Errorf("%w (last connection error: %s)", err, last)
}
