package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

func record(i int) lease.AuditRecord {
	return lease.AuditRecord{
		Time:           time.Unix(1718000000, 0),
		Operator:       "alice",
		Host:           "ops-1",
		Store:          "prod",
		Key:            fmt.Sprintf("exports/k%d", i),
		Action:         lease.ActionTakeover,
		Reason:         "incident 42",
		RevisionBefore: 7,
		ValueBefore:    []byte(`{"holder_id":"node-a"}`),
		ValueAfter:     []byte{},
		RevisionAfter:  8,
		Outcome:        lease.OutcomeWon,
	}
}

func TestAuditLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "audit.jsonl")
	f, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := f.Audit(t.Context(), record(i)); err != nil {
				t.Errorf("Audit(%d) = %v", i, err)
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(lines) != n {
		t.Fatalf("log has %d lines, want %d", len(lines), n)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		seen[m["key"].(string)] = true
		if m["time"] != "2024-06-10T06:13:20Z" || m["operator"] != "alice" || m["host"] != "ops-1" || m["store"] != "prod" ||
			m["action"] != "takeover" || m["reason"] != "incident 42" || m["revision_before"] != 7.0 || m["revision_after"] != 8.0 ||
			m["outcome"] != "won" || m["value_after"] != "" {
			t.Errorf("line = %s", l)
		}
		if before, _ := base64.StdEncoding.DecodeString(m["value_before"].(string)); string(before) != `{"holder_id":"node-a"}` {
			t.Errorf("value_before decodes to %q", before)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct keys logged, want %d", len(seen), n)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != fileMode {
		t.Errorf("log mode = %v, %v; want %v", st.Mode().Perm(), err, os.FileMode(fileMode))
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil || dir.Mode().Perm() != dirMode {
		t.Errorf("created directory mode = %v, %v; want %v", dir.Mode().Perm(), err, os.FileMode(dirMode))
	}
}

func TestAuditUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"path is a directory": dir,
		"parent is a file":    filepath.Join(blocker, "audit.jsonl"),
	}
	for name, path := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := NewFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Check(); err == nil {
				t.Errorf("Check() on %s = nil, want an error", path)
			}
			if err := f.Audit(t.Context(), record(0)); err == nil {
				t.Errorf("Audit() on %s = nil, want an error", path)
			}
		})
	}
	if _, err := NewFile(""); err == nil {
		t.Error(`NewFile("") = nil error`)
	}
}

func TestAuditCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	f, _ := NewFile(path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.Audit(ctx, record(0)); err == nil {
		t.Error("Audit with a canceled context = nil")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a canceled Audit created the log")
	}
}

// TestAuditValues checks how values are written: base64 when there is one,
// "" for a zero-length value (a tombstone), null when there is none (absent,
// never read, nothing written), with every field present on every line.
func TestAuditValues(t *testing.T) {
	rec := []byte(`{"holder_id":"node-a"}`)
	b64 := `"` + base64.StdEncoding.EncodeToString(rec) + `"`
	tests := []struct {
		name               string
		before, after      []byte
		wantBefore, wantAf string // raw JSON
	}{
		{"intent: never read, writes a record", nil, rec, "null", b64},
		{"release: a record, writes a tombstone", rec, []byte{}, b64, `""`},
		{"changed: a tombstone, wrote nothing", []byte{}, nil, `""`, "null"},
		{"acquire: absent, writes a record", nil, rec, "null", b64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(0)
			r.ValueBefore, r.ValueAfter = tt.before, tt.after
			path := filepath.Join(t.TempDir(), "a.jsonl")
			f, _ := NewFile(path)
			if err := f.Audit(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatalf("line %q: %v", b, err)
			}
			for _, k := range []string{"time", "operator", "host", "store", "key", "action", "revision_before", "value_before", "value_after", "revision_after", "outcome"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("line %s lacks %q", b, k)
				}
			}
			if got := string(fields["value_before"]); got != tt.wantBefore {
				t.Errorf("value_before = %s, want %s", got, tt.wantBefore)
			}
			if got := string(fields["value_after"]); got != tt.wantAf {
				t.Errorf("value_after = %s, want %s", got, tt.wantAf)
			}
			// A reader of byte slices tells the three apart; one that
			// reads strings still parses the line.
			var bytesReader struct{ ValueBefore, ValueAfter []byte }
			fields["ValueBefore"], fields["ValueAfter"] = fields["value_before"], fields["value_after"]
			raw, _ := json.Marshal(map[string]json.RawMessage{"ValueBefore": fields["value_before"], "ValueAfter": fields["value_after"]})
			if err := json.Unmarshal(raw, &bytesReader); err != nil {
				t.Fatal(err)
			}
			if (bytesReader.ValueBefore == nil) != (tt.before == nil) || !bytes.Equal(bytesReader.ValueBefore, tt.before) ||
				(bytesReader.ValueAfter == nil) != (tt.after == nil) || !bytes.Equal(bytesReader.ValueAfter, tt.after) {
				t.Errorf("read back as bytes: before %q (nil %v), after %q (nil %v); want %q (nil %v), %q (nil %v)",
					bytesReader.ValueBefore, bytesReader.ValueBefore == nil, bytesReader.ValueAfter, bytesReader.ValueAfter == nil,
					tt.before, tt.before == nil, tt.after, tt.after == nil)
			}
			var stringReader struct {
				ValueBefore string `json:"value_before"`
				ValueAfter  string `json:"value_after"`
				Action      string `json:"action"`
				Outcome     string `json:"outcome"`
			}
			if err := json.Unmarshal(b, &stringReader); err != nil || stringReader.Action != "takeover" || stringReader.Outcome != "won" {
				t.Errorf("a reader of strings: %+v, %v", stringReader, err)
			}
		})
	}
}
