//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// A terminal is a private tmux server (-L, no user configuration) running
// one command in a pane of termWidth×termHeight cells, as the e2e console
// tests do (e2e/tmux_test.go): the screen is read with capture-pane.
const (
	termWidth, termHeight = 120, 35
	session               = "main"
)

var sockets atomic.Int64

type term struct {
	tmux   string
	socket string
	env    []string
	pid    int // the pane's command
}

// startTerm starts a tmux server with env and runs argv (more than one
// word, so that tmux executes it without a shell and the pane's pid is the
// command's) in its pane, which stays after the command exits.
func startTerm(tmux string, env []string, argv ...string) (*term, error) {
	t := &term{tmux: tmux, socket: fmt.Sprintf("leasectl-scale-%d-%d", os.Getpid(), sockets.Add(1)), env: env}
	args := []string{
		"set-option", "-g", "remain-on-exit", "on", ";",
		"set-option", "-g", "default-terminal", "tmux-256color", ";",
		"new-session", "-d", "-s", session, "-x", fmt.Sprint(termWidth), "-y", fmt.Sprint(termHeight), "--",
	}
	if out, err := t.run(append(args, argv...)...); err != nil {
		t.close()
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	p, err := t.run("display-message", "-p", "-t", session, "#{pane_pid}")
	if err != nil {
		t.close()
		return nil, err
	}
	if t.pid, err = strconv.Atoi(strings.TrimSpace(p)); err != nil {
		t.close()
		return nil, fmt.Errorf("pane pid %q: %w", p, err)
	}
	return t, nil
}

func (t *term) run(args ...string) (string, error) {
	c := exec.Command(t.tmux, append([]string{"-u", "-L", t.socket, "-f", "/dev/null"}, args...)...)
	c.Env = t.env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String() + errb.String(), fmt.Errorf("tmux %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// screen returns what the pane shows, one line per row.
func (t *term) screen() (string, error) {
	return t.run("capture-pane", "-p", "-t", session)
}

// keys sends tmux key names to the pane.
func (t *term) keys(keys ...string) error {
	_, err := t.run(append([]string{"send-keys", "-t", session}, keys...)...)
	return err
}

// dead reports whether the pane's command has exited.
func (t *term) dead() bool {
	out, err := t.run("display-message", "-p", "-t", session, "#{pane_dead}")
	return err != nil || strings.TrimSpace(out) == "1"
}

// quit types q and waits up to d for the command to exit; it is killed
// otherwise.
func (t *term) quit(d time.Duration) error {
	if err := t.keys("q"); err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	for !t.dead() {
		if time.Now().After(deadline) {
			syscall.Kill(t.pid, syscall.SIGKILL)
			return fmt.Errorf("the console did not quit within %v: killed", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// close kills the tmux server and whatever still runs in it.
func (t *term) close() {
	if t.pid > 0 && !t.dead() {
		syscall.Kill(t.pid, syscall.SIGKILL)
	}
	t.run("kill-server")
}
