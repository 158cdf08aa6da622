package consul_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
)

// TestDialTLS starts an agent that serves HTTPS with a certificate from a
// throwaway CA and dials it with Config.TLS as files and as a *tls.Config.
func TestDialTLS(t *testing.T) {
	dir := t.TempDir()
	caPEM, pool := writeCerts(t, dir)
	a := consultest.Start(t, consultest.WithTLS(caPEM, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")))
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

// writeCerts writes ca.pem, server.pem and server-key.pem (for 127.0.0.1 and
// server.dc1.consul) into dir and returns the CA file and pool.
func writeCerts(t *testing.T, dir string) (string, *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "leasectl test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "server.dc1.consul"},
		DNSNames:     []string{"server.dc1.consul", "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", leafDER)
	write("server-key.pem", "EC PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return caFile, pool
}
