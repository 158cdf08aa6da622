//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// The tests that need a process of their own (a file size limit, appends
// from several processes) re-run this test binary as a child: TestMain sees
// childEnv and runs runChild instead of the tests.
const (
	// childEnv holds the child's orders, as JSON (childOrders).
	childEnv = "LEASECTL_AUDIT_TEST_CHILD"
	// childMarker starts the line on which a child reports (childReport).
	childMarker = "audit-test-child: "
)

// childOrders tells a child what to append.
type childOrders struct {
	Path string
	// ID names the child's records: keys id/0, id/1…
	ID string
	// Lines is how many records to append.
	Lines int
	// ValueSize is the length of each record's value_before, to make
	// lines longer than one pipe buffer.
	ValueSize int
	// FileSizeLimit, when set, is the RLIMIT_FSIZE of the child in bytes:
	// a disk that is full at that size.
	FileSizeLimit uint64
	// Gate makes the child wait for one byte on stdin before it appends,
	// so that several children start at once.
	Gate bool
}

// childReport is what a child did.
type childReport struct {
	Errors   []string
	EFBIG    int // errors that match syscall.EFBIG
	Warnings []string
}

func TestMain(m *testing.M) {
	if orders := os.Getenv(childEnv); orders != "" {
		os.Exit(runChild(orders))
	}
	os.Exit(m.Run())
}

// runChild carries out childOrders and prints a childReport.
func runChild(orders string) int {
	var o childOrders
	if err := json.Unmarshal([]byte(orders), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if o.FileSizeLimit > 0 {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		setLimit(&lim.Cur, o.FileSizeLimit)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	var rep childReport
	var mu sync.Mutex
	f, err := NewFile(o.Path, WithWarn(func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		rep.Warnings = append(rep.Warnings, msg)
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if o.Gate {
		if _, err := io.ReadFull(os.Stdin, make([]byte, 1)); err != nil {
			fmt.Fprintln(os.Stderr, "gate:", err)
			return 2
		}
	}
	for i := range o.Lines {
		if err := f.Audit(context.Background(), childRecord(o, i)); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			if errors.Is(err, syscall.EFBIG) {
				rep.EFBIG++
			}
		}
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("%s%s\n", childMarker, b)
	return 0
}

// setLimit sets an rlimit field, int64 on some systems and uint64 on others.
func setLimit[T int64 | uint64](field *T, v uint64) { *field = T(v) }

// childRecord is the i-th record a child appends.
func childRecord(o childOrders, i int) lease.AuditRecord {
	r := record(i)
	r.Key = fmt.Sprintf("%s/%d", o.ID, i)
	if o.ValueSize > 0 {
		r.ValueBefore = bytes.Repeat([]byte("v"), o.ValueSize)
	}
	return r
}

// child is a started child process.
type child struct {
	cmd    *exec.Cmd
	gate   io.WriteCloser
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// startChild starts this test binary as a child that carries out o.
func startChild(t *testing.T, o childOrders) *child {
	t.Helper()
	orders, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.CommandContext(t.Context(), os.Args[0])}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(orders))
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if o.Gate {
		if c.gate, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return c
}

// wait waits for the child and returns its report.
func (c *child) wait(t *testing.T) childReport {
	t.Helper()
	err := c.cmd.Wait()
	out := c.stdout.String()
	i := strings.Index(out, childMarker)
	if err != nil || i < 0 {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, out, c.stderr.String())
	}
	line, _, _ := strings.Cut(out[i+len(childMarker):], "\n")
	var rep childReport
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Fatalf("child report %q: %v", line, err)
	}
	return rep
}

// warnings collects the warnings of a File.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// newWarnedFile returns a File at path whose warnings are collected.
func newWarnedFile(t *testing.T, path string) (*File, *warnings) {
	t.Helper()
	w := &warnings{}
	f, err := NewFile(path, WithWarn(w.add))
	if err != nil {
		t.Fatal(err)
	}
	return f, w
}

// encoded returns the line the log appends for r, by appending it to a
// scratch log.
func encoded(t *testing.T, r lease.AuditRecord) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scratch.jsonl")
	f, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Audit(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeLog creates the log at path holding content with mode perm.
func writeLog(t *testing.T, path string, content []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, content, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}

// readLog returns the content of the log at path.
func readLog(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkJSONLines checks that b is JSON Lines: every line a JSON object
// (but the torn fragments named), none empty, the last one ended. It returns
// the lines.
func checkJSONLines(t *testing.T, b []byte, torn ...string) []string {
	t.Helper()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("log does not end with a newline: %q", b)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil && !containsString(torn, l) {
			t.Errorf("log line %.300q… is not a JSON object: %v", l, err)
		}
	}
	return lines
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// returnsPromptly runs call and fails the test if it blocks. A call that
// never blocks returns at once whatever the machine's speed; the bound only
// turns a hang into a failure, and a blocked open of a FIFO is released by
// opening its other end.
func returnsPromptly(t *testing.T, path, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		if fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer fh.Close()
			fh.Read(make([]byte, 1<<16))
		}
		t.Errorf("%s on %s blocked", what, path)
		return <-done
	}
}

func TestAuditRefusesNonRegular(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the path and returns it.
		setup func(t *testing.T, dir string) string
		kind  string // how the error names the path's kind
	}{
		{"fifo without a reader", func(t *testing.T, dir string) string {
			return mkfifo(t, filepath.Join(dir, "audit.jsonl"))
		}, "FIFO"},
		{"fifo with a reader", func(t *testing.T, dir string) string {
			path := mkfifo(t, filepath.Join(dir, "audit.jsonl"))
			r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if n, _ := r.Read(make([]byte, 1<<16)); n > 0 {
					t.Errorf("%d bytes were written to the FIFO", n)
				}
				r.Close()
			})
			return path
		}, "FIFO"},
		{"symlink to a fifo", func(t *testing.T, dir string) string {
			target := mkfifo(t, filepath.Join(dir, "pipe"))
			path := filepath.Join(dir, "audit.jsonl")
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return path
		}, "FIFO"},
		{"character device", func(*testing.T, string) string { return os.DevNull }, "device"},
		{"unix socket", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "audit.sock")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return path
		}, "socket"},
		{"directory", func(t *testing.T, dir string) string { return dir }, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			f, w := newWarnedFile(t, path)
			err := returnsPromptly(t, path, "Check", f.Check)
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tt.kind) || !strings.Contains(err.Error(), path) {
				t.Errorf("Check() = %v, want %v naming %s and %q", err, ErrNotRegular, path, tt.kind)
			}
			err = returnsPromptly(t, path, "Audit", func() error { return f.Audit(t.Context(), record(0)) })
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tt.kind) {
				t.Errorf("Audit() = %v, want %v naming %q", err, ErrNotRegular, tt.kind)
			}
			if got := w.list(); len(got) != 0 {
				t.Errorf("warnings = %q, want none", got)
			}
		})
	}
}

func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
	return path
}

func TestAuditSymlinkToRegular(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.jsonl")
	link := filepath.Join(dir, "audit.jsonl")
	writeLog(t, target, nil, 0o600)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	f, w := newWarnedFile(t, link)
	if err := f.Check(); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	if err := f.Audit(t.Context(), record(0)); err != nil {
		t.Fatalf("Audit() = %v", err)
	}
	if got, want := readLog(t, target), encoded(t, record(0)); !bytes.Equal(got, want) {
		t.Errorf("target = %q, want %q", got, want)
	}
	if got := w.list(); len(got) != 0 {
		t.Errorf("warnings = %q, want none", got)
	}
}

func TestAuditTornTail(t *testing.T) {
	whole := encoded(t, record(0))
	const fragment = `{"time":"2024-06-10T06:13:20Z","operator":"ali`
	tests := []struct {
		name  string
		start string
		warn  bool
	}{
		{"empty", "", false},
		{"whole lines", string(whole), false},
		{"fragment after whole lines", string(whole) + fragment, true},
		{"fragment only", fragment, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeLog(t, path, []byte(tt.start), 0o600)
			f, w := newWarnedFile(t, path)
			for i := 1; i <= 2; i++ {
				if err := f.Audit(t.Context(), record(i)); err != nil {
					t.Fatalf("Audit(%d) = %v", i, err)
				}
			}
			want := tt.start
			if tt.warn {
				want += "\n"
			}
			want += string(encoded(t, record(1))) + string(encoded(t, record(2)))
			got := readLog(t, path)
			if string(got) != want {
				t.Errorf("log = %q, want %q", got, want)
			}
			checkJSONLines(t, got, fragment)
			warned := w.list()
			switch {
			case !tt.warn && len(warned) != 0:
				t.Errorf("warnings = %q, want none", warned)
			case tt.warn && (len(warned) != 1 || !strings.Contains(warned[0], path)):
				t.Errorf("warnings = %q, want one naming %s", warned, path)
			}
		})
	}
}

func TestAuditFullDisk(t *testing.T) {
	whole := encoded(t, record(0))
	orders := childOrders{ID: "exports/k0", Lines: 1}
	line := encoded(t, childRecord(orders, 0))
	const fragment = `{"time":"2024-06-10T06:13:20Z","operator":"ali`
	tests := []struct {
		name  string
		start string
		// room is how many bytes fit on the disk past start.
		room int
	}{
		{"line cut", string(whole), len(line) / 2},
		{"nothing fits", string(whole), 0},
		{"all but the newline fits", string(whole), len(line) - 1},
		{"torn tail repaired, line cut", string(whole) + fragment, 1 + len(line)/2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeLog(t, path, []byte(tt.start), 0o600)
			o := orders
			o.Path, o.FileSizeLimit = path, uint64(len(tt.start)+tt.room)
			rep := startChild(t, o).wait(t)
			if len(rep.Errors) != 1 || rep.EFBIG != 1 {
				t.Fatalf("Audit on a full disk: errors %q (%d EFBIG), want one EFBIG", rep.Errors, rep.EFBIG)
			}
			if got := readLog(t, path); string(got) != tt.start {
				t.Errorf("after the failed Audit the log = %q, want it as it was: %q", got, tt.start)
			}
			if len(rep.Warnings) != 0 {
				t.Errorf("warnings = %q, want none (the torn line was not ended)", rep.Warnings)
			}
			// With room again, the next line is whole and on a line of
			// its own.
			f, _ := newWarnedFile(t, path)
			if err := f.Audit(t.Context(), record(1)); err != nil {
				t.Fatalf("Audit() = %v", err)
			}
			lines := checkJSONLines(t, readLog(t, path), fragment)
			if last := lines[len(lines)-1]; last+"\n" != string(encoded(t, record(1))) {
				t.Errorf("last line = %q, want record 1", last)
			}
		})
	}
}

func TestAuditTightensMode(t *testing.T) {
	whole := encoded(t, record(0))
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o666, 0o600, 0o400 | 0o200} {
		t.Run(strconv.FormatUint(uint64(perm), 8), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeLog(t, path, whole, perm)
			f, w := newWarnedFile(t, path)
			if err := f.Check(); err != nil {
				t.Fatalf("Check() = %v", err)
			}
			if err := f.Audit(t.Context(), record(1)); err != nil {
				t.Fatalf("Audit() = %v", err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != fileMode {
				t.Errorf("mode = %v, want %v", st.Mode().Perm(), os.FileMode(fileMode))
			}
			warned := w.list()
			if perm&0o077 == 0 {
				if len(warned) != 0 {
					t.Errorf("warnings = %q, want none", warned)
				}
				return
			}
			if len(warned) != 1 || !strings.Contains(warned[0], path) || !strings.Contains(warned[0], fmt.Sprintf("%04o", perm)) {
				t.Errorf("warnings = %q, want one naming %s and %04o", warned, path, perm)
			}
		})
	}
}

// TestAuditConcurrentProcesses appends from several processes at once to a
// log that ends in a torn line: every record is a line of its own, and the
// torn line is ended once, by one process.
func TestAuditConcurrentProcesses(t *testing.T) {
	const (
		procs = 4
		lines = 40
		// valueSize makes each line longer than a pipe buffer (4 KiB),
		// past which no kernel promises an atomic write.
		valueSize = 48 << 10
	)
	whole := encoded(t, record(0))
	const fragment = `{"time":"2024-06-10T06:13:20Z","operator":"ali`
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeLog(t, path, append(whole, fragment...), 0o600)
	children := make([]*child, procs)
	for i := range children {
		children[i] = startChild(t, childOrders{Path: path, ID: fmt.Sprintf("p%d", i), Lines: lines, ValueSize: valueSize, Gate: true})
	}
	for _, c := range children {
		c.gate.Write([]byte{1})
		c.gate.Close()
	}
	warned := 0
	for _, c := range children {
		rep := c.wait(t)
		if len(rep.Errors) != 0 {
			t.Errorf("child errors: %q", rep.Errors)
		}
		warned += len(rep.Warnings)
	}
	if warned != 1 {
		t.Errorf("%d warnings about the torn line, want exactly one", warned)
	}
	got := checkJSONLines(t, readLog(t, path), fragment)
	if len(got) != 2+procs*lines {
		t.Fatalf("log has %d lines, want %d", len(got), 2+procs*lines)
	}
	if got[1] != fragment {
		t.Errorf("line 2 = %.80q…, want the torn line, ended", got[1])
	}
	seen := map[string]bool{}
	for _, l := range got[2:] {
		var m struct {
			Key         string `json:"key"`
			ValueBefore []byte `json:"value_before"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			continue // reported by checkJSONLines
		}
		if seen[m.Key] || len(m.ValueBefore) != valueSize {
			t.Errorf("record %s: seen before %v, value of %d bytes; want once, %d bytes", m.Key, seen[m.Key], len(m.ValueBefore), valueSize)
		}
		seen[m.Key] = true
	}
	if len(seen) != procs*lines {
		t.Errorf("%d distinct records, want %d", len(seen), procs*lines)
	}
}

func TestAuditRefusesWhatItCannotMakePrivate(t *testing.T) {
	// Play a process that does not own the log: only root could chmod
	// another's file, and the tests may run as root.
	defer func(orig func(*os.File, os.FileMode) error) { chmod = orig }(chmod)
	chmod = func(*os.File, os.FileMode) error { return syscall.EPERM }
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	whole := encoded(t, record(0))
	writeLog(t, path, whole, 0o644)
	f, w := newWarnedFile(t, path)
	for name, call := range map[string]func() error{
		"Check": f.Check,
		"Audit": func() error { return f.Audit(t.Context(), record(1)) },
	} {
		if err := call(); !errors.Is(err, ErrReadableByOthers) || !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s() = %v, want %v naming %s, from EPERM", name, err, ErrReadableByOthers, path)
		}
	}
	if got := readLog(t, path); !bytes.Equal(got, whole) {
		t.Errorf("log = %q, want it untouched: %q", got, whole)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want it untouched", st.Mode().Perm(), err)
	}
	if got := w.list(); len(got) != 0 {
		t.Errorf("warnings = %q, want none", got)
	}
}

// TestAuditWaitsForTheLock holds the log's lock as another process would:
// Audit waits for it, and gives up when its context ends.
func TestAuditWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	whole := encoded(t, record(0))
	writeLog(t, path, whole, 0o600)
	other, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	f, _ := newWarnedFile(t, path)
	if err := f.Check(); err != nil {
		t.Errorf("Check() with the lock held elsewhere = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := f.Audit(ctx, record(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Audit() with the lock held elsewhere = %v, want %v", err, context.DeadlineExceeded)
	}
	if got := readLog(t, path); !bytes.Equal(got, whole) {
		t.Errorf("log = %q, want it untouched", got)
	}
	done := make(chan error, 1)
	go func() { done <- f.Audit(t.Context(), record(1)) }()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Audit() once the lock is free = %v", err)
	}
	if got, want := string(readLog(t, path)), string(whole)+string(encoded(t, record(1))); got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}
