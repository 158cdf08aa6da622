package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
)

// fixture is a real NATS JetStream server with one bucket, and a config
// naming it twice: writable as "fleet", read-only as "fleet-ro".
type fixture struct {
	store  *natskv.Store
	config string
	audit  string
	url    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	st, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.ClientURL(), Bucket: "leases", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	f := &fixture{store: st, config: filepath.Join(dir, "config.yaml"), audit: filepath.Join(dir, "state", "audit.jsonl"), url: srv.ClientURL()}
	conf := fmt.Sprintf(`operator: alice
audit_log: %s
stores:
  - name: fleet
    kind: nats
    url: %s
    bucket: leases
  - name: fleet-ro
    kind: nats
    url: %s
    bucket: leases
    read_only: true
`, f.audit, srv.ClientURL(), srv.ClientURL())
	if err := os.WriteFile(f.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// result is one run of leasectl.
type result struct {
	code           int
	stdout, stderr string
}

// run runs leasectl in-process with the fixture's config.
func (f *fixture) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runEnv(t, Env{Stdin: strings.NewReader(stdin)}, append([]string{"--config", f.config}, args...)...)
}

func runEnv(t *testing.T, env Env, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	code := Main(t.Context(), args, env)
	return result{code, out.String(), errb.String()}
}

func (f *fixture) put(t *testing.T, key string, value []byte) uint64 {
	t.Helper()
	rev, err := f.store.Create(t.Context(), key, value)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	return rev
}

func (f *fixture) get(t *testing.T, key string) stores.Entry {
	t.Helper()
	e, err := f.store.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return e
}

func liveRecord(holder string) []byte {
	now := uint64(time.Now().Unix())
	return lease.Record{HolderID: holder, AcquiredAtUnix: now, ExpiresAtUnix: now + 3600}.Encode()
}

// vector is one line of the record vectors in lease/testdata.
type vector struct {
	Name     string   `json:"name"`
	Value    *string  `json:"value"`
	ValueB64 string   `json:"value_b64"`
	Now      int64    `json:"now"`
	State    string   `json:"state"`
	Flags    []string `json:"flags"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("../lease/testdata/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("vector %q: %v", sc.Text(), err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func (v vector) raw(t *testing.T) []byte {
	if v.Value != nil {
		return []byte(*v.Value)
	}
	b, err := base64.StdEncoding.DecodeString(v.ValueB64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			raw := v.raw(t)
			r := runEnv(t, Env{Stdin: bytes.NewReader(raw)}, "decode", "--now", fmt.Sprint(v.Now), "-o", "json")
			if r.code != ExitOK {
				t.Fatalf("decode exit %d: %s", r.code, r.stderr)
			}
			var got leaseJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("decode output %q: %v", r.stdout, err)
			}
			want := v.Flags
			if want == nil {
				want = []string{}
			}
			// The vectors speak of the record format's two flags, not of
			// leasectl's round health (overdue, unfinished).
			got.Flags = slices.DeleteFunc(got.Flags, func(f string) bool { return f == "overdue" || f == "unfinished" })
			if got.State != v.State || strings.Join(got.Flags, ",") != strings.Join(want, ",") {
				t.Errorf("decode(%q) = %s %v, want %s %v", raw, got.State, got.Flags, v.State, want)
			}
			if (v.State == "corrupt") != (got.Error != "") {
				t.Errorf("decode(%q) error = %q; a reason is wanted exactly for corrupt values", raw, got.Error)
			}
			if got.ValueB64 == nil || *got.ValueB64 != base64.StdEncoding.EncodeToString(raw) {
				t.Errorf("decode(%q) value_b64 = %v", raw, got.ValueB64)
			}
			table := runEnv(t, Env{Stdin: bytes.NewReader(raw)}, "decode", "--now", fmt.Sprint(v.Now))
			if !strings.Contains(table.stdout, "state:") || !strings.Contains(table.stdout, v.State) {
				t.Errorf("decode table = %q, want state %s", table.stdout, v.State)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad flag", []string{"ls", "--nope"}, "unknown flag"},
		{"bad output", []string{"ls", "-o", "yaml"}, "want table or json"},
		{"unknown store", []string{"get", "k", "--store", "nope"}, `no store named "nope"`},
		{"store required", []string{"get", "k"}, "--store is required"},
		{"missing key", []string{"get", "--store", "fleet"}, "missing argument"},
		{"takeover without reason", []string{"takeover", "k", "--store", "fleet", "--ttl", "1m", "--yes"}, "takeover: --reason: lease: a reason is required for a takeover"},
		{"release without reason", []string{"release", "k", "--store", "fleet", "--yes"}, "release: --reason: lease: a reason is required for a release"},
		{"ttl too short", []string{"acquire", "k", "--store", "fleet", "--ttl", "500ms"}, "want at least 1s"},
		{"read-only store", []string{"acquire", "exports/x", "--store", "fleet-ro", "--ttl", "1m"}, "read_only"},
		{"global read-only", []string{"--read-only", "acquire", "exports/x", "--store", "fleet", "--ttl", "1m"}, "read-only"},
		{"invalid nats key", []string{"acquire", "bad key", "--store", "fleet", "--ttl", "1m"}, "invalid key"},
		{"confirm without terminal", []string{"release", "exports/x", "--store", "fleet", "--reason", "r"}, "refusing without --yes"},
	}
	f.put(t, "exports/x", liveRecord("node-a"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "", tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("leasectl %v = exit %d, stderr %q; want exit 2 mentioning %q", tt.args, r.code, r.stderr, tt.msg)
			}
		})
	}
	if e := f.get(t, "exports/x"); e.Revision != 1 {
		t.Errorf("a refused command wrote: exports/x at revision %d", e.Revision)
	}
	if _, err := os.Stat(f.audit); err == nil {
		b, _ := os.ReadFile(f.audit)
		if len(b) > 0 {
			t.Errorf("refused commands were audited: %s", b)
		}
	}
	noConfig := runEnv(t, Env{}, "--config", filepath.Join(t.TempDir(), "missing.yaml"), "ls")
	if noConfig.code != ExitUsage || !strings.Contains(noConfig.stderr, "missing.yaml") {
		t.Errorf("ls with a missing config = %d %q, want exit 2 naming the file", noConfig.code, noConfig.stderr)
	}
}

func TestAcquire(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, "", "acquire", "exports/orders", "--store", "fleet", "--ttl", "5m")
	if r.code != ExitOK {
		t.Fatalf("acquire on a free key = exit %d: %s", r.code, r.stderr)
	}
	e := f.get(t, "exports/orders")
	rec, err := lease.Decode(e.Value)
	if err != nil {
		t.Fatalf("acquire wrote %q: %v", e.Value, err)
	}
	if rec.HolderID != "operator:alice" || rec.ExpiresAtUnix-rec.AcquiredAtUnix != 300 {
		t.Errorf("acquire wrote %+v, want operator:alice for 300s", rec)
	}
	want := fmt.Sprintf(`{"holder_id":"operator:alice","acquired_at_unix":%d,"expires_at_unix":%d}`, rec.AcquiredAtUnix, rec.ExpiresAtUnix)
	if string(e.Value) != want {
		t.Errorf("acquire wrote %s, want exactly %s", e.Value, want)
	}
	again := f.run(t, "", "acquire", "exports/orders", "--store", "fleet", "--ttl", "5m", "--holder", "node-b")
	if again.code != ExitState || !strings.Contains(again.stderr, "held") {
		t.Errorf("acquire on a held key = exit %d, %q; want 3, held", again.code, again.stderr)
	}
	if f.get(t, "exports/orders").Revision != e.Revision {
		t.Error("a lost acquire wrote")
	}
	f.put(t, "exports/corrupt", []byte("export-lock held by node-a"))
	if r := f.run(t, "", "acquire", "exports/corrupt", "--store", "fleet", "--ttl", "1m", "--holder", "node-b"); r.code != ExitOK {
		t.Errorf("acquire over corrupt bytes = exit %d: %s", r.code, r.stderr)
	}
	if rec, err := lease.Decode(f.get(t, "exports/corrupt").Value); err != nil || rec.HolderID != "node-b" {
		t.Errorf("after acquire as node-b: %+v, %v", rec, err)
	}
	lines := auditLines(t, f.audit)
	if len(lines) != 6 {
		t.Fatalf("audit has %d lines, want 6 (intent + result for 3 actions)", len(lines))
	}
	if lines[0]["outcome"] != "pending" || lines[1]["outcome"] != "won" || lines[3]["outcome"] != "lost" || lines[5]["outcome"] != "won" {
		t.Errorf("audit outcomes = %v %v %v %v", lines[0]["outcome"], lines[1]["outcome"], lines[3]["outcome"], lines[5]["outcome"])
	}
	if st, err := os.Stat(f.audit); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, %v; want 0600", st.Mode(), err)
	}
}

func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		for _, k := range []string{"time", "operator", "host", "store", "key", "action", "revision_before", "value_before", "value_after", "revision_after", "outcome"} {
			if _, ok := m[k]; !ok {
				t.Errorf("audit line %s lacks %q", l, k)
			}
		}
		out = append(out, m)
	}
	return out
}

func TestTakeoverAndRelease(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))

	stale := f.run(t, "", "takeover", "exports/orders", "--store", "fleet", "--ttl", "10m", "--reason", "incident 42", "--revision", fmt.Sprint(rev+7), "--yes")
	if stale.code != ExitState || !strings.Contains(stale.stderr, "changed since you looked") {
		t.Errorf("takeover at a stale revision = exit %d %q; want 3, changed since you looked", stale.code, stale.stderr)
	}
	if f.get(t, "exports/orders").Revision != rev {
		t.Fatal("a stale takeover wrote")
	}

	r := f.run(t, "", "takeover", "exports/orders", "--store", "fleet", "--ttl", "10m", "--reason", "incident 42", "--revision", fmt.Sprint(rev), "--yes")
	if r.code != ExitOK {
		t.Fatalf("takeover = exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "before:") || !strings.Contains(r.stderr, "node-a") || !strings.Contains(r.stderr, "operator:alice") {
		t.Errorf("takeover did not show before and after: %q", r.stderr)
	}
	e := f.get(t, "exports/orders")
	if rec, err := lease.Decode(e.Value); err != nil || rec.HolderID != "operator:alice" {
		t.Fatalf("after takeover the store holds %q (%v)", e.Value, err)
	}

	wrong := runEnv(t, Env{Stdin: strings.NewReader("payments\n"), IsTerminal: func() bool { return true }},
		"--config", f.config, "release", "exports/orders", "--store", "fleet", "--reason", "done")
	if wrong.code != ExitUsage || !strings.Contains(wrong.stderr, "not confirmed") {
		t.Errorf("release with the wrong confirmation = exit %d %q", wrong.code, wrong.stderr)
	}
	ok := runEnv(t, Env{Stdin: strings.NewReader("orders\n"), IsTerminal: func() bool { return true }},
		"--config", f.config, "release", "exports/orders", "--store", "fleet", "--reason", "done")
	if ok.code != ExitOK || !strings.Contains(ok.stderr, `Type orders to release`) {
		t.Fatalf("release confirmed = exit %d %q", ok.code, ok.stderr)
	}
	if got := f.get(t, "exports/orders"); len(got.Value) != 0 || got.Revision <= e.Revision {
		t.Errorf("after release the store holds %q at %d, want a tombstone after %d", got.Value, got.Revision, e.Revision)
	}
	lines := auditLines(t, f.audit)
	last := lines[len(lines)-1]
	if last["action"] != "release" || last["reason"] != "done" || last["outcome"] != "won" || last["value_after"] != "" {
		t.Errorf("last audit line = %v", last)
	}
}

func TestAuditUnwritable(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	// A directory where the log file should be: nothing can append to it.
	if err := os.MkdirAll(f.audit, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"acquire", "exports/new", "--store", "fleet", "--ttl", "1m"},
		{"takeover", "exports/orders", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--yes"},
		{"release", "exports/orders", "--store", "fleet", "--reason", "r", "--yes"},
	} {
		r := f.run(t, "", args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "audit") {
			t.Errorf("%v with an unwritable audit log = exit %d %q, want 1 naming the audit log", args, r.code, r.stderr)
		}
	}
	if e := f.get(t, "exports/orders"); e.Revision != rev {
		t.Error("a write happened although the audit log was unwritable")
	}
	if _, err := f.store.Get(t.Context(), "exports/new"); err == nil {
		t.Error("acquire wrote although the audit log was unwritable")
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	now := uint64(time.Now().Unix())
	f.put(t, "exports/held", liveRecord("node-a"))
	f.put(t, "exports/expired", lease.Record{HolderID: "node-b", AcquiredAtUnix: now - 600, ExpiresAtUnix: now - 300}.Encode())
	f.put(t, "exports/tomb", []byte{})
	f.put(t, "exports/corrupt", []byte(`{"holder_id":"x","holder_id":"y","acquired_at_unix":1,"expires_at_unix":2}`))
	f.put(t, "exports/evil", liveRecord("\x1b]0;pwned\x07\x1b[2Jnode-evil-with-a-very-long-holder-name-that-goes-on"))
	f.put(t, "other/key", liveRecord("node-c"))

	r := f.run(t, "", "ls", "exports/", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("ls = exit %d: %s", r.code, r.stderr)
	}
	var got []leaseJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("ls -o json = %q: %v", r.stdout, err)
	}
	// fleet and fleet-ro are the same bucket: each key is listed per store.
	states := map[string]string{}
	for _, l := range got {
		if l.Store == "fleet" {
			states[l.Key] = l.State
		}
		if l.Revision == 0 {
			t.Errorf("ls: %s has no revision", l.Key)
		}
	}
	want := map[string]string{"exports/held": "held", "exports/expired": "expired", "exports/tomb": "tombstone", "exports/corrupt": "corrupt", "exports/evil": "held"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("ls states = %v, want %v", states, want)
	}

	table := runEnv(t, Env{Width: func() int { return 80 }}, "--config", f.config, "ls", "--store", "fleet")
	if table.code != ExitOK {
		t.Fatalf("ls table = exit %d: %s", table.code, table.stderr)
	}
	for _, line := range strings.Split(strings.TrimRight(table.stdout, "\n"), "\n") {
		if w := safetext.Width(line); w > 80 {
			t.Errorf("ls line is %d columns: %q", w, line)
		}
		for _, c := range line {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				t.Errorf("ls printed a control character %U: %q", c, line)
			}
		}
	}
	if !strings.Contains(table.stdout, "(duplicate") || !strings.Contains(table.stdout, "…") {
		t.Errorf("ls table lacks the corrupt reason or truncation:\n%s", table.stdout)
	}
}

func TestUnreachableStore(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	os.WriteFile(conf, []byte("audit_log: "+filepath.Join(dir, "a.jsonl")+"\nstores:\n  - {name: gone, kind: nats, url: 'nats://127.0.0.1:1', bucket: leases}\n"), 0o600)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Main(ctx, []string{"--config", conf, "--timeout", "2s", "ls"}, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	if code != ExitError || !strings.Contains(errb.String(), "gone") {
		t.Errorf("ls on an unreachable store = exit %d %q, want 1 naming the store", code, errb.String())
	}
}

// TestListFilters selects leases by state and by flag, the round-health
// flags included, on a real store.
func TestListFilters(t *testing.T) {
	f := newFixture(t)
	now := uint64(time.Now().Unix())
	f.put(t, "exports/held", liveRecord("node-a"))
	// Expired a minute ago out of a ten-minute period: unfinished only.
	f.put(t, "exports/late", lease.Record{HolderID: "node-b", AcquiredAtUnix: now - 660, ExpiresAtUnix: now - 60}.Encode())
	// Expired three periods ago: overdue and unfinished.
	f.put(t, "exports/stopped", lease.Record{HolderID: "node-c", AcquiredAtUnix: now - 1200, ExpiresAtUnix: now - 900}.Encode())
	// Completed, expired three periods ago: overdue only.
	f.put(t, "exports/done", lease.Record{HolderID: "node-d", AcquiredAtUnix: now - 1200, ExpiresAtUnix: now - 900, CompletedCursorHex: "2a"}.Encode())
	f.put(t, "exports/tomb", []byte{})
	tests := []struct {
		args []string
		want string
	}{
		{nil, "exports/done exports/held exports/late exports/stopped exports/tomb"},
		{[]string{"--flag", "overdue"}, "exports/done exports/stopped"},
		{[]string{"--flag", "unfinished"}, "exports/late exports/stopped"},
		{[]string{"--flag", "overdue,unfinished"}, "exports/stopped"},
		{[]string{"--flag", "overdue", "--flag", "completed"}, "exports/done"},
		{[]string{"--state", "held", "--state", "tombstone"}, "exports/held exports/tomb"},
		{[]string{"--state", "expired", "--flag", "unfinished"}, "exports/late exports/stopped"},
		{[]string{"--flag", "skewed"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := f.run(t, "", append([]string{"ls", "exports/", "--store", "fleet", "-o", "json"}, tt.args...)...)
			if r.code != ExitOK {
				t.Fatalf("ls = exit %d: %s", r.code, r.stderr)
			}
			var got []leaseJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("ls -o json = %q: %v", r.stdout, err)
			}
			var keys []string
			for _, l := range got {
				keys = append(keys, l.Key)
				if l.Key == "exports/stopped" && strings.Join(l.Flags, ",") != "overdue,unfinished" {
					t.Errorf("exports/stopped flags = %v, want [overdue unfinished]", l.Flags)
				}
			}
			if strings.Join(keys, " ") != tt.want {
				t.Errorf("ls %v = %v, want %s", tt.args, keys, tt.want)
			}
			table := f.run(t, "", append([]string{"ls", "exports/", "--store", "fleet"}, tt.args...)...)
			if rows := strings.Count(table.stdout, "\n") - 1; table.code != ExitOK || rows != len(keys) {
				t.Errorf("ls table %v = exit %d with %d rows, want %d:\n%s", tt.args, table.code, rows, len(keys), table.stdout)
			}
		})
	}
	for _, bad := range [][]string{{"--flag", "late"}, {"--state", "live"}} {
		if r := f.run(t, "", append([]string{"ls", "--store", "fleet"}, bad...)...); r.code != ExitUsage || !strings.Contains(r.stderr, "unknown") {
			t.Errorf("ls %v = exit %d (%s), want a usage error", bad, r.code, r.stderr)
		}
	}
}
