package testpki_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/internal/testpki"
)

func TestIssueVerify(t *testing.T) {
	ca := testpki.New(t)
	other := testpki.New(t)
	server := ca.Issue(t, "server", testpki.ServerAuth)
	client := ca.Issue(t, "client", testpki.ClientAuth)
	both := ca.Issue(t, "server.dc1.consul", testpki.ServerAuth|testpki.ClientAuth, "server.dc1.consul", "localhost", "127.0.0.1")

	serverUse := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientUse := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	for _, tc := range []struct {
		name  string
		cert  testpki.Cert
		roots *testpki.CA
		host  string
		usage []x509.ExtKeyUsage
		// want is the kind of error Verify must return; nil for success.
		want error
	}{
		{"server-ip", server, ca, "127.0.0.1", serverUse, nil},
		{"server-localhost", server, ca, "localhost", serverUse, nil},
		{"server-other-host", server, ca, "example.com", serverUse, x509.HostnameError{}},
		{"server-wrong-ca", server, other, "127.0.0.1", serverUse, x509.UnknownAuthorityError{}},
		{"server-as-client", server, ca, "", clientUse, x509.CertificateInvalidError{}},
		{"client", client, ca, "", clientUse, nil},
		{"client-as-server", client, ca, "", serverUse, x509.CertificateInvalidError{}},
		{"client-wrong-ca", client, other, "", clientUse, x509.UnknownAuthorityError{}},
		{"both-dns", both, ca, "server.dc1.consul", serverUse, nil},
		{"both-ip", both, ca, "127.0.0.1", serverUse, nil},
		{"both-as-client", both, ca, "", clientUse, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Cert.Verify(x509.VerifyOptions{Roots: tc.roots.Pool(), DNSName: tc.host, KeyUsages: tc.usage})
			switch want := tc.want.(type) {
			case nil:
				if err != nil {
					t.Errorf("Verify(%s) = %v, want nil", tc.name, err)
				}
			case x509.HostnameError:
				if !errors.As(err, &want) {
					t.Errorf("Verify(%s) = %v, want a HostnameError", tc.name, err)
				}
			case x509.UnknownAuthorityError:
				if !errors.As(err, &want) {
					t.Errorf("Verify(%s) = %v, want an UnknownAuthorityError", tc.name, err)
				}
			case x509.CertificateInvalidError:
				if !errors.As(err, &want) || want.Reason != x509.IncompatibleUsage {
					t.Errorf("Verify(%s) = %v, want IncompatibleUsage", tc.name, err)
				}
			}
		})
	}
}

func TestIssueContents(t *testing.T) {
	ca := testpki.New(t)
	for _, tc := range []struct {
		name    string
		usage   testpki.Usage
		hosts   []string
		wantDNS []string
		wantIPs []string
		wantExt []x509.ExtKeyUsage
	}{
		{"server-default-hosts", testpki.ServerAuth, nil, []string{"localhost"}, []string{"127.0.0.1"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"server-own-hosts", testpki.ServerAuth, []string{"::1", "db.test"}, []string{"db.test"}, []string{"::1"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"client-no-hosts", testpki.ClientAuth, nil, nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{"both", testpki.ServerAuth | testpki.ClientAuth, []string{"a.test"}, []string{"a.test"}, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ca.Issue(t, tc.name, tc.usage, tc.hosts...)
			var ips []string
			for _, ip := range c.Cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if c.Cert.Subject.CommonName != tc.name || !slices.Equal(c.Cert.DNSNames, tc.wantDNS) || !slices.Equal(ips, tc.wantIPs) || !slices.Equal(c.Cert.ExtKeyUsage, tc.wantExt) {
				t.Errorf("Issue(%q) = CN %q, DNS %q, IPs %q, usage %v; want DNS %q, IPs %q, usage %v",
					tc.name, c.Cert.Subject.CommonName, c.Cert.DNSNames, ips, c.Cert.ExtKeyUsage, tc.wantDNS, tc.wantIPs, tc.wantExt)
			}
			if c.Cert.IsCA {
				t.Errorf("Issue(%q) made a CA certificate", tc.name)
			}
		})
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.String() != ca.Cert.Issuer.String() {
		t.Errorf("New() = IsCA %v, subject %q, issuer %q; want a self-signed CA", ca.Cert.IsCA, ca.Cert.Subject, ca.Cert.Issuer)
	}
}

// TestFiles checks that the files hold what the PEM fields say and load as
// tls.LoadX509KeyPair and a CA bundle would be loaded by a server.
func TestFiles(t *testing.T) {
	ca := testpki.New(t)
	a := ca.Issue(t, "same", testpki.ServerAuth)
	b := ca.Issue(t, "same", testpki.ClientAuth)
	for _, f := range []struct {
		path string
		want []byte
	}{
		{ca.CAFile, ca.CertPEM},
		{a.CAFile, ca.CertPEM},
		{a.CertFile, a.CertPEM},
		{a.KeyFile, a.KeyPEM},
		{b.CertFile, b.CertPEM},
		{b.KeyFile, b.KeyPEM},
	} {
		got, err := os.ReadFile(f.path)
		if err != nil || !bytes.Equal(got, f.want) {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want the %d bytes of the matching PEM field", f.path, len(got), err, len(f.want))
		}
	}
	if a.CertFile == b.CertFile || a.KeyFile == b.KeyFile || bytes.Equal(a.CertPEM, b.CertPEM) || a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Errorf("two Issue(%q) calls share files, PEM or serial: %s %s, serials %v %v", "same", a.CertFile, b.CertFile, a.Cert.SerialNumber, b.Cert.SerialNumber)
	}
	pair, err := tls.LoadX509KeyPair(a.CertFile, a.KeyFile)
	if err != nil {
		t.Fatalf("LoadX509KeyPair(%s, %s) = %v", a.CertFile, a.KeyFile, err)
	}
	if !bytes.Equal(pair.Certificate[0], a.KeyPair.Certificate[0]) || !bytes.Equal(pair.Certificate[0], a.Cert.Raw) {
		t.Error("the certificate in CertFile differs from KeyPair's and Cert's")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM) {
		t.Errorf("AppendCertsFromPEM(%s) found no certificate", ca.CAFile)
	}
}

func TestCAsAreUnrelated(t *testing.T) {
	a, b := testpki.New(t), testpki.New(t)
	if a.Cert.Subject.String() == b.Cert.Subject.String() || a.CAFile == b.CAFile || a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Errorf("New() twice = %q at %s and %q at %s, want two names and two files", a.Cert.Subject, a.CAFile, b.Cert.Subject, b.CAFile)
	}
	if err := b.Cert.CheckSignatureFrom(a.Cert); err == nil {
		t.Error("one CA's certificate verifies with the other's key")
	}
}

// TestHandshake runs mutual TLS over an in-memory connection: the server
// requires a client certificate from its CA.
func TestHandshake(t *testing.T) {
	ca := testpki.New(t)
	other := testpki.New(t)
	server := ca.Issue(t, "server", testpki.ServerAuth)
	client := ca.Issue(t, "client", testpki.ClientAuth)
	foreign := other.Issue(t, "client", testpki.ClientAuth)

	for _, tc := range []struct {
		name   string
		roots  *testpki.CA
		client *testpki.Cert
		// wantErr is what the failing side's error mentions; "" means
		// both sides succeed.
		wantErr string
	}{
		{"mutual", ca, &client, ""},
		{"client-trusts-other-ca", other, &client, "certificate signed by unknown authority"},
		{"foreign-client-cert", ca, &foreign, "certificate signed by unknown authority"},
		{"no-client-cert", ca, nil, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cconf := &tls.Config{RootCAs: tc.roots.Pool(), ServerName: "localhost"}
			if tc.client != nil {
				pair := tc.client.KeyPair
				// Sent even when the server asks for another CA's.
				cconf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
			}
			sconf := &tls.Config{Certificates: []tls.Certificate{server.KeyPair}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
			serr, cerr := handshake(t, sconf, cconf)
			if tc.wantErr == "" {
				if serr != nil || cerr != nil {
					t.Errorf("handshake(%s) = server %v, client %v; want both nil", tc.name, serr, cerr)
				}
				return
			}
			if serr == nil && cerr == nil {
				t.Fatalf("handshake(%s) succeeded, want an error mentioning %q", tc.name, tc.wantErr)
			}
			if !strings.Contains(fmt.Sprint(serr, cerr), tc.wantErr) {
				t.Errorf("handshake(%s) = server %v, client %v; want one mentioning %q", tc.name, serr, cerr, tc.wantErr)
			}
		})
	}
}

// handshake runs a TLS handshake between the two configurations over an
// in-memory pipe and returns each side's error. After a handshake the
// server sends one byte: with TLS 1.3 the client finishes before the server
// has checked its certificate, and learns of a rejection only when it reads.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	done := make(chan error, 1)
	go func() {
		defer sc.Close()
		s := tls.Server(sc, server)
		err := s.HandshakeContext(t.Context())
		if err == nil {
			_, err = s.Write([]byte{1})
		}
		done <- err
	}()
	c := tls.Client(cc, client)
	clientErr = c.HandshakeContext(t.Context())
	if clientErr == nil {
		_, clientErr = io.ReadFull(c, make([]byte, 1))
	}
	cc.Close()
	return <-done, clientErr
}

// fatalTB records Fatalf instead of failing the test, and stops the
// goroutine like the real one does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestIssueBadUsage(t *testing.T) {
	ca := testpki.New(t)
	for _, usage := range []testpki.Usage{0, 4, testpki.ServerAuth | 8} {
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			ca.Issue(f, "x", usage)
		}()
		<-done
		if !strings.Contains(f.msg, "usage") {
			t.Errorf("Issue(usage %d) failed with %q, want a complaint about the usage", usage, f.msg)
		}
	}
}
