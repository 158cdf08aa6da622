//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The console tests drive the real binary in a real terminal: a tmux
// server of their own per test (-L), with no user configuration
// (-f /dev/null), keys typed with send-keys and the screen read with
// capture-pane.
const (
	// termWidth and termHeight are the size of the console's terminal.
	termWidth, termHeight = 120, 35
	// screenTimeout bounds the wait for a screen to show what a test
	// expects; generous, because a two-core machine running -race tests
	// and an embedded etcd is slow to start a process and paint it.
	screenTimeout = 20 * time.Second
	// pollInterval is how often the screen is captured while waiting.
	pollInterval = 50 * time.Millisecond
	// session is the name of the one tmux session of a terminal.
	session = "main"
)

// tmuxPath finds tmux, failing the test when it is missing: CI must run the
// console tests, so a missing tmux is a broken machine, not a reason to skip.
func tmuxPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux is needed to run the console in a real terminal and was not found (%v): install it (apt-get install tmux; `make test` does)", err)
	}
	return p
}

// sockets numbers the tmux servers of this test binary.
var sockets atomic.Int64

// term is a terminal: a private tmux server running one command in a pane
// of termWidth×termHeight cells. The pane stays after its command exits
// (remain-on-exit), so that its last screen and exit status can be read.
type term struct {
	t      testing.TB
	tmux   string
	socket string
	env    []string
	// nudged is set once dead has sent the server a SIGCHLD.
	nudged bool
}

// startTerm starts a tmux server for t, with env as the environment of the
// server and so of the command, and runs argv in its pane. The server is
// killed when t ends.
func startTerm(t testing.TB, env []string, argv ...string) *term {
	t.Helper()
	tm := &term{
		t:      t,
		tmux:   tmuxPath(t),
		socket: fmt.Sprintf("leasectl-e2e-%d-%d", os.Getpid(), sockets.Add(1)),
		env:    env,
	}
	// One client command, so that the options are set before the command
	// starts: a command that exits at once still leaves its pane.
	args := []string{
		"set-option", "-g", "remain-on-exit", "on", ";",
		"set-option", "-g", "default-terminal", "tmux-256color", ";",
		"set-option", "-g", "set-titles", "on", ";",
		// Room for a goroutine dump of a console that does not exit.
		"set-option", "-g", "history-limit", "100000", ";",
		"new-session", "-d", "-s", session, "-x", fmt.Sprint(termWidth), "-y", fmt.Sprint(termHeight), "--",
	}
	// The server's pid and socket, once known: the server must go away
	// with its socket (which tmux leaves behind) even if kill-server
	// cannot reach it.
	var pid int
	var sock string
	t.Cleanup(func() {
		// kill-server fails when the server has already gone.
		if err := tm.cmd("kill-server").Run(); err != nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		if sock != "" {
			os.Remove(sock)
		}
	})
	if out, err := tm.run(append(args, argv...)...); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	p, s, _ := strings.Cut(tm.display("#{pid}|#{socket_path}"), "|")
	pid, _ = strconv.Atoi(p)
	sock = s
	return tm
}

// cmd prepares one tmux client command against the terminal's server. -u
// makes tmux take the terminal as UTF-8 whatever the locale says.
func (tm *term) cmd(args ...string) *exec.Cmd {
	c := exec.Command(tm.tmux, append([]string{"-u", "-L", tm.socket, "-f", "/dev/null"}, args...)...)
	c.Env = tm.env
	return c
}

// run runs one tmux client command and returns its standard output, with
// its standard error when it fails.
func (tm *term) run(args ...string) (string, error) {
	var out, errb bytes.Buffer
	c := tm.cmd(args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String() + errb.String(), fmt.Errorf("tmux %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// must runs one tmux client command and fails the test if it fails.
func (tm *term) must(args ...string) string {
	tm.t.Helper()
	out, err := tm.run(args...)
	if err != nil {
		tm.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// screen returns what the pane shows now, as text, one line per row of
// cells, trailing blanks trimmed.
func (tm *term) screen() string {
	tm.t.Helper()
	return tm.must("capture-pane", "-p", "-t", session)
}

// screenEscaped returns what the pane shows with its colours and attributes
// as SGR escape sequences (capture-pane -e).
func (tm *term) screenEscaped() string {
	tm.t.Helper()
	return tm.must("capture-pane", "-p", "-e", "-t", session)
}

// display expands a tmux format (#{pane_title}, #{pane_dead}…) for the pane.
func (tm *term) display(format string) string {
	tm.t.Helper()
	return strings.TrimSuffix(tm.must("display-message", "-p", "-t", session, format), "\n")
}

// keys sends tmux key names (Enter, Escape, Up, C-u…) or single keys (T, /)
// to the pane, each as a key press.
func (tm *term) keys(keys ...string) {
	tm.t.Helper()
	tm.must(append([]string{"send-keys", "-t", session}, keys...)...)
}

// typeText types text into the pane, literally: no key names.
func (tm *term) typeText(text string) {
	tm.t.Helper()
	tm.must("send-keys", "-t", session, "-l", text)
}

// dead reports whether the pane's command has exited and how: "status N"
// or "signal N".
//
// tmux marks a pane dead when its terminal closes, which is before it reaps
// the command; a dead pane without a status does not count yet. A tmux
// built with libutempter can miss that SIGCHLD for good (the library
// installs its own handler while it updates utmp as the terminal closes,
// tmux/tmux#311), leaving the command a zombie and the status empty; dead
// then sends the tmux server the SIGCHLD it missed, which makes it reap the
// command and record the status it exited with.
func (tm *term) dead() (bool, string) {
	tm.t.Helper()
	f := strings.Split(tm.display("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{pid}"), "|")
	switch {
	case len(f) != 4 || f[0] != "1":
		return false, ""
	case f[1] != "":
		return true, "status " + f[1]
	case f[2] != "":
		return true, "signal " + f[2]
	}
	if pid, err := strconv.Atoi(f[3]); err == nil {
		if !tm.nudged {
			tm.t.Logf("the pane is dead but tmux has no exit status yet: sending SIGCHLD to the tmux server (pid %d)", pid)
			tm.nudged = true
		}
		syscall.Kill(pid, syscall.SIGCHLD)
	}
	return false, ""
}

// waitFor captures the screen until ok accepts it and returns that screen.
// It fails the test, showing the last screen, when screenTimeout passes
// first or when the pane's command exits without ok ever accepting what it
// left on the screen. what describes the awaited screen for that message.
func (tm *term) waitFor(what string, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if dead, status := tm.dead(); dead {
			// Read once more: the command may have painted its
			// last screen just before it exited.
			if s = tm.screen(); ok(s) {
				return s
			}
			tm.t.Fatalf("the console exited (%s) before the screen showed %s; its last screen:\n%s", status, what, s)
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("after %v the screen does not show %s; it shows:\n%s", screenTimeout, what, s)
		}
		time.Sleep(pollInterval)
	}
}

// waitText waits until the screen holds every one of texts.
func (tm *term) waitText(texts ...string) string {
	tm.t.Helper()
	return tm.waitFor(fmt.Sprintf("%q", texts), func(s string) bool {
		for _, text := range texts {
			if !strings.Contains(s, text) {
				return false
			}
		}
		return true
	})
}

// waitLine waits until one line of the screen holds every one of texts, and
// returns the screen and that line.
func (tm *term) waitLine(texts ...string) (screen, line string) {
	tm.t.Helper()
	screen = tm.waitFor(fmt.Sprintf("one line with %q", texts), func(s string) bool {
		line = lineWith(s, texts...)
		return line != ""
	})
	return screen, line
}

// lineWith returns the first line of screen that holds every one of texts,
// or "" when none does.
func lineWith(screen string, texts ...string) string {
next:
	for _, l := range strings.Split(screen, "\n") {
		for _, text := range texts {
			if !strings.Contains(l, text) {
				continue next
			}
		}
		return l
	}
	return ""
}

// waitExit waits until the pane's command exits and returns how, as dead
// does.
func (tm *term) waitExit() string {
	tm.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		if dead, status := tm.dead(); dead {
			return status
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("after %v the console still runs (%s); its screen:\n%s\n%s", screenTimeout,
				tm.display("pane_dead=#{pane_dead} pane_dead_status=#{pane_dead_status} pane_pid=#{pane_pid}"), tm.screen(), tm.goroutines())
		}
		time.Sleep(pollInterval)
	}
}

// goroutines makes the pane's command, a Go program that failed to exit,
// print its goroutines (SIGQUIT) and returns what the terminal then shows,
// history included, for the test's log.
func (tm *term) goroutines() string {
	tm.t.Helper()
	pid, err := strconv.Atoi(tm.display("#{pane_pid}"))
	if err != nil {
		return fmt.Sprintf("no goroutine dump: pane_pid: %v", err)
	}
	state := "unknown"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		state = lineWith(string(b), "State:")
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	tm.t.Logf("pane pid %d: %s, %d open fds", pid, state, len(fds))
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return fmt.Sprintf("no goroutine dump: kill -QUIT %d: %v", pid, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(pollInterval) {
		if dead, _ := tm.dead(); dead {
			break
		}
	}
	return "goroutines (SIGQUIT):\n" + tm.must("capture-pane", "-p", "-J", "-S", "-", "-t", session)
}
