package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseColorAndProduction(t *testing.T) {
	const yml = `stores:
  - name: prod
    kind: memory
    color: "#D70000"
    production: true
  - name: staging
    kind: memory
    color: 33
  - name: short
    kind: memory
    color: "#0af"
  - name: plain
    kind: memory
`
	c, err := Parse("c.yaml", []byte(yml))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := []struct {
		color      string
		production bool
	}{{"#D70000", true}, {"33", false}, {"#0af", false}, {"", false}}
	for i, w := range want {
		if s := c.Stores[i]; s.Color != w.color || s.Production != w.production {
			t.Errorf("stores[%d] = color %q production %v, want %q %v", i, s.Color, s.Production, w.color, w.production)
		}
	}
}

func TestParseColorErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"unquoted hex is a comment", "stores:\n  - name: a\n    kind: memory\n    color: #d70000\n", 4, "quote a hex colour"},
		{"empty value", "stores:\n  - name: a\n    kind: memory\n    color:\n", 4, "quote a hex colour"},
		{"bad hex", "stores:\n  - name: a\n    kind: memory\n    color: \"#d7000\"\n", 4, `"#d7000": want a hex colour #rrggbb or #rgb`},
		{"hex not hex", "stores:\n  - name: a\n    kind: memory\n    color: \"#gg0000\"\n", 4, "want a hex colour #rrggbb"},
		{"number too large", "stores:\n  - name: a\n    kind: memory\n    color: 256\n", 4, `"256": want a hex colour ("#d70000") or an ANSI colour number 0 to 255`},
		{"negative number", "stores:\n  - name: a\n    kind: memory\n    color: -1\n", 4, "ANSI colour number 0 to 255"},
		{"a name", "stores:\n  - name: a\n    kind: memory\n    production: true\n    color: red\n", 5, `"red": want a hex colour`},
		{"second store", "stores:\n  - {name: a, kind: memory}\n  - name: b\n    kind: memory\n    color: \"#12345\"\n", 5, "want a hex colour"},
		{"flow style", "stores:\n  - {name: a, kind: memory, color: nope}\n", 2, `"nope"`},
		{"production not a bool", "stores:\n  - name: a\n    kind: memory\n    production: yes please\n", 4, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want a *config.Error", err)
			}
			if ce.File != "c.yaml" || ce.Line != tt.line || !strings.Contains(ce.Error(), tt.msg) {
				t.Errorf("Parse = %q (line %d), want line %d, containing %q", err, ce.Line, tt.line, tt.msg)
			}
			if wantField := "color"; tt.name != "production not a bool" && !strings.HasSuffix(ce.Field, "."+wantField) {
				t.Errorf("Parse = %q: field %q, want stores[N].color", err, ce.Field)
			}
			if !strings.HasPrefix(ce.Error(), "config: c.yaml:") {
				t.Errorf("Parse = %q, want it to name the file and line", err)
			}
		})
	}
}
