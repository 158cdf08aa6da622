package natskv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dial's defaults.
const (
	// defaultName is the connection name Dial reports to the server, shown in
	// its monitoring endpoints.
	defaultName = "leasectl"

	// noReconnectBuffer turns nats.go's reconnect buffer off (nats.go
	// takes -1 for "none").
	noReconnectBuffer = -1

	// createHistory is the History of a bucket that Dial creates (Config.Create,
	// tests and demos only): enough revisions for the console's history view.
	createHistory = 10
)

// Config says how Dial connects. Secrets are given as files or values read
// from the environment by the caller, never stored in the configuration file.
type Config struct {
	// URL is the server URL, or a comma-separated list of them
	// (default nats.DefaultURL).
	URL string
	// Bucket is the KV bucket holding the leases.
	Bucket string
	// CredsFile is a user credentials file (JWT and NKey seed).
	CredsFile string
	// Token is an authentication token.
	Token string
	// NKeyFile is a file holding an NKey seed.
	NKeyFile string
	// TLS, when set, is the TLS configuration of the connection.
	TLS *tls.Config
	// Name is the connection name reported to the server (default "leasectl").
	Name string
	// Create creates the bucket when it is missing. For tests and demos
	// only: a fleet's bucket is provisioned with its replicas and limits.
	Create bool
}

// Dial connects to NATS as cfg says and opens the bucket. The connection
// reconnects without limit; while it is down, every call fails at once
// rather than queueing anything to send later. Close drains it.
func Dial(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("natskv: config: bucket is required")
	}
	auth := 0
	for _, set := range []bool{cfg.CredsFile != "", cfg.Token != "", cfg.NKeyFile != ""} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		return nil, errors.New("natskv: config: set at most one of creds, token and nkey")
	}
	url := cfg.URL
	if url == "" {
		url = nats.DefaultURL
	}
	name := cfg.Name
	if name == "" {
		name = defaultName
	}
	closed := make(chan struct{})
	nopts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		// No reconnect buffer: while the connection is down, a publish
		// or a request fails at once instead of waiting in nats.go's
		// buffer (8 MB by default) to be sent when the server is back —
		// long after the caller gave up on it, which would land a write
		// the operator abandoned (docs/design.md §5).
		nats.ReconnectBufSize(noReconnectBuffer),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}
	switch {
	case cfg.CredsFile != "":
		nopts = append(nopts, nats.UserCredentials(cfg.CredsFile))
	case cfg.Token != "":
		nopts = append(nopts, nats.Token(cfg.Token))
	case cfg.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("natskv: config: nkey: %w", err)
		}
		nopts = append(nopts, opt)
	}
	if cfg.TLS != nil {
		nopts = append(nopts, nats.Secure(cfg.TLS))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("natskv: connect %s: %w", url, err)
	}
	fail := func(err error) (*Store, error) {
		nc.Close()
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(fmt.Errorf("natskv: jetstream: %w", err))
	}
	if cfg.Create {
		_, err := js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: createHistory})
			if errors.Is(err, jetstream.ErrBucketExists) {
				err = nil // created meanwhile by someone else
			}
		}
		if err != nil {
			return fail(fmt.Errorf("natskv: create bucket %q: %w", cfg.Bucket, err))
		}
	}
	s, err := New(ctx, js, cfg.Bucket, opts...)
	if err != nil {
		return fail(err)
	}
	s.nc = nc
	s.ncClosed = closed
	return s, nil
}

// Close drains and closes the connection when Dial opened it, waiting until
// it is closed; it does nothing for a Store made by New. Watches end with
// their contexts, or when the connection closes.
func (s *Store) Close() error {
	if s.nc == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
			if !errors.Is(err, nats.ErrConnectionClosed) {
				s.closeErr = fmt.Errorf("natskv: close: %w", err)
			}
		}
		<-s.ncClosed
	})
	return s.closeErr
}
