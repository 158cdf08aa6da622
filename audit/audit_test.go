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
