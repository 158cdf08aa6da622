package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	c, err := Parse("m.yaml", []byte(`stores:
  - name: small
    kind: etcd
    metrics: {per_lease: true}
  - name: big
    kind: nats
    bucket: leases
    metrics:
      per_lease: false
  - {name: plain, kind: memory}
serve:
  metrics: true
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	for i, want := range []bool{true, false, false} {
		if got := c.Stores[i].Metrics.PerLease; got != want {
			t.Errorf("stores[%d].metrics.per_lease = %v, want %v", i, got, want)
		}
	}
	if c.Stores[1].Line != 5 {
		t.Errorf("stores[1] starts on line %d, want 5", c.Stores[1].Line)
	}
	if !c.Serve.Metrics {
		t.Error("serve.metrics = false, want true")
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"misspelt", "stores:\n  - name: a\n    kind: memory\n    metrics:\n      per_leas: true\n", 5, "field per_leas not found in a store's metrics (known: per_lease)"},
		{"not a mapping", "stores:\n  - name: a\n    kind: memory\n    metrics: true\n", 4, "metrics: want a mapping"},
		{"not a bool", "stores:\n  - name: a\n    kind: memory\n    metrics: {per_lease: lots}\n", 4, "cannot unmarshal"},
		{"serve", "stores:\n  - {name: a, kind: memory}\nserve:\n  metric: true\n", 4, "field metric not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want a *config.Error", err)
			}
			if ce.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse = %v (line %d), want line %d and %q", err, ce.Line, tc.line, tc.msg)
			}
		})
	}
}
