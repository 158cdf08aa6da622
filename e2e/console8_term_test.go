//go:build unix

package e2e

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// typedKeys is how many characters TestConsoleTypingBacklog types into the
// reason field, far past its 256-character cap; typedChunk is how many one
// send-keys command types (tmux writes them to the terminal as typed keys,
// not as a bracketed paste).
const (
	typedKeys  = 5000
	typedChunk = 250
)

// escBound is how soon after esc the dialog must be gone, whatever was
// typed before it (issue 8).
const escBound = time.Second

// TestConsoleTypingBacklog types 5,000 characters into the takeover
// dialog's reason field as separate key events, then presses esc: the
// console keeps up, so the dialog is gone within a second of esc, and
// nothing was written or audited.
func TestConsoleTypingBacklog(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	value := record("node-a", now-60, now+3600)
	planted := f.scope.put(t, orders, value)

	tm := startConsole(t, consoleEnv(), f.args()...)
	tm.waitFor("exports/orders held by node-a", func(s string) bool { return hasField(rowLine(s, orders), "node-a") })
	tm.keys("T")
	tm.waitText("FORCE TAKEOVER", orders)
	tm.keys("Tab")
	tm.waitLine("> reason")

	text := strings.Repeat("abcdefghij", typedKeys/10)
	start := time.Now()
	for i := 0; i < len(text); i += typedChunk {
		tm.typeText(text[i : i+typedChunk])
	}
	typed := time.Since(start)
	tm.keys("Escape")
	sent := time.Now()
	var gone time.Duration
	for {
		s := tm.screen()
		if !dialogOpen(s) {
			gone = time.Since(sent)
			saveScreen(t, "typing-after-esc", s)
			break
		}
		if time.Since(sent) > 30*time.Second {
			t.Fatalf("30s after esc the dialog is still open:\n%s", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("typed %d keys in %v (send-keys); the dialog was gone %v after esc", typedKeys, typed, gone)
	if gone > escBound {
		t.Errorf("the dialog was gone %v after esc, want within %v", gone, escBound)
	}
	if got, rev, _ := f.scope.get(t, orders); !bytes.Equal(got, value) || rev != planted {
		t.Errorf("%s = %q at %d after esc, want %q at %d untouched", orders, got, rev, value, planted)
	}
	if b, err := os.ReadFile(f.audit); err == nil && len(b) > 0 {
		t.Errorf("the audit log was written:\n%s", b)
	}
}

// dialogOpen reports whether the screen shows a dialog: its rounded frame,
// which nothing else draws.
func dialogOpen(screen string) bool { return strings.Contains(screen, "╭─") }

// TestConsoleSIGHUP hangs up on the console (SIGHUP, as when its terminal
// window is closed or an ssh session drops): it must leave the terminal as
// it found it — out of the alternate screen, cursor visible — and exit
// with 128+1. The console runs under a shell that outlives it, so that the
// terminal's state can be read after it exited (tmux hides the cursor of a
// pane whose command has exited).
func TestConsoleSIGHUP(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	f.scope.put(t, orders, record("node-a", now-60, now+3600))

	tm := startTerm(t, consoleEnv(), append([]string{"sh", "-c", `"$0" "$@"; echo "leasectl exited: $?"; exec sleep 600`, leasectlBinary(t)}, f.args()...)...)
	tm.waitFor("exports/orders held by node-a", func(s string) bool { return hasField(rowLine(s, orders), "node-a") })
	if got := tm.display("#{alternate_on} #{cursor_flag}"); got != "1 0" {
		t.Fatalf("running console: alternate_on cursor_flag = %q, want \"1 0\"", got)
	}
	shell, err := strconv.Atoi(tm.display("#{pane_pid}"))
	if err != nil {
		t.Fatal(err)
	}
	pid := childPID(t, shell)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s := tm.waitText("leasectl exited:")
	if got := tm.display("#{alternate_on} #{cursor_flag}"); got != "0 1" {
		t.Errorf("after SIGHUP: alternate_on cursor_flag = %q, want \"0 1\" (the main screen, the cursor shown)", got)
	}
	if l := lineWith(s, "leasectl exited:"); !strings.HasSuffix(l, "exited: 129") {
		t.Errorf("after SIGHUP: %q, want exit status 129; screen:\n%s", l, s)
	}
}

// childPID returns the pid of the one child process of parent, read from
// /proc.
func childPID(t *testing.T, parent int) int {
	t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			// pid (comm) state ppid …; comm may hold spaces and parens.
			rest := string(b[bytes.LastIndexByte(b, ')')+1:])
			if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(parent) {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d has no child", parent)
		}
		time.Sleep(pollInterval)
	}
}
