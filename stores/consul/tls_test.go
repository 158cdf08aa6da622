package consul_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/internal/testpki"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

// TestDialTLS starts an agent that serves HTTPS with a certificate from a
// throwaway CA and dials it with Config.TLS as files and as a *tls.Config.
func TestDialTLS(t *testing.T) {
	ca := testpki.New(t)
	server := ca.Issue(t, "server.dc1.consul", testpki.ServerAuth|testpki.ClientAuth, "server.dc1.consul", "localhost", "127.0.0.1")
	caPEM, pool := ca.CAFile, ca.Pool()
	a := consultest.Start(t, consultest.WithTLS(caPEM, server.CertFile, server.KeyFile))
	wipe(t, a)
	addr := a.HTTPSAddr()

	for _, tc := range []struct {
		name string
		cfg  consul.Config
	}{
		{"ca-file", consul.Config{Address: addr, TLS: consul.TLSConfig{CAFile: caPEM}}},
		{"https-url", consul.Config{Address: "https://" + addr, TLS: consul.TLSConfig{CAFile: caPEM}}},
		{"tls-config", consul.Config{Address: addr, Scheme: "https", TLS: consul.TLSConfig{Config: &tls.Config{RootCAs: pool}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := consul.Dial(t.Context(), tc.cfg)
			if err != nil {
				t.Fatalf("Dial(%s) = %v", tc.name, err)
			}
			key := "tls/" + tc.name
			rev := mustCreate(t, s, key, []byte("v"))
			if e, err := s.Get(t.Context(), key); err != nil || e.Revision != rev {
				t.Errorf("Get(%q) over HTTPS = %+v, %v, want revision %d", key, e, err, rev)
			}
		})
	}

	t.Run("unknown-ca", func(t *testing.T) {
		t.Setenv("CONSUL_CACERT", "")
		_, err := consul.Dial(t.Context(), consul.Config{Address: addr, Scheme: "https"})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Dial(%s) without the CA = %v, want a certificate error", addr, err)
		}
	})
}
