package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const serveBase = "stores:\n  - {name: m, kind: memory}\n"

func TestParseServe(t *testing.T) {
	c, err := Parse("s.yaml", []byte(serveBase+`serve:
  listen: 127.0.0.1:9090
  operators:
    - {name: alice, token_env: ALICE_TOKEN}
    - {name: bob@ops, token_file: ~/bob.token, read_only: true}
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	ops := c.Serve.Operators
	if c.Serve.Listen != "127.0.0.1:9090" || len(ops) != 2 {
		t.Fatalf("Serve = %+v", c.Serve)
	}
	home, _ := os.UserHomeDir()
	if ops[1].Name != "bob@ops" || !ops[1].ReadOnly || ops[1].TokenFile != filepath.Join(home, "bob.token") || ops[1].Index != 1 {
		t.Errorf("operators[1] = %+v", ops[1])
	}
}

func TestParseServeInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"no name", "- {token_env: T}", "serve.operators[0].name: missing"},
		{"unsafe name", "- {name: 'al ice', token_env: T}", "serve.operators[0].name"},
		{"quote in name", "- {name: 'a\"b', token_env: T}", "serve.operators[0].name"},
		{"duplicate", "- {name: a, token_env: T}\n    - {name: a, token_env: U}", `serve.operators[1].name: "a" already used by serve.operators[0]`},
		{"inline token", "- {name: a, token: s3cret-s3cret-s3cret}", "serve.operators[0].token: secrets are never inline"},
		{"no token", "- {name: a}", "serve.operators[0].token_env: missing"},
		{"both", "- {name: a, token_env: T, token_file: /t}", "serve.operators[0].token_file: set token_env or token_file, not both"},
		{"unknown field", "- {name: a, token_env: T, readonly: true}", "readonly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(serveBase+"serve:\n  operators:\n    "+tt.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
			}
			if strings.Contains(tt.yaml, "s3cret") && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error %q repeats the inline secret", err)
			}
		})
	}
}

func TestServeToken(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long")
	os.WriteFile(long, []byte("0123456789abcdef-token\n"), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("LEASECTL_TEST_TOKEN", "env-token-0123456789")
	c := &Config{File: "s.yaml"}
	tests := []struct {
		name string
		op   ServeOperator
		want string // the token, or a fragment of the error
		ok   bool
	}{
		{"file", ServeOperator{TokenFile: long}, "0123456789abcdef-token", true},
		{"env", ServeOperator{TokenEnv: "LEASECTL_TEST_TOKEN"}, "env-token-0123456789", true},
		{"unset env", ServeOperator{Index: 2, TokenEnv: "LEASECTL_TEST_UNSET"}, "serve.operators[2].token_env: environment variable LEASECTL_TEST_UNSET is not set", false},
		{"missing file", ServeOperator{TokenFile: filepath.Join(dir, "nope")}, "serve.operators[0].token_file", false},
		{"empty", ServeOperator{TokenFile: empty}, "the token is empty", false},
		{"short", ServeOperator{TokenFile: short}, "shorter than 16 bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := c.ServeToken(tt.op)
			if tt.ok {
				if err != nil || tok != tt.want {
					t.Fatalf("ServeToken = %q, %v; want %q", tok, err, tt.want)
				}
				return
			}
			var ce *Error
			if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ServeToken = %q, %v; want a *config.Error containing %q", tok, err, tt.want)
			}
		})
	}
}
