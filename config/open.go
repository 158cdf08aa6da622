//go:build !js

package config

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/stores/natskv"
)

// defaultEtcdEndpoint is etcd's own default client URL.
const defaultEtcdEndpoint = "http://127.0.0.1:2379"

// Open dials the store s describes, resolving its secrets now, and returns
// it with the function that closes it. The store is not wrapped read-only
// here; callers decide that from the config and flags. A problem of the
// config that shows only now — a secret variable that is not set, a
// secret, TLS or credentials file that is missing or unusable — is an
// *Error, found before anything is dialled; any other error comes from the
// store.
func Open(ctx context.Context, s Store) (stores.Store, func() error, error) {
	tlsConf := s.TLS
	switch s.Kind {
	case KindMemory:
		m := memory.New()
		return m, m.Close, nil

	case KindEtcd:
		cfg := etcd.Config{Endpoints: s.Endpoints, Username: s.Username}
		if len(cfg.Endpoints) == 0 {
			cfg.Endpoints = []string{defaultEtcdEndpoint}
			if env := os.Getenv("ETCDCTL_ENDPOINTS"); env != "" {
				cfg.Endpoints = splitList(env)
			}
		}
		pw, err := s.secret("password_env", s.PasswordEnv, "password_file", s.PasswordFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Password = pw
		if tlsConf != nil {
			if cfg.TLS, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, s.fieldError("tls", err)
			}
		}
		st, err := etcd.Dial(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil

	case KindConsul:
		cfg := consul.Config{Address: s.Address, Datacenter: s.Datacenter}
		tok, err := s.secret("token_env", s.TokenEnv, "token_file", s.TokenFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Token = tok // empty: the api client falls back to $CONSUL_HTTP_TOKEN
		if tlsConf != nil {
			if cfg.TLS.Config, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, s.fieldError("tls", err)
			}
			cfg.Scheme = "https"
		}
		var opts []consul.Option
		if s.WatchShards > 0 {
			opts = append(opts, consul.WithWatchShards(s.WatchShards))
		}
		st, err := consul.Dial(ctx, cfg, opts...)
		if err != nil {
			return nil, nil, err
		}
		// The Consul client is plain HTTP with pooled connections: nothing
		// to close.
		return st, func() error { return nil }, nil

	case KindNATS:
		cfg := natskv.Config{URL: s.URL, Bucket: s.Bucket, CredsFile: s.Creds}
		if cfg.URL == "" {
			cfg.URL = os.Getenv("NATS_URL")
		}
		tok, err := s.secret("token_env", s.TokenEnv, "token_file", s.TokenFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Token = tok
		if s.Creds != "" {
			if err := readable(s.Creds); err != nil {
				return nil, nil, s.fieldError("creds", err)
			}
		}
		if tlsConf != nil {
			if cfg.TLS, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, s.fieldError("tls", err)
			}
		}
		st, err := natskv.Dial(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	return nil, nil, fmt.Errorf("config: store %s: unknown kind %q", s.Name, s.Kind)
}

// readable checks that the file at path can be opened for reading.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// splitList splits a comma-separated environment list.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
