//go:build !js

package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/leasectl/leasectl/internal/testpki"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// openTimeout bounds every Open and round trip: generous for a busy machine
// under -race, and a deadline that a failure must beat, so a case that ought
// to fail with the server's answer cannot pass by timing out.
const openTimeout = 30 * time.Second

// openCase is one config entry opened against a real server.
type openCase struct {
	name string
	// yaml is the whole config file, holding one store.
	yaml string
	// env is set, and unset is unset, for the case.
	env   map[string]string
	unset []string
	// wantErr lists what Open's error must mention, any of them; nil means
	// Open must succeed.
	wantErr []string
	// wantIs, when set, is an error Open's must match.
	wantIs error
	// wantWriteIs, when set, means Open succeeds and the first write fails
	// with an error matching it (Consul checks a token only when it is
	// used).
	wantWriteIs error
}

// runOpenCases loads each case's file from disk, opens its store and, when
// that must work, makes a Create and Get round trip through it.
func runOpenCases(t *testing.T, cases []openCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for _, k := range tc.unset {
				t.Setenv(k, "") // restored after the test
				os.Unsetenv(k)
			}
			s := loadStore(t, tc.yaml)
			ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
			defer cancel()
			st, closeStore, err := Open(ctx, s)
			if err == nil {
				t.Cleanup(func() {
					if err := closeStore(); err != nil {
						t.Errorf("close %s = %v", s.Name, err)
					}
				})
			}
			switch {
			case tc.wantErr == nil && tc.wantIs == nil:
				if err != nil {
					t.Fatalf("Open(%s) = %v, want nil", s.Name, err)
				}
				if tc.wantWriteIs != nil {
					_, err := st.Create(ctx, "open/"+s.Name, []byte("v"))
					if !errors.Is(err, tc.wantWriteIs) {
						t.Errorf("Create through Open(%s) = %v, want %v", s.Name, err, tc.wantWriteIs)
					}
					t.Logf("Create through Open(%s) = %v", s.Name, err)
					return
				}
				roundTrip(ctx, t, st, "open/"+s.Name)
			default:
				if err == nil {
					t.Fatalf("Open(%s) = nil error, want one mentioning %q", s.Name, tc.wantErr)
				}
				t.Logf("Open(%s) = %v", s.Name, err)
				if tc.wantErr != nil && !containsAny(err.Error(), tc.wantErr) {
					t.Errorf("Open(%s) = %q, want it to mention one of %q", s.Name, err, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("Open(%s) = %v, want %v", s.Name, err, tc.wantIs)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Open(%s) = %v, want an answer, not a timeout", s.Name, err)
				}
			}
		})
	}
}

// loadStore writes text to a config file in t.TempDir(), loads it and
// returns its only store.
func loadStore(t *testing.T, text string) Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) = %v\n%s", path, err, text)
	}
	if len(c.Stores) != 1 || c.File != path {
		t.Fatalf("Load(%s) = %d stores from %q, want 1 from the file", path, len(c.Stores), c.File)
	}
	return c.Stores[0]
}

// roundTrip creates key through st and reads it back.
func roundTrip(ctx context.Context, t *testing.T, st stores.Store, key string) {
	t.Helper()
	value := []byte("opened by config.Open")
	rev, err := st.Create(ctx, key, value)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	e, err := st.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	if e.Key != key || !bytes.Equal(e.Value, value) || e.Revision != rev {
		t.Errorf("Get(%q) = %q %q at %d, want %q %q at %d", key, e.Key, e.Value, e.Revision, key, value, rev)
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

// writeSecret writes a secret file, with the trailing newline editors add.
func writeSecret(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenEtcdTLS opens an etcd server that requires client certificates
// with the ca, cert and key files a config names.
func TestOpenEtcdTLS(t *testing.T) {
	ca := testpki.New(t)
	other := testpki.New(t)
	server := ca.Issue(t, "etcd", testpki.ServerAuth)
	client := ca.Issue(t, "leasectl", testpki.ClientAuth)
	srv := etcdtest.Start(t, etcdtest.WithTLS(transport.TLSInfo{
		CertFile:       server.CertFile,
		KeyFile:        server.KeyFile,
		TrustedCAFile:  ca.CAFile,
		ClientCertAuth: true,
	}))
	endpoint := srv.Endpoints()[0]
	conf := func(name, tls string) string {
		return fmt.Sprintf("stores:\n  - name: %s\n    kind: etcd\n    endpoints: [%q]\n    tls: %s\n", name, endpoint, tls)
	}
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	// With TLS 1.3 the server rejects a client certificate after the client
	// has finished its handshake: the client sees the alert or a closed
	// connection.
	rejected := []string{"certificate required", "bad certificate", "broken pipe", "reset by peer"}

	runOpenCases(t, []openCase{
		{name: "ca-cert-key", yaml: conf("tls", fmt.Sprintf("{ca: %q, cert: %q, key: %q}", ca.CAFile, client.CertFile, client.KeyFile))},
		{name: "wrong-ca", yaml: conf("wrong-ca", fmt.Sprintf("{ca: %q, cert: %q, key: %q}", other.CAFile, client.CertFile, client.KeyFile)),
			wantErr: []string{"tls: failed to verify certificate: x509: certificate signed by unknown authority"}},
		{name: "no-client-cert", yaml: conf("no-client-cert", fmt.Sprintf("{ca: %q}", ca.CAFile)), wantErr: rejected},
		{name: "missing-ca-file", yaml: conf("missing-ca-file", fmt.Sprintf("{ca: %q, cert: %q, key: %q}", missing, client.CertFile, client.KeyFile)),
			wantErr: []string{"stores[0].tls: tls ca: open " + missing}, wantIs: os.ErrNotExist},
		{name: "ca-not-pem", yaml: conf("ca-not-pem", fmt.Sprintf("{ca: %q}", client.KeyFile)),
			wantErr: []string{"stores[0].tls: tls ca " + client.KeyFile + ": no PEM certificate found"}},
	})
}

// TestOpenEtcdAuth opens an etcd server with authentication enabled with a
// password from an environment variable or a file.
func TestOpenEtcdAuth(t *testing.T) {
	const (
		password = "s3cret-root"
		pwEnv    = "LEASECTL_TEST_ETCD_PASSWORD"
	)
	srv := etcdtest.Start(t)
	admin := srv.Client(t)
	ctx := t.Context()
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"add role root", func() error { _, err := admin.RoleAdd(ctx, "root"); return err }},
		{"add user root", func() error { _, err := admin.UserAdd(ctx, "root", password); return err }},
		{"grant root", func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err }},
		{"enable auth", func() error { _, err := admin.AuthEnable(ctx); return err }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
	}
	conf := func(name, secret string) string {
		return fmt.Sprintf("stores:\n  - name: %s\n    kind: etcd\n    endpoints: [%q]\n    username: root\n    %s\n", name, srv.Endpoints()[0], secret)
	}
	authFailed := []string{"authentication failed"}

	runOpenCases(t, []openCase{
		{name: "password-env", yaml: conf("env", "password_env: "+pwEnv), env: map[string]string{pwEnv: password}},
		{name: "wrong-password-env", yaml: conf("env-wrong", "password_env: "+pwEnv), env: map[string]string{pwEnv: "not-" + password},
			wantErr: authFailed, wantIs: rpctypes.ErrAuthFailed},
		{name: "unset-password-env", yaml: conf("env-unset", "password_env: "+pwEnv), unset: []string{pwEnv},
			wantErr: []string{"stores[0].password_env: environment variable " + pwEnv + " is not set"}},
		{name: "password-file", yaml: conf("file", fmt.Sprintf("password_file: %q", writeSecret(t, password)))},
		{name: "wrong-password-file", yaml: conf("file-wrong", fmt.Sprintf("password_file: %q", writeSecret(t, "not-"+password))),
			wantErr: authFailed, wantIs: rpctypes.ErrAuthFailed},
		{name: "missing-password-file", yaml: conf("file-missing", fmt.Sprintf("password_file: %q", filepath.Join(t.TempDir(), "nope"))),
			wantErr: []string{"stores[0].password_file: read secret"}, wantIs: os.ErrNotExist},
		// The password, not a leftover of the environment, decides.
		{name: "no-password", yaml: conf("none", "prefix: exports/"),
			wantErr: []string{`username "root" without password`}},
	})
}

// TestOpenConsul opens a Consul agent with ACLs (default deny) with a token
// from an environment variable or a file.
func TestOpenConsul(t *testing.T) {
	const (
		rootToken = "open-test-root-token"
		tokEnv    = "LEASECTL_TEST_CONSUL_TOKEN"
	)
	a := consultest.Start(t, consultest.WithACL(rootToken))
	// The developer's own Consul settings must not leak in.
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	t.Setenv("CONSUL_HTTP_ADDR", "127.0.0.1:1")
	conf := func(name, rest string) string {
		return fmt.Sprintf("stores:\n  - name: %s\n    kind: consul\n    prefix: open/\n%s", name, rest)
	}
	withAddr := func(name, rest string) string {
		return conf(name, fmt.Sprintf("    address: %q\n%s", a.Addr(), rest))
	}

	runOpenCases(t, []openCase{
		{name: "token-env", yaml: withAddr("env", "    token_env: "+tokEnv+"\n"), env: map[string]string{tokEnv: rootToken}},
		{name: "wrong-token-env", yaml: withAddr("env-wrong", "    token_env: "+tokEnv+"\n"),
			env: map[string]string{tokEnv: "00000000-0000-0000-0000-000000000000"}, wantWriteIs: consul.ErrPermissionDenied},
		{name: "unset-token-env", yaml: withAddr("env-unset", "    token_env: "+tokEnv+"\n"), unset: []string{tokEnv},
			wantErr: []string{"stores[0].token_env: environment variable " + tokEnv + " is not set"}},
		{name: "token-file", yaml: withAddr("file", fmt.Sprintf("    token_file: %q\n", writeSecret(t, rootToken)))},
		{name: "no-token", yaml: withAddr("anonymous", ""), wantWriteIs: consul.ErrPermissionDenied},
		{name: "address-from-env", yaml: conf("addr-env", "    token_env: "+tokEnv+"\n"),
			env: map[string]string{tokEnv: rootToken, "CONSUL_HTTP_ADDR": a.Addr()}},
	})
}

// TestOpenNATS opens a NATS server's bucket at the config's url or at
// $NATS_URL.
func TestOpenNATS(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "leases", History: 10}); err != nil {
		t.Fatalf("CreateKeyValue(leases) = %v", err)
	}
	// Nothing listens on port 1: a case that used it would fail.
	const dead = "nats://127.0.0.1:1"
	conf := func(name, rest string) string {
		return fmt.Sprintf("stores:\n  - name: %s\n    kind: nats\n%s", name, rest)
	}

	runOpenCases(t, []openCase{
		{name: "url", yaml: conf("url", fmt.Sprintf("    url: %q\n    bucket: leases\n", srv.URL())), env: map[string]string{"NATS_URL": dead}},
		{name: "url-from-env", yaml: conf("env", "    bucket: leases\n"), env: map[string]string{"NATS_URL": srv.URL()}},
		{name: "missing-bucket", yaml: conf("nobucket", fmt.Sprintf("    url: %q\n    bucket: absent\n", srv.URL())),
			wantErr: []string{"absent"}, wantIs: jetstream.ErrBucketNotFound},
		{name: "dead-url", yaml: conf("dead", fmt.Sprintf("    url: %q\n    bucket: leases\n", dead)),
			wantErr: []string{"natskv: connect " + dead}},
	})
}

// TestOpenMemory opens the in-memory store.
func TestOpenMemory(t *testing.T) {
	runOpenCases(t, []openCase{
		{name: "memory", yaml: "stores:\n  - {name: mem, kind: memory}\n"},
	})
}

// TestOpenUnknownKind reaches Open's fallback with a Store that Parse would
// have refused.
func TestOpenUnknownKind(t *testing.T) {
	_, _, err := Open(t.Context(), Store{Name: "x", Kind: "zookeeper"})
	if err == nil || !strings.Contains(err.Error(), `config: store x: unknown kind "zookeeper"`) {
		t.Errorf("Open(kind zookeeper) = %v, want an unknown-kind error", err)
	}
}

// TestOpenConfigErrors opens stores whose config cannot work whatever the
// server says — a secret variable unset, a file missing or not what it
// should be — and checks that Open says so with an *Error naming the file,
// the store's line and the field, before dialling anything.
func TestOpenConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := func(name string) string { return filepath.Join(dir, name) }
	os.Unsetenv("LEASECTL_TEST_UNSET")
	// Every endpoint is unreachable: a case that dialled would fail
	// differently (and slowly).
	tests := []struct{ name, store, field, mention string }{
		{"etcd password_env unset", `{name: s, kind: etcd, endpoints: ["http://127.0.0.1:1"], username: u, password_env: LEASECTL_TEST_UNSET}`, "password_env", "LEASECTL_TEST_UNSET"},
		{"etcd password_file missing", fmt.Sprintf(`{name: s, kind: etcd, endpoints: ["http://127.0.0.1:1"], username: u, password_file: %q}`, missing("pw")), "password_file", missing("pw")},
		{"consul token_env unset", `{name: s, kind: consul, address: "127.0.0.1:1", token_env: LEASECTL_TEST_UNSET}`, "token_env", "LEASECTL_TEST_UNSET"},
		{"nats token_file missing", fmt.Sprintf(`{name: s, kind: nats, url: "nats://127.0.0.1:1", bucket: b, token_file: %q}`, missing("tok")), "token_file", missing("tok")},
		{"nats creds missing", fmt.Sprintf(`{name: s, kind: nats, url: "nats://127.0.0.1:1", bucket: b, creds: %q}`, missing("ops.creds")), "creds", missing("ops.creds")},
		{"etcd tls ca missing", fmt.Sprintf(`{name: s, kind: etcd, endpoints: ["https://127.0.0.1:1"], tls: {ca: %q}}`, missing("ca.pem")), "tls", missing("ca.pem")},
		{"consul tls ca not pem", fmt.Sprintf(`{name: s, kind: consul, address: "127.0.0.1:1", tls: {ca: %q}}`, notPEM), "tls", "no PEM certificate"},
		{"nats tls cert missing", fmt.Sprintf(`{name: s, kind: nats, url: "tls://127.0.0.1:1", bucket: b, tls: {cert: %q, key: %q}}`, missing("c.crt"), missing("c.key")), "tls", missing("c.crt")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte("operator: o\nstores:\n  - "+tt.store+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
			defer cancel()
			st, closeStore, err := Open(ctx, c.Stores[0])
			if err == nil {
				closeStore()
				t.Fatalf("Open = %v, want a config error", st)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Open = %v (%T), want a *config.Error", err, err)
			}
			if ce.File != path || ce.Line != 3 || !strings.Contains(ce.Field, tt.field) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Open = %q (file %q, line %d, field %q); want file %s, line 3, field %s, mentioning %q", err, ce.File, ce.Line, ce.Field, path, tt.field, tt.mention)
			}
			if strings.Count(err.Error(), "config:") != 1 {
				t.Errorf("Open = %q: say config once", err)
			}
		})
	}
}
