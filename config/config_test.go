package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `operator: alice
audit_log: /var/log/leasectl/audit.jsonl
stores:
  - name: prod-exports
    kind: etcd
    endpoints: [https://etcd-1:2379]
    prefix: exports/
    tls: {ca: /etc/ssl/etcd-ca.pem, cert: /etc/ssl/c.pem, key: /etc/ssl/k.pem}
    username: ops
    password_env: ETCD_PASSWORD
    read_only: true
  - name: staging
    kind: consul
    address: 127.0.0.1:8500
    prefix: leases/
    token_env: CONSUL_HTTP_TOKEN
  - name: fleet
    kind: nats
    url: nats://127.0.0.1:4222
    bucket: leases
    creds: ~/.nats/ops.creds
`

func TestParseGood(t *testing.T) {
	c, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	if c.Operator != "alice" || len(c.Stores) != 3 {
		t.Fatalf("Parse(good) = operator %q, %d stores; want alice, 3", c.Operator, len(c.Stores))
	}
	etcd := c.Stores[0]
	if etcd.Line != 4 || !etcd.ReadOnly || etcd.TLS == nil || etcd.TLS.CA != "/etc/ssl/etcd-ca.pem" || etcd.PasswordEnv != "ETCD_PASSWORD" {
		t.Errorf("etcd store = %+v", etcd)
	}
	home, _ := os.UserHomeDir()
	if want := filepath.Join(home, ".nats/ops.creds"); c.Stores[2].Creds != want {
		t.Errorf("creds = %q, want %q (~ expanded)", c.Stores[2].Creds, want)
	}
	got, err := c.Find([]string{"fleet", "staging"})
	if err != nil || len(got) != 2 || got[0].Name != "staging" || got[1].Name != "fleet" {
		t.Errorf("Find(fleet, staging) = %v, %v; want staging, fleet in file order", got, err)
	}
	if _, err := c.Find([]string{"nope"}); err == nil || !strings.Contains(err.Error(), "prod-exports, staging, fleet") {
		t.Errorf("Find(nope) = %v, want an error listing the known stores", err)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("d.yaml", []byte("stores:\n  - {name: m, kind: memory}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Operator == "" || !strings.HasSuffix(c.AuditLog, "leasectl/audit.jsonl") || strings.HasPrefix(c.AuditLog, "~") {
		t.Errorf("defaults: operator %q audit %q", c.Operator, c.AuditLog)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"unknown field", "stores:\n  - name: a\n    kind: etcd\n    endpoint: [x]\n", 4, "", "field endpoint not found"},
		{"bad kind", "stores:\n  - name: a\n    kind: etc\n", 2, "stores[0].kind", `unknown kind "etc"`},
		{"missing kind", "stores:\n  - name: a\n", 2, "stores[0].kind", "missing"},
		{"missing name", "stores:\n  - kind: etcd\n", 2, "stores[0].name", "missing"},
		{"duplicate name", "stores:\n  - {name: a, kind: memory}\n  - {name: a, kind: memory}\n", 3, "stores[1].name", "already used by the store on line 2"},
		{"inline password", "stores:\n  - name: a\n    kind: etcd\n    username: u\n    password: hunter2\n", 2, "stores[0].password", "never inline"},
		{"inline token", "stores:\n  - name: a\n    kind: consul\n    token: s3cret\n", 2, "stores[0].token", "never inline"},
		{"nats without bucket", "stores:\n  - name: a\n    kind: nats\n", 2, "stores[0].bucket", "missing"},
		{"foreign field", "stores:\n  - name: a\n    kind: consul\n    bucket: b\n", 2, "stores[0].bucket", "not used by a consul store"},
		{"watch_shards on etcd", "stores:\n  - name: a\n    kind: etcd\n    watch_shards: 4\n", 2, "stores[0].watch_shards", "not used by a etcd store"},
		{"watch_shards negative", "stores:\n  - name: a\n    kind: consul\n    watch_shards: -1\n", 2, "stores[0].watch_shards", "want 1 to 1000"},
		{"watch_shards huge", "stores:\n  - name: a\n    kind: consul\n    watch_shards: 5000\n", 2, "stores[0].watch_shards", "want 1 to 1000"},
		{"cert without key", "stores:\n  - name: a\n    kind: etcd\n    tls: {cert: c.pem}\n", 2, "stores[0].tls", "cert and key go together"},
		{"wrong type", "stores:\n  - name: a\n    kind: etcd\n    read_only: maybe\n", 4, "", "cannot unmarshal"},
		{"no stores", "operator: bob\n", 0, "stores", "no stores defined"},
		{"empty", "", 0, "", "empty file"},
		{"bad yaml", "stores: [\n", 1, "", "did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want a *config.Error", err)
			}
			if ce.File != "c.yaml" || ce.Line != tt.line || ce.Field != tt.field || !strings.Contains(ce.Error(), tt.msg) {
				t.Errorf("Parse = %q (line %d, field %q), want line %d, field %q, containing %q", err, ce.Line, ce.Field, tt.line, tt.field, tt.msg)
			}
		})
	}
}

func TestPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("LEASECTL_CONFIG", "")
	if _, err := Path(""); !errors.Is(err, ErrNoConfig) {
		t.Errorf("Path() with nothing = %v, want ErrNoConfig", err)
	}
	p := filepath.Join(dir, "leasectl", "config.yaml")
	os.MkdirAll(filepath.Dir(p), 0o700)
	os.WriteFile(p, []byte(good), 0o600)
	if got, err := Path(""); got != p || err != nil {
		t.Errorf("Path() = %q, %v; want %q", got, err, p)
	}
	t.Setenv("LEASECTL_CONFIG", "/etc/x.yaml")
	if got, _ := Path(""); got != "/etc/x.yaml" {
		t.Errorf("Path() with $LEASECTL_CONFIG = %q", got)
	}
	if got, _ := Path("/explicit.yaml"); got != "/explicit.yaml" {
		t.Errorf("Path(explicit) = %q", got)
	}
}

func TestSecret(t *testing.T) {
	t.Setenv("LEASECTL_TEST_SECRET", "pw")
	if v, err := Secret("LEASECTL_TEST_SECRET", ""); v != "pw" || err != nil {
		t.Errorf("Secret(env) = %q, %v", v, err)
	}
	if _, err := Secret("LEASECTL_TEST_UNSET_VAR", ""); err == nil || !strings.Contains(err.Error(), "LEASECTL_TEST_UNSET_VAR is not set") {
		t.Errorf("Secret(unset env) = %v", err)
	}
	f := filepath.Join(t.TempDir(), "s")
	os.WriteFile(f, []byte("tok\n"), 0o600)
	if v, err := Secret("", f); v != "tok" || err != nil {
		t.Errorf("Secret(file) = %q, %v", v, err)
	}
	if _, err := Secret("", f+".missing"); err == nil {
		t.Error("Secret(missing file) = nil error")
	}
}

func TestDefaultOperator(t *testing.T) {
	t.Setenv("USER", "alice")
	host, _ := os.Hostname()
	if got := DefaultOperator(); got != "alice@"+host {
		t.Errorf("DefaultOperator() = %q, want alice@%s", got, host)
	}
	t.Setenv("USER", "")
	if got := DefaultOperator(); strings.HasPrefix(got, "unknown") || strings.HasPrefix(got, "@") {
		t.Errorf("DefaultOperator() without $USER = %q, want the account name from the system", got)
	}
}
