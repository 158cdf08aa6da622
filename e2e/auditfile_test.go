package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The audit log's own hazards, against real stores: a path that is a FIFO,
// a disk that fills up under a line, a log that others can read.

const (
	// auditFilePrompt bounds a leasectl run that must not block at all: a
	// correct one exits in well under a second; past this bound it hangs.
	auditFilePrompt = 20 * time.Second
	// auditFileReason is every action's reason.
	auditFileReason = "audit file test"
	// auditFileArgvEnv, set in a child of this test binary, holds the
	// command line (JSON) to run under a file size limit of
	// auditFileLimitEnv bytes: see auditFileLimited.
	auditFileArgvEnv  = "LEASECTL_AUDITFILE_ARGV"
	auditFileLimitEnv = "LEASECTL_AUDITFILE_FSIZE"
	// auditFileExecFailed is the exit code of a child that could not
	// become leasectl.
	auditFileExecFailed = 125
)

// TestAuditFileFIFO points the audit log at a FIFO that nobody reads: the
// takeover must exit at once with an error naming the FIFO, having written
// nothing to the store, instead of blocking in open(2) past SIGTERM and
// SIGINT.
func TestAuditFileFIFO(t *testing.T) {
	f := newFixture(t, newEtcd(t), "fifo", false)
	if err := syscall.Mkfifo(f.audit, 0o600); err != nil {
		t.Fatal(err)
	}
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	planted := record("node-a", now, now+3600)
	rev := f.scope.put(t, key, planted)

	r := auditFileRunPromptly(t, f.audit, f.args("takeover", key, "--store", storeName, "--ttl", "10m", "--reason", auditFileReason, "--yes")...)
	if r.code != 1 || !strings.Contains(r.stderr, "FIFO") || !strings.Contains(r.stderr, f.audit) {
		t.Errorf("%v\nwant exit 1 and an error naming the FIFO %s", r, f.audit)
	}
	if v, got, _ := f.scope.get(t, key); !bytes.Equal(v, planted) || got != rev {
		t.Errorf("after a refused takeover %s = %q at %d, want %q at %d", key, v, got, planted, rev)
	}
	// Nothing was written into the FIFO either.
	fifo, err := os.OpenFile(f.audit, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	if n, _ := fifo.Read(make([]byte, 4096)); n > 0 {
		t.Errorf("leasectl wrote %d bytes into the FIFO", n)
	}
}

// auditFileRunPromptly runs leasectl with args and returns its result. When
// it does not exit within auditFilePrompt, the test fails, saying whether
// SIGTERM and then SIGINT ended it, and the process is killed.
func auditFileRunPromptly(t *testing.T, fifo string, args ...string) result {
	t.Helper()
	p := command(t, args...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start leasectl: %v", err)
	}
	p.waited = true
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	exited := func(d time.Duration) bool {
		select {
		case <-done:
			return true
		case <-time.After(d):
			return false
		}
	}
	if !exited(auditFilePrompt) {
		hung := fmt.Sprintf("leasectl %s did not exit within %v", strings.Join(args, " "), auditFilePrompt)
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
			p.cmd.Process.Signal(sig)
			if exited(5 * time.Second) {
				t.Fatalf("%s; %v ended it", hung, sig)
			}
			hung += fmt.Sprintf(", nor 5s after %v", sig)
		}
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("%s; killed (audit log %s)", hung, fifo)
	}
	return result{args: args, code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// TestAuditFileFullDisk fills the disk (a file size limit on the leasectl
// process) under the intent line, then under the result line of a takeover,
// then plants a line torn by a crash, against each real store. After each
// the log must be JSON Lines whose lines tell what the store holds.
func TestAuditFileFullDisk(t *testing.T) {
	if argv := os.Getenv(auditFileArgvEnv); argv != "" {
		auditFileExecLimited(argv)
	}
	backends := []struct {
		name  string
		start func(t testing.TB) backend
	}{
		{"etcd", func(t testing.TB) backend { return newEtcd(t) }},
		{"nats", func(t testing.TB) backend { return newNATS(t) }},
		{"consul", func(t testing.TB) backend { return newConsul(t) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { testAuditFileFullDisk(t, be.start(t)) })
	}
}

func testAuditFileFullDisk(t *testing.T, b backend) {
	f := newFixture(t, b, "fulldisk", false)
	now := time.Now().Unix()
	keys := make([]string, 3)
	for i := range keys {
		keys[i] = f.scope.key(fmt.Sprintf("exports/k%d", i))
		f.scope.put(t, keys[i], record("node-a", now, now+3600))
	}
	takeover := func(key string) []string {
		return f.args("takeover", key, "--store", storeName, "--ttl", "10m", "--reason", auditFileReason, "--yes")
	}

	// A takeover with room to spare: its two lines measure the lines of
	// the takeovers to come (same key length, same kind of record).
	if r := f.run(t, takeover(keys[0])...); r.code != 0 {
		t.Fatalf("%v", r)
	}
	lines := auditFileLines(t, f.audit)
	if len(lines) != 2 {
		t.Fatalf("audit log has %d lines after one takeover, want 2", len(lines))
	}
	intentLen, resultLen := len(lines[0].raw)+1, len(lines[1].raw)+1

	t.Run("intent line cut", func(t *testing.T) {
		before := auditFileRead(t, f.audit)
		value, rev, _ := f.scope.get(t, keys[1])
		r := auditFileLimited(t, int64(len(before)+intentLen/2), takeover(keys[1])...)
		if r.code != 1 || !strings.Contains(r.stderr, "nothing was written") {
			t.Errorf("%v\nwant exit 1: audit failed, nothing was written", r)
		}
		if got := auditFileRead(t, f.audit); !bytes.Equal(got, before) {
			t.Errorf("audit log after the failed intent line:\n%s\nwant it as it was:\n%s", got, before)
		}
		if v, got, _ := f.scope.get(t, keys[1]); !bytes.Equal(v, value) || got != rev {
			t.Errorf("%s = %q at %d, want it untouched: %q at %d", keys[1], v, got, value, rev)
		}
	})

	t.Run("result line cut", func(t *testing.T) {
		before := auditFileRead(t, f.audit)
		_, rev, _ := f.scope.get(t, keys[1])
		r := auditFileLimited(t, int64(len(before)+intentLen+resultLen/2), takeover(keys[1])...)
		if r.code != 1 || !strings.Contains(r.stderr, "audit") {
			t.Errorf("%v\nwant exit 1: the result line could not be written", r)
		}
		got := auditFileRead(t, f.audit)
		if !bytes.HasPrefix(got, before) {
			t.Fatalf("audit log lost lines:\n%s\nwant it to start with:\n%s", got, before)
		}
		added := auditFileParse(t, got[len(before):])
		if len(added) != 1 || added[0].Key != keys[1] || added[0].Outcome != "pending" {
			t.Fatalf("audit log gained %+v, want only the intent line of %s", added, keys[1])
		}
		// The store holds what the intent line said it would write.
		value, cur, _ := f.scope.get(t, keys[1])
		if !bytes.Equal(value, added[0].ValueAfter) || cur <= rev {
			t.Errorf("%s = %q at %d, want the intent's value %q after %d", keys[1], value, cur, added[0].ValueAfter, rev)
		}
		if d := doneRevision(t, r); d != cur {
			t.Errorf("leasectl reports revision %d, the store says %d", d, cur)
		}

		// The next action appends whole lines after it.
		rel := f.run(t, "release", keys[1], "--store", storeName, "--revision", strconv.FormatUint(cur, 10), "--reason", auditFileReason, "--yes")
		if rel.code != 0 {
			t.Fatalf("%v", rel)
		}
		lines := auditFileLines(t, f.audit)
		last := lines[len(lines)-1]
		value, cur, _ = f.scope.get(t, keys[1])
		if last.Key != keys[1] || last.Action != "release" || last.Outcome != "won" || last.RevisionAfter != cur || !bytes.Equal(last.ValueAfter, value) || len(value) != 0 {
			t.Errorf("last audit line %s; the store holds %q at %d", last.raw, value, cur)
		}
	})

	t.Run("torn line", func(t *testing.T) {
		// A crash in the middle of a write leaves a line without its end:
		// plant the first half of a real line.
		lines := auditFileLines(t, f.audit)
		torn := lines[len(lines)-1].raw[:len(lines[len(lines)-1].raw)/2]
		fh, err := os.OpenFile(f.audit, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(torn); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		before := auditFileRead(t, f.audit)
		r := f.run(t, takeover(keys[2])...)
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		got := auditFileRead(t, f.audit)
		if !bytes.HasPrefix(got, append(before, '\n')) {
			t.Fatalf("the torn line was not ended before the next line:\n%s", got)
		}
		added := auditFileParse(t, got[len(before)+1:])
		value, rev, _ := f.scope.get(t, keys[2])
		if len(added) != 2 || added[1].Key != keys[2] || added[1].Outcome != "won" || added[1].RevisionAfter != rev || !bytes.Equal(added[1].ValueAfter, value) {
			t.Errorf("audit log gained %+v; the store holds %q at %d", added, value, rev)
		}
		if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "cut short") {
			t.Errorf("stderr of the takeover after the torn line = %q, want a warning that the log's last line was cut short", r.stderr)
		}
	})
}

// auditFileLimited runs leasectl with args in a process whose files cannot
// grow past limit bytes (RLIMIT_FSIZE): to leasectl, the disk is full past
// that size. A child of this test binary sets the limit and then becomes
// leasectl (see auditFileExecLimited), since os/exec cannot set it.
func auditFileLimited(t *testing.T, limit int64, args ...string) result {
	t.Helper()
	argv, err := json.Marshal(append([]string{leasectlBinary(t)}, args...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAuditFileFullDisk$")
	cmd.Env = append(childEnv(), auditFileArgvEnv+"="+string(argv), auditFileLimitEnv+"="+strconv.FormatInt(limit, 10))
	cmd.Stdin = strings.NewReader("")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("leasectl under a file size limit: %v", err)
	}
	r := result{args: args, code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if r.code == auditFileExecFailed || r.code < 0 {
		t.Fatalf("leasectl under a file size limit of %d bytes: %v", limit, r)
	}
	return r
}

// auditFileExecLimited is the child of auditFileLimited: it sets its file
// size limit and replaces itself with the command line in argv (JSON). It
// does not return.
func auditFileExecLimited(argv string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "auditFileExecLimited:", err)
		os.Exit(auditFileExecFailed)
	}
	var args []string
	if err := json.Unmarshal([]byte(argv), &args); err != nil || len(args) == 0 {
		fail(fmt.Errorf("argv %q: %v", argv, err))
	}
	limit, err := strconv.ParseUint(os.Getenv(auditFileLimitEnv), 10, 64)
	if err != nil {
		fail(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fail(err)
	}
	auditFileSetLimit(&lim.Cur, limit)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fail(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, auditFileArgvEnv+"=") && !strings.HasPrefix(kv, auditFileLimitEnv+"=") {
			env = append(env, kv)
		}
	}
	fail(syscall.Exec(args[0], args, env))
}

// auditFileSetLimit sets an rlimit field, int64 on some systems and uint64
// on others.
func auditFileSetLimit[T int64 | uint64](field *T, v uint64) { *field = T(v) }

// TestAuditFileMode gives leasectl an audit log that others can read: it
// must make it private (0600) and keep appending to it.
func TestAuditFileMode(t *testing.T) {
	f := newFixture(t, newEtcd(t), "mode", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	f.scope.put(t, key, record("node-a", now, now+3600))
	if err := os.WriteFile(f.audit, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.audit, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	r := f.run(t, "takeover", key, "--store", storeName, "--ttl", "10m", "--reason", auditFileReason, "--yes")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	checkAudit(t, f.audit, 1) // mode 0600, an intent and a result
	if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "readable by others") {
		t.Errorf("stderr = %q, want a warning that the log was readable by others", r.stderr)
	}
}

// auditFileLine is one parsed line of the audit log, and the line itself.
type auditFileLine struct {
	auditLine
	raw string
}

// auditFileRead returns the content of the audit log at path.
func auditFileRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auditFileLines checks that the audit log at path is private JSON Lines
// and returns its lines.
func auditFileLines(t *testing.T, path string) []auditFileLine {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, want 0600", st.Mode().Perm())
	}
	return auditFileParse(t, auditFileRead(t, path))
}

// auditFileParse checks that b is JSON Lines (every line an object, none
// empty, the last one ended) and returns its lines.
func auditFileParse(t *testing.T, b []byte) []auditFileLine {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Errorf("audit log does not end with a newline: …%q", b[max(0, len(b)-80):])
	}
	var lines []auditFileLine
	for _, raw := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		l := auditFileLine{raw: raw}
		if err := json.Unmarshal([]byte(raw), &l.auditLine); err != nil {
			t.Errorf("audit line %q is not a JSON object: %v", raw, err)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}
