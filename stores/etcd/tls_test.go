package etcd_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/internal/testpki"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
)

// failTimeout bounds a Dial that is expected to fail.
const failTimeout = 3 * time.Second

// TestDialTLS starts a server that requires client certificates and checks
// which client configurations get in, and that the others fail clearly.
func TestDialTLS(t *testing.T) {
	ca := testpki.New(t)
	other := testpki.New(t)
	server := ca.Issue(t, "etcd", testpki.ServerAuth)
	srv := etcdtest.Start(t, etcdtest.WithTLS(transport.TLSInfo{
		CertFile:       server.CertFile,
		KeyFile:        server.KeyFile,
		TrustedCAFile:  ca.CAFile,
		ClientCertAuth: true,
	}))

	client := ca.Issue(t, "leasectl", testpki.ClientAuth).KeyPair
	foreign := other.Issue(t, "leasectl", testpki.ClientAuth).KeyPair
	// With TLS 1.3 the server rejects a client certificate after the
	// client has finished its handshake, so the client sees either the
	// server's alert or a connection closed under its first write.
	rejected := []string{"certificate required", "bad certificate", "unknown certificate authority", "broken pipe", "reset by peer"}
	httpsEndpoint := srv.Endpoints()[0]
	httpEndpoint := strings.Replace(httpsEndpoint, "https://", "http://", 1)

	for _, tc := range []struct {
		name     string
		endpoint string
		tls      *tls.Config
		// wantErr lists what a failure message must mention, any of them
		// (the TLS stack words a rejection differently by version); nil
		// means Dial must succeed.
		wantErr []string
	}{
		{"client-cert", httpsEndpoint, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}}, nil},
		{"no-client-cert", httpsEndpoint, &tls.Config{RootCAs: ca.Pool()}, rejected},
		{"wrong-ca", httpsEndpoint, &tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{client}},
			[]string{"certificate signed by unknown authority"}},
		// Sent even though the server asks for its own CA's certificates
		// (Go's client would otherwise send none).
		{"foreign-client-cert", httpsEndpoint, &tls.Config{RootCAs: ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }},
			rejected},
		{"no-tls", httpEndpoint, nil,
			[]string{"connection", "EOF", "frame", "handshake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), failTimeout)
			defer cancel()
			if tc.wantErr == nil {
				ctx = t.Context()
			}
			s, err := etcd.Dial(ctx, etcd.Config{Endpoints: []string{tc.endpoint}, TLS: tc.tls})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial(%s) = %v, want nil", tc.name, err)
				}
				defer s.Close()
				rev, err := s.Create(t.Context(), "tls/a", []byte("v"))
				if err != nil {
					t.Fatalf("Create over TLS = %v", err)
				}
				if e, err := s.Get(t.Context(), "tls/a"); err != nil || e.Revision != rev {
					t.Errorf("Get over TLS = %+v, %v, want revision %d", e, err, rev)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Dial(%s) = nil error, want one", tc.name)
			}
			t.Logf("Dial(%s) = %v", tc.name, err)
			if !containsAny(err.Error(), tc.wantErr) {
				t.Errorf("Dial(%s) = %q, want it to mention one of %q", tc.name, err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "etcd: dial "+tc.endpoint) {
				t.Errorf("Dial(%s) = %q, want prefix %q", tc.name, err, "etcd: dial "+tc.endpoint)
			}
			if s := matchesSentinel(err); s != nil {
				t.Errorf("Dial(%s) = %v, matches %v", tc.name, err, s)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestDialAuth enables authentication on a server of its own and checks
// passwords, a user scoped to one prefix, and a client without credentials.
func TestDialAuth(t *testing.T) {
	srv := etcdtest.Start(t)
	admin := srv.Client(t)
	ctx := t.Context()
	steps := []struct {
		what string
		do   func() error
	}{
		{"add role root", func() error { _, err := admin.RoleAdd(ctx, "root"); return err }},
		{"add user root", func() error { _, err := admin.UserAdd(ctx, "root", "root-pw"); return err }},
		{"grant root", func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err }},
		{"add role reader", func() error { _, err := admin.RoleAdd(ctx, "reader"); return err }},
		{"grant read exports/", func() error {
			_, err := admin.RoleGrantPermission(ctx, "reader", "exports/", clientv3.GetPrefixRangeEnd("exports/"),
				clientv3.PermissionType(clientv3.PermRead))
			return err
		}},
		{"add user ops", func() error { _, err := admin.UserAdd(ctx, "ops", "ops-pw"); return err }},
		{"grant ops", func() error { _, err := admin.UserGrantRole(ctx, "ops", "reader"); return err }},
		{"enable auth", func() error { _, err := admin.AuthEnable(ctx); return err }},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
	}
	dial := func(t *testing.T, user, password string, timeout time.Duration) (*etcd.Store, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Username: user, Password: password})
	}

	t.Run("root", func(t *testing.T) {
		s, err := dial(t, "root", "root-pw", watchTimeout)
		if err != nil {
			t.Fatalf("Dial(root) = %v", err)
		}
		defer s.Close()
		if _, err := s.Create(t.Context(), "exports/orders", []byte("v")); err != nil {
			t.Errorf("Create as root = %v", err)
		}
	})

	t.Run("scoped-reader", func(t *testing.T) {
		// Dial's probe needs no key permission.
		s, err := dial(t, "ops", "ops-pw", watchTimeout)
		if err != nil {
			t.Fatalf("Dial(ops) = %v", err)
		}
		defer s.Close()
		if _, err := s.List(t.Context(), "exports/"); err != nil {
			t.Errorf("List(%q) as ops = %v, want nil", "exports/", err)
		}
		_, err = s.Create(t.Context(), "exports/new", []byte("v"))
		if !errors.Is(err, rpctypes.ErrPermissionDenied) || matchesSentinel(err) != nil {
			t.Errorf("Create as a reader = %v, want permission denied and no store sentinel", err)
		}
	})

	for _, tc := range []struct {
		name, user, password string
		want                 error
	}{
		{"wrong-password", "root", "nope", rpctypes.ErrAuthFailed},
		{"unknown-user", "mallory", "nope", rpctypes.ErrAuthFailed},
		{"no-credentials", "", "", rpctypes.ErrUserEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Generous: the answer must come from the server, not the clock.
			s, err := dial(t, tc.user, tc.password, watchTimeout)
			if err == nil {
				s.Close()
				t.Fatalf("Dial(%s) = nil error, want %v", tc.name, tc.want)
			}
			t.Logf("Dial(%s) = %v", tc.name, err)
			if !errors.Is(err, tc.want) {
				t.Errorf("Dial(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Dial(%s) = %v, want an answer, not a timeout", tc.name, err)
			}
			if s := matchesSentinel(err); s != nil {
				t.Errorf("Dial(%s) = %v, matches %v", tc.name, err, s)
			}
		})
	}
}
