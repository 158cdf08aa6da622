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
// here; callers decide that from the config and flags.
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
		pw, err := Secret(s.PasswordEnv, s.PasswordFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Password = pw
		if tlsConf != nil {
			if cfg.TLS, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, err
			}
		}
		st, err := etcd.Dial(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil

	case KindConsul:
		cfg := consul.Config{Address: s.Address, Datacenter: s.Datacenter}
		tok, err := Secret(s.TokenEnv, s.TokenFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Token = tok // empty: the api client falls back to $CONSUL_HTTP_TOKEN
		if tlsConf != nil {
			if cfg.TLS.Config, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, err
			}
			cfg.Scheme = "https"
		}
		st, err := consul.Dial(ctx, cfg)
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
		tok, err := Secret(s.TokenEnv, s.TokenFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Token = tok
		if tlsConf != nil {
			if cfg.TLS, err = tlsConf.TLSConfig(); err != nil {
				return nil, nil, err
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
