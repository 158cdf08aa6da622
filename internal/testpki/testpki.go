// Package testpki issues throwaway certificates for tests that need TLS: a
// self-signed ECDSA P-256 certificate authority per call to New, and server
// or client certificates it signs, each returned both as PEM bytes and as
// files in the test's temporary directory, ready for a server's or a
// client's configuration. Two CAs from New never trust each other, which is
// what "wrong CA" tests need.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// validBefore and validAfter are how far a certificate's validity reaches on
// each side of the moment it is issued: an hour back tolerates clock skew
// between the test and a server process, a day ahead outlasts any test run.
const (
	validBefore = time.Hour
	validAfter  = 24 * time.Hour
)

// Usage says what an issued certificate may be used for; combine with |.
type Usage uint8

// The extended key usages Issue can put in a certificate.
const (
	// ServerAuth lets the certificate identify a TLS server.
	ServerAuth Usage = 1 << iota
	// ClientAuth lets the certificate identify a TLS client.
	ClientAuth
)

// DefaultServerHosts are the names a ServerAuth certificate covers when
// Issue is given none: the loopback address and name, where every test
// server listens.
var DefaultServerHosts = []string{"127.0.0.1", "localhost"}

// cas numbers the CAs of this process, so that each has a name of its own.
var cas atomic.Int64

// CA is a self-signed certificate authority. Its methods are safe for
// concurrent use.
type CA struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	// CertPEM is Cert, PEM-encoded.
	CertPEM []byte
	// CAFile is the path of a file holding CertPEM, for a configuration
	// that names the CA bundle to trust.
	CAFile string

	key *ecdsa.PrivateKey
}

// Cert is a certificate and its private key, issued by a CA.
type Cert struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// CertPEM and KeyPEM are the certificate and its EC private key,
	// PEM-encoded.
	CertPEM, KeyPEM []byte
	// CertFile and KeyFile are the paths of files holding CertPEM and
	// KeyPEM.
	CertFile, KeyFile string
	// CAFile is the issuing CA's CAFile, the bundle that verifies Cert.
	CAFile string
	// KeyPair is the certificate and key ready for tls.Config.Certificates.
	KeyPair tls.Certificate
}

// New makes a self-signed CA whose files live in t.TempDir(). It fails t
// when it cannot.
func New(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	name := fmt.Sprintf("testpki CA %d", cas.Add(1))
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"leasectl tests"}},
		NotBefore:             time.Now().Add(-validBefore),
		NotAfter:              time.Now().Add(validAfter),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testpki: self-sign %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse %s: %v", name, err)
	}
	ca := &CA{Cert: cert, CertPEM: encode("CERTIFICATE", der), key: key}
	ca.CAFile = write(t, t.TempDir(), "ca.pem", ca.CertPEM)
	return ca
}

// Pool returns a certificate pool holding only the CA, for tls.Config's
// RootCAs or ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue makes a certificate for name (its common name) signed by ca, for
// usage, covering hosts: IP literals become IP addresses, anything else DNS
// names. A ServerAuth certificate given no hosts covers DefaultServerHosts.
// The files are written in a directory of their own under t.TempDir(). It
// fails t when it cannot.
func (ca *CA) Issue(t testing.TB, name string, usage Usage, hosts ...string) Cert {
	t.Helper()
	if usage&(ServerAuth|ClientAuth) == 0 || usage&^(ServerAuth|ClientAuth) != 0 {
		t.Fatalf("testpki: Issue(%q): usage %d, want ServerAuth, ClientAuth or both", name, usage)
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-validBefore),
		NotAfter:     time.Now().Add(validAfter),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if usage&ServerAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		if len(hosts) == 0 {
			hosts = DefaultServerHosts
		}
	}
	if usage&ClientAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("testpki: issue %q: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse %q: %v", name, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal the key of %q: %v", name, err)
	}
	c := Cert{
		Cert:    cert,
		CertPEM: encode("CERTIFICATE", der),
		KeyPEM:  encode("EC PRIVATE KEY", keyDER),
		CAFile:  ca.CAFile,
	}
	if c.KeyPair, err = tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		t.Fatalf("testpki: key pair of %q: %v", name, err)
	}
	dir := t.TempDir()
	c.CertFile = write(t, dir, "cert.pem", c.CertPEM)
	c.KeyFile = write(t, dir, "key.pem", c.KeyPEM)
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: generate key: %v", err)
	}
	return key
}

// newSerial returns a random 127-bit serial number: positive, and unique
// enough that no two certificates a test sees share one.
func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testpki: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

func encode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return path
}
