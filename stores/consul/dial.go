package consul

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/consul/api"
)

// Dial's defaults.
const (
	// DefaultAddress is the agent's address when neither Config.Address nor
	// $CONSUL_HTTP_ADDR is set: the local agent, as every Consul tool assumes.
	DefaultAddress = "127.0.0.1:8500"

	// maxIdleConnsPerHost lets Dial's client keep one connection per
	// concurrent caller (many leases of one process, the blocking queries of
	// the console's watches) instead of the api default of GOMAXPROCS+1,
	// which makes every extra concurrent request open and close a socket.
	maxIdleConnsPerHost = DefaultWatchShards + 28
)

// Config says how to reach a Consul agent. Empty fields follow Consul's own
// conventions: the api client reads $CONSUL_HTTP_ADDR, $CONSUL_HTTP_TOKEN,
// $CONSUL_HTTP_TOKEN_FILE, $CONSUL_HTTP_SSL and $CONSUL_CACERT and friends,
// like the consul command does.
type Config struct {
	// Address is host:port, or a URL with an http:// or https:// scheme.
	// Default: $CONSUL_HTTP_ADDR, then DefaultAddress.
	Address string
	// Scheme is "http" or "https"; default "http", or "https" when TLS is
	// configured.
	Scheme string
	// Token is the ACL token sent with every request.
	Token string
	// TLS configures HTTPS to the agent.
	TLS TLSConfig
	// Datacenter is the datacenter to query; default: the agent's own.
	Datacenter string
}

// TLSConfig configures HTTPS to the agent: either files or a ready
// *tls.Config, not both.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the agent's certificate.
	CAFile string
	// CertFile is the client certificate (PEM), for an agent that verifies
	// incoming connections; it needs KeyFile.
	CertFile string
	// KeyFile is the client certificate's private key (PEM).
	KeyFile string
	// Config, when set, is used as is (cloned); the file fields must then be
	// empty.
	Config *tls.Config
}

func (t TLSConfig) enabled() bool {
	return t.Config != nil || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// Dial builds a client for the agent described by cfg and returns a Store on
// it, after checking within ctx that the agent answers and knows a cluster
// leader, so that a wrong address or a dead agent fails here with a clear
// error rather than at the first lease operation.
func Dial(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	ac, err := cfg.apiConfig()
	if err != nil {
		return nil, err
	}
	s, err := New(ac, opts...)
	if err != nil {
		return nil, err
	}
	leader, err := s.client.Status().LeaderWithQueryOptions((&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul: dial %s: %w", ac.Address, classify(err))
	}
	if leader == "" {
		return nil, fmt.Errorf("consul: dial %s: the agent knows no cluster leader", ac.Address)
	}
	return s, nil
}

// apiConfig turns cfg into the api client's configuration.
func (cfg Config) apiConfig() (*api.Config, error) {
	ac := api.DefaultConfig() // pooled transport; reads the CONSUL_* environment
	ac.Address = cfg.Address
	if ac.Address == "" {
		ac.Address = os.Getenv(api.HTTPAddrEnvName)
	}
	if ac.Address == "" {
		ac.Address = DefaultAddress
	}
	switch cfg.Scheme {
	case "":
		if cfg.TLS.enabled() {
			ac.Scheme = "https"
		}
	case "http", "https":
		ac.Scheme = cfg.Scheme
	default:
		return nil, fmt.Errorf("consul: scheme %q: want http or https", cfg.Scheme)
	}
	if cfg.Token != "" {
		ac.Token = cfg.Token
	}
	ac.Datacenter = cfg.Datacenter
	ac.Transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	if t := cfg.TLS; t.Config != nil {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
			return nil, errors.New("consul: tls: set either a *tls.Config or files, not both")
		}
		ac.Transport.TLSClientConfig = t.Config.Clone()
	} else if t.enabled() {
		if (t.CertFile == "") != (t.KeyFile == "") {
			return nil, errors.New("consul: tls: a client certificate needs both a cert and a key file")
		}
		ac.TLSConfig.CAFile = t.CAFile
		ac.TLSConfig.CertFile = t.CertFile
		ac.TLSConfig.KeyFile = t.KeyFile
	}
	return ac, nil
}
