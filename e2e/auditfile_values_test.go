package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAuditFileValues runs an acquire of an absent key, a release and a
// takeover of the tombstone against each real store, and reads the values
// of the audit lines as written: null for no value (absent, never read,
// nothing written), "" for a tombstone, base64 for a record.
func TestAuditFileValues(t *testing.T) {
	backends := []struct {
		name  string
		start func(t testing.TB) backend
	}{
		// etcd's client returns a nil value for an empty one: a tombstone
		// read there must still be logged "", not null.
		{"etcd", func(t testing.TB) backend { return newEtcd(t) }},
		{"nats", func(t testing.TB) backend { return newNATS(t) }},
		{"consul", func(t testing.TB) backend { return newConsul(t) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			f := newFixture(t, be.start(t), "values", false)
			key := f.scope.key("exports/orders")
			for _, args := range [][]string{
				{"acquire", key, "--store", storeName, "--ttl", "10m"},
				{"release", key, "--store", storeName, "--reason", auditFileReason, "--yes"},
				{"takeover", key, "--store", storeName, "--ttl", "10m", "--reason", auditFileReason, "--yes"},
			} {
				if r := f.run(t, args...); r.code != 0 {
					t.Fatalf("%v", r)
				}
			}
			lines := auditFileLines(t, f.audit)
			var got []string
			for _, l := range lines {
				var raw map[string]json.RawMessage
				if err := json.Unmarshal([]byte(l.raw), &raw); err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Action+"/"+l.Outcome+" "+auditFileValueKind(raw["value_before"])+" -> "+auditFileValueKind(raw["value_after"]))
			}
			want := []string{
				"acquire/pending null -> record",
				"acquire/won null -> record",
				"release/pending null -> tombstone",
				"release/won record -> tombstone",
				"takeover/pending null -> record",
				"takeover/won tombstone -> record",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("audit values:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// auditFileValueKind names what a value field of an audit line holds.
func auditFileValueKind(v json.RawMessage) string {
	switch string(v) {
	case "null":
		return "null"
	case `""`:
		return "tombstone"
	case "":
		return "missing"
	}
	return "record"
}
