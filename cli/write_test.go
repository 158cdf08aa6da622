package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/lease"
)

// auditTrail returns the audit log as "action/outcome" entries, nil when
// the log was never created.
func (f *fixture) auditTrail(t *testing.T) []string {
	t.Helper()
	if b, err := os.ReadFile(f.audit); os.IsNotExist(err) || len(b) == 0 {
		return nil
	}
	var out []string
	for _, l := range auditLines(t, f.audit) {
		out = append(out, fmt.Sprintf("%v/%v", l["action"], l["outcome"]))
	}
	return out
}

func expiredRecord(holder string) []byte {
	now := uint64(time.Now().Unix())
	return lease.Record{HolderID: holder, AcquiredAtUnix: now - 600, ExpiresAtUnix: now - 300}.Encode()
}

// terminal is an Env whose stdin is taken for an interactive terminal.
func terminal(stdin io.Reader) Env {
	return Env{Stdin: stdin, IsTerminal: func() bool { return true }}
}

func TestAcquireAtRevision(t *testing.T) {
	f := newFixture(t)
	seen := f.put(t, "exports/orders", expiredRecord("node-a"))
	// A replica rewrites the key after the operator looked at it.
	moved, err := f.store.Update(t.Context(), "exports/orders", expiredRecord("node-b"), seen)
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, "exports/taken", expiredRecord("node-c"))

	tests := []struct {
		name  string
		args  []string
		code  int
		msg   string
		trail []string
	}{
		{"stale revision", []string{"exports/orders", "--revision", fmt.Sprint(seen)}, ExitState, "changed since you looked", []string{"acquire/pending", "acquire/changed"}},
		{"seen absent, exists", []string{"exports/taken", "--revision", "0"}, ExitState, "changed since you looked", []string{"acquire/pending", "acquire/changed"}},
		{"current revision", []string{"exports/orders", "--revision", fmt.Sprint(moved)}, ExitOK, "", []string{"acquire/pending", "acquire/won"}},
		{"seen absent, absent", []string{"exports/fresh", "--revision", "0"}, ExitOK, "", []string{"acquire/pending", "acquire/won"}},
	}
	var trail []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "", append([]string{"acquire", "--store", "fleet", "--ttl", "5m"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("acquire %v = exit %d, %q; want %d mentioning %q", tt.args, r.code, r.stderr, tt.code, tt.msg)
			}
			trail = append(trail, tt.trail...)
			if got := f.auditTrail(t); fmt.Sprint(got) != fmt.Sprint(trail) {
				t.Errorf("audit = %v, want %v", got, trail)
			}
		})
	}
	if e := f.get(t, "exports/taken"); string(e.Value) != string(expiredRecord("node-c")) && !strings.Contains(string(e.Value), "node-c") {
		t.Errorf("acquire --revision 0 overwrote exports/taken: %q", e.Value)
	}
	if rec, err := lease.Decode(f.get(t, "exports/orders").Value); err != nil || rec.HolderID != "operator:alice" {
		t.Errorf("after acquire at the current revision: %+v, %v", rec, err)
	}

	r := f.run(t, "", "acquire", "exports/paused", "--store", "fleet", "--ttl", "5m", "--reason", "incident 7: pause exports")
	if r.code != ExitOK {
		t.Fatalf("acquire --reason = exit %d: %s", r.code, r.stderr)
	}
	lines := auditLines(t, f.audit)
	if last := lines[len(lines)-1]; last["reason"] != "incident 7: pause exports" {
		t.Errorf("acquire --reason: audit line %v lacks the reason", last)
	}

	help := f.run(t, "", "acquire", "--help")
	for _, want := range []string{"--revision", "Without --revision", "fleet"} {
		if !strings.Contains(help.stdout, want) {
			t.Errorf("acquire --help does not mention %q:\n%s", want, help.stdout)
		}
	}
}

// TestStaleRevisionAudited checks that a --revision the key has moved past
// is refused by the lease core, which audits the attempt, and that nobody
// is asked to confirm a state they did not pin.
func TestStaleRevisionAudited(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	for _, args := range [][]string{
		{"takeover", "exports/orders", "--store", "fleet", "--ttl", "10m", "--reason", "r", "--revision", fmt.Sprint(rev + 7)},
		{"release", "exports/orders", "--store", "fleet", "--reason", "r", "--revision", fmt.Sprint(rev + 7)},
	} {
		r := runEnv(t, terminal(strings.NewReader("orders\n")), append([]string{"--config", f.config}, args...)...)
		if r.code != ExitState || !strings.Contains(r.stderr, "changed since you looked") {
			t.Errorf("%v = exit %d %q; want 3, changed since you looked", args, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "Type ") {
			t.Errorf("%v asked to confirm a state the operator did not pin: %q", args, r.stderr)
		}
	}
	if e := f.get(t, "exports/orders"); e.Revision != rev {
		t.Errorf("a stale action wrote: revision %d, want %d", e.Revision, rev)
	}
	want := []string{"takeover/pending", "takeover/changed", "release/pending", "release/changed"}
	if got := f.auditTrail(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

// hostileHolder is a holder id that would retitle the window, clear the
// screen, turn text red, reverse the line and start a C1 CSI if printed raw.
const hostileHolder = "\x1b]0;pwned\x07 \x1b]2;x\x07 \x1b[2J \x1b[31m \u202e \u009b"

// checkTerminalSafe fails when s holds anything a terminal could
// interpret: C0 controls other than newline, DEL, C1 controls, bidi
// controls or invalid UTF-8.
func checkTerminalSafe(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not valid UTF-8: %q", what, s)
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c {
			t.Errorf("%s holds %U: %q", what, r, s)
			return
		}
	}
}

func TestHostileOutput(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/evil", liveRecord(hostileHolder))
	f.put(t, "exports/evil2", liveRecord(hostileHolder))
	f.put(t, "exports/evil3", liveRecord(hostileHolder))

	runs := []struct {
		name string
		args []string
		code int
	}{
		{"acquire held", []string{"acquire", "exports/evil", "--store", "fleet", "--ttl", "1m"}, ExitState},
		{"acquire at revision", []string{"acquire", "exports/evil", "--store", "fleet", "--ttl", "1m", "--revision", fmt.Sprint(rev)}, ExitState},
		{"get table", []string{"get", "exports/evil", "--store", "fleet"}, ExitOK},
		{"get json", []string{"get", "exports/evil", "--store", "fleet", "-o", "json"}, ExitOK},
		{"ls table", []string{"ls", "--store", "fleet"}, ExitOK},
		{"ls json", []string{"ls", "--store", "fleet", "-o", "json"}, ExitOK},
		{"takeover stale", []string{"takeover", "exports/evil", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--revision", fmt.Sprint(rev + 9), "--yes"}, ExitState},
		{"takeover", []string{"takeover", "exports/evil2", "--store", "fleet", "--ttl", "1m", "--reason", "r", "--yes"}, ExitOK},
		{"release", []string{"release", "exports/evil3", "--store", "fleet", "--reason", "r", "--yes"}, ExitOK},
	}
	for _, tt := range runs {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("%v = exit %d, want %d: %s", tt.args, r.code, tt.code, r.stderr)
			}
			checkTerminalSafe(t, "stdout", r.stdout)
			checkTerminalSafe(t, "stderr", r.stderr)
			if strings.HasSuffix(tt.name, "json") {
				var v any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatalf("%v: not JSON: %v\n%s", tt.args, err, r.stdout)
				}
				if !strings.Contains(fmt.Sprint(v), hostileHolder) {
					t.Errorf("%v: the JSON does not carry the holder exactly: %q", tt.args, r.stdout)
				}
			}
		})
	}
	for _, format := range []string{"table", "json"} {
		r := runEnv(t, Env{Stdin: strings.NewReader(string(liveRecord(hostileHolder)))}, "decode", "-o", format)
		checkTerminalSafe(t, "decode -o "+format, r.stdout+r.stderr)
	}
}

// scoped adds a store named "scoped" to the fixture's config: the same
// bucket, configured with the prefix exports/.
func (f *fixture) scoped(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	b = fmt.Appendf(b, "  - name: scoped\n    kind: nats\n    url: %s\n    bucket: leases\n    prefix: exports/\n", f.url)
	if err := os.WriteFile(f.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWriteOutsidePrefix(t *testing.T) {
	f := newFixture(t)
	f.scoped(t)
	rev := f.put(t, "app/feature-flags", []byte("on"))
	for _, args := range [][]string{
		{"acquire", "app/feature-flags", "--store", "scoped", "--ttl", "1m"},
		{"takeover", "app/feature-flags", "--store", "scoped", "--ttl", "1m", "--reason", "r", "--yes"},
		{"release", "app/feature-flags", "--store", "scoped", "--reason", "r", "--yes"},
	} {
		r := f.run(t, "", args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--allow-outside-prefix") {
			t.Errorf("%v = exit %d %q; want 2 naming --allow-outside-prefix", args, r.code, r.stderr)
		}
	}
	if e := f.get(t, "app/feature-flags"); e.Revision != rev || string(e.Value) != "on" {
		t.Errorf("a write outside the prefix landed: %q at %d", e.Value, e.Revision)
	}
	if got := f.auditTrail(t); len(got) != 0 {
		t.Errorf("refused writes were audited: %v", got)
	}
	r := f.run(t, "", "acquire", "app/feature-flags", "--store", "scoped", "--ttl", "1m", "--allow-outside-prefix")
	if r.code != ExitOK {
		t.Errorf("acquire --allow-outside-prefix = exit %d: %s", r.code, r.stderr)
	}
	if r := f.run(t, "", "acquire", "exports/inside", "--store", "scoped", "--ttl", "1m"); r.code != ExitOK {
		t.Errorf("acquire inside the prefix = exit %d: %s", r.code, r.stderr)
	}
}

func TestConfigAndLimitErrors(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	os.Unsetenv("LEASECTL_TEST_UNSET_PASSWORD")
	conf := filepath.Join(dir, "c.yaml")
	yaml := fmt.Sprintf(`audit_log: %s
stores:
  - name: nopw
    kind: etcd
    endpoints: [http://127.0.0.1:1]
    username: ops
    password_env: LEASECTL_TEST_UNSET_PASSWORD
  - name: noca
    kind: etcd
    endpoints: [https://127.0.0.1:1]
    tls: {ca: %s}
  - name: nocert
    kind: nats
    url: tls://127.0.0.1:1
    bucket: leases
    tls: {cert: %s, key: %s}
`, filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "missing-ca.pem"), filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key"))
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"unset password_env", []string{"--config", conf, "get", "k", "--store", "nopw"}, "LEASECTL_TEST_UNSET_PASSWORD"},
		{"unset password_env, write", []string{"--config", conf, "acquire", "k", "--store", "nopw", "--ttl", "1m"}, "LEASECTL_TEST_UNSET_PASSWORD"},
		{"missing tls ca", []string{"--config", conf, "get", "k", "--store", "noca"}, "missing-ca.pem"},
		{"missing tls cert", []string{"--config", conf, "ls", "--store", "nocert"}, "missing.crt"},
		{"zero timeout", []string{"--config", f.config, "--timeout", "0s", "get", "exports/x", "--store", "fleet"}, "--timeout"},
		{"negative timeout", []string{"--config", f.config, "--timeout", "-1s", "ls"}, "--timeout"},
		{"empty holder", []string{"--config", f.config, "acquire", "exports/x", "--store", "fleet", "--ttl", "1m", "--holder", ""}, "holder"},
		{"ttl beyond the skew cap", []string{"--config", f.config, "acquire", "exports/x", "--store", "fleet", "--ttl", "1752000h"}, "ttl"},
		{"takeover ttl beyond the skew cap", []string{"--config", f.config, "takeover", "exports/x", "--store", "fleet", "--ttl", "25h", "--reason", "r", "--yes"}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runEnv(t, Env{}, tt.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.msg) {
				t.Errorf("leasectl %v = exit %d %q; want 2 mentioning %q", tt.args, r.code, r.stderr, tt.msg)
			}
		})
	}
	if _, err := f.store.Get(t.Context(), "exports/x"); err == nil {
		t.Error("a refused acquire wrote exports/x")
	}
	if got := f.auditTrail(t); len(got) != 0 {
		t.Errorf("refused writes were audited: %v", got)
	}
}

// zeroReader is an endless stream of zero bytes without a newline, like
// /dev/zero, that counts what was read from it; it ends after limit bytes
// so that an unbounded reader fails the test instead of the machine.
type zeroReader struct{ n, limit int }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n >= z.limit {
		return 0, io.EOF
	}
	n := min(len(p), z.limit-z.n)
	clear(p[:n])
	z.n += n
	return n, nil
}

func TestConfirmReadIsBounded(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	zero := &zeroReader{limit: 64 << 20}
	r := runEnv(t, terminal(zero), "--config", f.config, "takeover", "exports/orders", "--store", "fleet", "--ttl", "1m", "--reason", "r")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "not confirmed; nothing was written") {
		t.Errorf("takeover confirmed from an endless line = exit %d %q; want 2, not confirmed", r.code, r.stderr)
	}
	if zero.n > 64<<10 {
		t.Errorf("the confirmation read %d bytes of a line without end; want it bounded (at most 64 KiB)", zero.n)
	}
	if e := f.get(t, "exports/orders"); e.Revision != rev {
		t.Error("an unconfirmed takeover wrote")
	}
}

// TestConfirmAfterTimeout types the confirmation after --timeout has
// passed: the time a person takes is not a store call's.
func TestConfirmAfterTimeout(t *testing.T) {
	f := newFixture(t)
	f.put(t, "exports/orders", liveRecord("node-a"))
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go func() {
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(pw, "orders\n")
	}()
	r := runEnv(t, terminal(pr), "--config", f.config, "--timeout", "1s", "release", "exports/orders", "--store", "fleet", "--reason", "done")
	if r.code != ExitOK {
		t.Fatalf("release confirmed after --timeout = exit %d %q, want 0", r.code, r.stderr)
	}
	if e := f.get(t, "exports/orders"); len(e.Value) != 0 {
		t.Errorf("after release: %q, want a tombstone", e.Value)
	}
}

// TestRulesBeforePrompt checks that a request the rules refuse is refused
// (exit 2) before anyone is asked to confirm it.
func TestRulesBeforePrompt(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	f.put(t, "exports/tomb", []byte{})
	for _, args := range [][]string{
		{"takeover", "exports/orders", "--store", "fleet", "--ttl", "1752000h", "--reason", "r"},
		{"release", "exports/tomb", "--store", "fleet", "--reason", "r"},
		{"release", "exports/absent", "--store", "fleet", "--reason", "r"},
	} {
		r := runEnv(t, terminal(strings.NewReader("orders\ntomb\nabsent\n")), append([]string{"--config", f.config}, args...)...)
		if r.code != ExitUsage || strings.Contains(r.stderr, "Type ") {
			t.Errorf("%v = exit %d %q; want 2 without a question", args, r.code, r.stderr)
		}
	}
	if e := f.get(t, "exports/orders"); e.Revision != rev {
		t.Error("a refused takeover wrote")
	}
	if got := f.auditTrail(t); len(got) != 0 {
		t.Errorf("refused writes were audited: %v", got)
	}
}

// bulkKeys is how many keys TestListPipedKeepsKeys lists through a real
// store; TestTableBulk takes the full 100,000 through the table writer.
const bulkKeys = 3000

func bulkKey(i int) string { return fmt.Sprintf("exports/bulk/fold-%03d/export-%06d", i%500, i) }

// TestListPipedKeepsKeys lists many keys whose names differ only at the
// end, into a pipe: every key must come out whole.
func TestListPipedKeepsKeys(t *testing.T) {
	f := newFixture(t)
	v := liveRecord("node-with-a-rather-long-holder-name-7")
	for i := range bulkKeys {
		f.put(t, bulkKey(i), v)
	}
	r := f.run(t, "", "ls", "exports/bulk/", "--store", "fleet")
	if r.code != ExitOK {
		t.Fatalf("ls = exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	keys := map[string]bool{}
	for _, l := range lines[1:] {
		if fs := strings.Fields(l); len(fs) > 1 {
			keys[fs[1]] = true
		}
	}
	missing := 0
	for i := range bulkKeys {
		if !keys[bulkKey(i)] {
			missing++
		}
	}
	if len(lines) != bulkKeys+1 || len(keys) != bulkKeys || missing > 0 {
		t.Errorf("ls into a pipe: %d lines, %d distinct key cells, %d keys not shown whole; want %d rows with every key whole\nfirst rows:\n%s",
			len(lines), len(keys), missing, bulkKeys, strings.Join(lines[:min(4, len(lines))], "\n"))
	}
}
