package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
)

// sharedEtcd is the real etcd of the audit and revert tests, started by the
// first of them.
var sharedEtcd etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	sharedEtcd.Close()
	os.Exit(code)
}

// withEtcd adds a store named "etcd" on the shared real etcd to the
// fixture's config and returns a client store of it.
func (f *fixture) withEtcd(t *testing.T) stores.Store {
	t.Helper()
	srv := sharedEtcd.Get(t)
	b, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	b = fmt.Appendf(b, "  - name: etcd\n    kind: etcd\n    endpoints: [%s]\n    prefix: exports/\n", srv.Endpoints()[0])
	if err := os.WriteFile(f.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := etcd.New(srv.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auditEntryJSON is one entry of audit -o json, as a script reads it.
type auditEntryJSON struct {
	ID             string  `json:"id"`
	Time           string  `json:"time"`
	Operator       string  `json:"operator"`
	Host           string  `json:"host"`
	Store          string  `json:"store"`
	Key            string  `json:"key"`
	Action         string  `json:"action"`
	Reason         *string `json:"reason"`
	Outcome        string  `json:"outcome"`
	Reverts        string  `json:"reverts"`
	Seen           uint64  `json:"seen"`
	RevisionBefore *uint64 `json:"revision_before"`
	RevisionAfter  *uint64 `json:"revision_after"`
	ValueBefore    []byte  `json:"value_before"`
	ValueAfter     []byte  `json:"value_after"`
	Error          string  `json:"error"`
}

// auditJSONOf runs leasectl audit -o json with args and decodes its array.
func (f *fixture) auditJSONOf(t *testing.T, args ...string) []auditEntryJSON {
	t.Helper()
	r := f.run(t, "", append([]string{"audit", "-o", "json"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("audit -o json %v = exit %d: %s", args, r.code, r.stderr)
	}
	var out []auditEntryJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("audit -o json is not a JSON array: %v\n%s", err, r.stdout)
	}
	var fields []map[string]json.RawMessage
	json.Unmarshal([]byte(r.stdout), &fields)
	for _, m := range fields {
		for _, k := range []string{"id", "time", "operator", "host", "store", "key", "action", "reason", "outcome", "revision_before", "revision_after", "value_before", "value_after"} {
			if _, ok := m[k]; !ok {
				t.Errorf("audit -o json entry lacks %q: %s", k, r.stdout)
			}
		}
	}
	return out
}

var hex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)

// TestRevertTakeoverCLI is the story on each real store: a
// mistaken takeover is reverted, the store holds the original bytes again,
// a second revert of the same entry is refused because the key changed
// (exit 3), and the log holds the takeover, the revert and the refused
// revert.
func TestRevertTakeoverCLI(t *testing.T) {
	for _, store := range []string{"fleet", "etcd"} {
		t.Run(store, func(t *testing.T) {
			f := newFixture(t)
			var s stores.Store = f.store
			if store == "etcd" {
				s = f.withEtcd(t)
			}
			key := fmt.Sprintf("exports/revert-%d", time.Now().UnixNano())
			original := liveRecord("node-a")
			if _, err := s.Create(t.Context(), key, original); err != nil {
				t.Fatal(err)
			}
			if r := f.run(t, "", "takeover", key, "--store", store, "--ttl", "10m", "--reason", "INC-7: wrong key", "--yes"); r.code != ExitOK {
				t.Fatalf("takeover = exit %d: %s", r.code, r.stderr)
			}
			entries := f.auditJSONOf(t)
			if len(entries) != 1 || entries[0].Action != "takeover" || entries[0].Outcome != "won" || !hex12.MatchString(entries[0].ID) {
				t.Fatalf("audit after the takeover = %+v", entries)
			}
			tk := entries[0]
			if !bytes.Equal(tk.ValueBefore, original) || tk.Store != store || tk.Key != key || tk.Operator != "alice" ||
				*tk.Reason != "INC-7: wrong key" || *tk.RevisionAfter == 0 || *tk.RevisionBefore == 0 || tk.Seen != *tk.RevisionBefore {
				t.Errorf("takeover entry = %+v", tk)
			}

			// Confirmed by typing the key's last segment, with a prefix of the id.
			word := key[strings.LastIndex(key, "/")+1:]
			r := runEnv(t, terminal(strings.NewReader(word+"\n")), "--config", f.config, "revert", tk.ID[:6], "--reason", "undo INC-7")
			if r.code != ExitOK {
				t.Fatalf("revert = exit %d: %s", r.code, r.stderr)
			}
			for _, want := range []string{"reverting " + tk.ID, "before:", "held by operator:alice", "after:", "held by node-a", "Type " + word, "revert " + store + "/" + key + ": done at revision"} {
				if !strings.Contains(r.stderr+r.stdout, want) {
					t.Errorf("revert output lacks %q:\n%s%s", want, r.stderr, r.stdout)
				}
			}
			e, err := s.Get(t.Context(), key)
			if err != nil || !bytes.Equal(e.Value, original) {
				t.Fatalf("after the revert the store holds %q, %v; want the original bytes %q", e.Value, err, original)
			}

			r = f.run(t, "", "revert", tk.ID, "--reason", "again", "--yes")
			if r.code != ExitState || !strings.Contains(r.stderr, "changed since you looked") {
				t.Errorf("second revert = exit %d %q; want 3, changed", r.code, r.stderr)
			}
			if e2, _ := s.Get(t.Context(), key); e2.Revision != e.Revision {
				t.Errorf("the refused revert wrote: revision %d, want %d", e2.Revision, e.Revision)
			}
			want := []string{"takeover/pending", "takeover/won", "revert/pending", "revert/won", "revert/pending", "revert/changed"}
			if got := f.auditTrail(t); !reflect.DeepEqual(got, want) {
				t.Errorf("audit log = %v, want %v", got, want)
			}
			entries = f.auditJSONOf(t)
			var got []string
			for _, en := range entries {
				got = append(got, en.Action+"/"+en.Outcome+" reverts="+en.Reverts)
			}
			wantJSON := []string{"revert/changed reverts=" + tk.ID, "revert/won reverts=" + tk.ID, "takeover/won reverts="}
			if !reflect.DeepEqual(got, wantJSON) {
				t.Errorf("audit -o json, newest first = %v, want %v", got, wantJSON)
			}
			if rv := entries[1]; !bytes.Equal(rv.ValueAfter, original) || *rv.Reason != "undo INC-7" || rv.Seen != *tk.RevisionAfter || rv.ID == tk.ID {
				t.Errorf("revert entry = %+v", rv)
			}
			if ch := entries[0]; ch.ValueAfter != nil || ch.Error == "" || *ch.RevisionAfter != 0 {
				t.Errorf("refused revert entry = %+v: want no value written and an error", ch)
			}
		})
	}
}

// TestRevertOfACreateCLI reverts a takeover of an absent key: the key then
// holds a tombstone, never a delete.
func TestRevertOfACreateCLI(t *testing.T) {
	f := newFixture(t)
	if r := f.run(t, "", "takeover", "exports/new", "--store", "fleet", "--ttl", "1m", "--reason", "pause", "--yes"); r.code != ExitOK {
		t.Fatalf("takeover of an absent key = exit %d: %s", r.code, r.stderr)
	}
	id := f.auditJSONOf(t)[0].ID
	r := f.run(t, "", "revert", id, "--reason", "resume", "--yes")
	if r.code != ExitOK || !strings.Contains(r.stderr, "after:   tombstone") {
		t.Fatalf("revert = exit %d %q; want 0, showing a tombstone after", r.code, r.stderr)
	}
	if e := f.get(t, "exports/new"); e.Value == nil || len(e.Value) != 0 {
		t.Errorf("after reverting a create the key holds %q; want a tombstone", e.Value)
	}
}

// TestRevertRefused covers every refusal before the store is written:
// exit 2, nothing audited, nothing asked.
func TestRevertRefused(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	if r := f.run(t, "", "takeover", "exports/orders", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--revision", fmt.Sprint(rev+5), "--yes"); r.code != ExitState {
		t.Fatalf("stale takeover = exit %d: %s", r.code, r.stderr)
	}
	if r := f.run(t, "", "takeover", "exports/orders", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--yes"); r.code != ExitOK {
		t.Fatalf("takeover = exit %d: %s", r.code, r.stderr)
	}
	entries := f.auditJSONOf(t)
	won, changed := entries[0].ID, entries[1].ID
	// Two crafted entries that share a prefix, appended as the log writes.
	logf, err := os.OpenFile(f.audit, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"abcd00000001", "abcd00000002"} {
		fmt.Fprintf(logf, `{"id":%q,"time":"2024-06-10T06:00:00Z","operator":"bob","host":"h","store":"fleet","key":"exports/x","action":"release","reason":"r","revision_before":3,"value_before":"","value_after":"","revision_after":4,"outcome":"won"}`+"\n", id)
	}
	logf.Close()
	trail := f.auditTrail(t)

	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"an entry that did not win", []string{"revert", changed, "--reason", "r", "--yes"}, "not revertible"},
		{"no reason", []string{"revert", won, "--yes"}, "reason"},
		{"blank reason", []string{"revert", won, "--reason", "  ", "--yes"}, "reason"},
		{"unknown id", []string{"revert", "ffffffffffff", "--reason", "r", "--yes"}, "no such entry"},
		{"ambiguous id", []string{"revert", "abcd", "--reason", "r", "--yes"}, "ambiguous"},
		{"too short a prefix", []string{"revert", won[:3], "--reason", "r", "--yes"}, "at least its first 4"},
		{"read-only flag", []string{"--read-only", "revert", won, "--reason", "r", "--yes"}, "read-only"},
		{"another store", []string{"revert", won, "--store", "fleet-ro", "--reason", "r", "--yes"}, "not on --store fleet-ro"},
		{"no terminal without --yes", []string{"revert", won, "--reason", "r"}, "refusing without --yes"},
		{"no id", []string{"revert", "--reason", "r"}, "missing argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "", tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("%v = exit %d %q; want 2 mentioning %q", tt.args, r.code, r.stderr, tt.msg)
			}
		})
	}
	t.Run("not confirmed", func(t *testing.T) {
		r := runEnv(t, terminal(strings.NewReader("invoices\n")), "--config", f.config, "revert", won, "--reason", "r")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "not confirmed") {
			t.Errorf("revert confirmed with the wrong word = exit %d %q", r.code, r.stderr)
		}
	})
	t.Run("read-only store", func(t *testing.T) {
		// The entry's store is read-only in the config.
		b, _ := os.ReadFile(f.config)
		ro := filepath.Join(t.TempDir(), "ro.yaml")
		os.WriteFile(ro, bytes.Replace(b, []byte("    bucket: leases\n  - name: fleet-ro"), []byte("    bucket: leases\n    read_only: true\n  - name: fleet-ro"), 1), 0o600)
		r := runEnv(t, Env{}, "--config", ro, "revert", won, "--reason", "r", "--yes")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "read_only") {
			t.Errorf("revert on a read_only store = exit %d %q; want 2", r.code, r.stderr)
		}
	})
	if got := f.auditTrail(t); !reflect.DeepEqual(got, trail) {
		t.Errorf("refused reverts were audited: %v, want %v", got, trail)
	}
	if e := f.get(t, "exports/orders"); e.Revision == rev || strings.Contains(string(e.Value), "node-a") {
		t.Error("a refused revert wrote")
	}
}

// TestAuditLegacyLog reads a log written before ids: every entry gets a
// stable derived id, and the commands find entries by it.
func TestAuditLegacyLog(t *testing.T) {
	f := newFixture(t)
	legacy, err := os.ReadFile(filepath.Join("..", "audit", "testdata", "legacy.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.audit), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.audit, legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	entries := f.auditJSONOf(t)
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", e.ID, e.Time, e.Action, e.Key, e.Outcome))
	}
	want := []string{
		"2ed2d6278c1f 2024-06-10T09:30:00Z takeover exports/refunds won",
		"2319d495a63d 2024-06-10T09:00:00Z release exports/orders pending",
		"a86b7fa225bd 2024-06-10T07:00:00.5Z acquire exports/eu.orders won",
		"05fd9fe79611 2024-06-10T07:00:00Z release exports/invoices changed",
		"e3861c2da8d3 2024-06-10T06:15:00.123456789Z takeover exports/orders won",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit -o json of a legacy log =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	table := f.run(t, "", "audit")
	if table.code != ExitOK || !strings.Contains(table.stdout, "e3861c2da8d3") || !strings.HasPrefix(table.stdout, "ID ") {
		t.Errorf("audit of a legacy log = exit %d:\n%s%s", table.code, table.stdout, table.stderr)
	}
	// The legacy entries were on a store this config does not have.
	r := f.run(t, "", "revert", "e3861c2d", "--reason", "r", "--yes")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "prod, which is not configured") {
		t.Errorf("revert of an entry on an unconfigured store = exit %d %q", r.code, r.stderr)
	}
}

// TestAuditFilters lists a log through each filter.
func TestAuditFilters(t *testing.T) {
	f := newFixture(t)
	f.put(t, "exports/a", liveRecord("node-a"))
	if r := f.run(t, "", "takeover", "exports/a", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--yes"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	if r := f.run(t, "", "acquire", "exports/b", "--store", "fleet", "--ttl", "1m"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	if r := f.run(t, "", "acquire", "exports/b", "--store", "fleet", "--ttl", "1m"); r.code != ExitState {
		t.Fatal(r.stderr)
	}
	// An old entry, by another operator on another store.
	logf, err := os.OpenFile(f.audit, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(logf, `{"time":"2024-06-10T06:00:00Z","operator":"bob","host":"h","store":"old","key":"exports/a","action":"release","reason":"r","revision_before":3,"value_before":"","value_after":"","revision_after":4,"outcome":"won"}`)
	logf.Close()

	tests := []struct {
		args []string
		want string
	}{
		{nil, "acquire/lost acquire/won takeover/won release/won"},
		{[]string{"--key", "exports/a"}, "takeover/won release/won"},
		{[]string{"--key", "exports/"}, ""},
		{[]string{"--operator", "bob"}, "release/won"},
		{[]string{"--outcome", "won"}, "acquire/won takeover/won release/won"},
		{[]string{"--outcome", "lost"}, "acquire/lost"},
		{[]string{"--store", "old"}, "release/won"},
		{[]string{"--store", "old", "--store", "fleet", "--key", "exports/b"}, "acquire/lost acquire/won"},
		{[]string{"--since", "1h"}, "acquire/lost acquire/won takeover/won"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got []string
			for _, e := range f.auditJSONOf(t, tt.args...) {
				got = append(got, e.Action+"/"+e.Outcome)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("audit %v = %v, want %s", tt.args, got, tt.want)
			}
		})
	}
	for _, args := range [][]string{{"--outcome", "maybe"}, {"--since", "-1h"}, {"-o", "yaml"}, {"extra"}} {
		if r := f.run(t, "", append([]string{"audit"}, args...)...); r.code != ExitUsage {
			t.Errorf("audit %v = exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
	empty := newFixture(t)
	if r := empty.run(t, "", "audit", "-o", "json"); r.code != ExitOK || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("audit -o json without a log = exit %d %q; want an empty array", r.code, r.stdout)
	}
	help := f.run(t, "", "audit", "--help")
	for _, want := range []string{"--since", "--outcome", "newest first", "revert"} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("audit --help does not mention %q", want)
		}
	}
	help = f.run(t, "", "revert", "--help")
	for _, want := range []string{"--reason", "--yes", "tombstone", "exit 3", "compare-and-swap"} {
		if !strings.Contains(strings.ReplaceAll(help.stdout, "\n", " "), want) {
			t.Errorf("revert --help does not mention %q", want)
		}
	}
}

// TestAuditHostile lists and reverts entries whose keys, holders and
// reasons hold escape sequences: nothing reaches the terminal raw, and the
// JSON keeps them exactly.
func TestAuditHostile(t *testing.T) {
	f := newFixture(t)
	f.put(t, "exports/evil", liveRecord(hostileHolder))
	if r := f.run(t, "", "takeover", "exports/evil", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--yes"); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	logf, err := os.OpenFile(f.audit, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(map[string]any{
		"id": "\x1b[2Jabcdef", "time": "2024-06-10T06:00:00Z", "operator": hostileHolder, "host": "h", "store": "fleet",
		"key": "exports/\x1b]0;pwned\x07", "action": "takeover", "reason": hostileHolder, "revision_before": 1,
		"value_before": []byte(hostileHolder), "value_after": []byte("x"), "revision_after": 2, "outcome": "won",
	})
	fmt.Fprintf(logf, "%s\n", line)
	logf.Close()
	for _, args := range [][]string{{"audit"}, {"audit", "-o", "json"}, {"revert", "\x1b[2Jabc", "--reason", "r", "--yes"}} {
		r := f.run(t, "", args...)
		checkTerminalSafe(t, fmt.Sprintf("%q stdout", args), r.stdout)
		checkTerminalSafe(t, fmt.Sprintf("%q stderr", args), r.stderr)
		if args[len(args)-1] == "json" && !strings.Contains(fmt.Sprint(jsonValue(t, r.stdout)), hostileHolder) {
			t.Errorf("audit -o json does not carry the reason exactly: %s", r.stdout)
		}
	}
	r := runEnv(t, Env{Width: func() int { return 60 }}, "--config", f.config, "audit")
	for _, l := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		if w := len([]rune(l)); w > 60 {
			t.Errorf("audit in a 60-column terminal printed a line of %d: %q", w, l)
		}
	}
}

// jsonValue decodes s.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}
