// Package e2e runs the real leasectl binary, as separate processes, against
// real stores: an embedded etcd (etcdtest), an embedded NATS server with
// JetStream (natstest) and a Consul agent in -dev mode (consultest). Values
// are planted and read back with each store's native client, so that what
// leasectl writes is checked byte for byte, not through leasectl's own
// drivers.
//
// The binary is $LEASECTL_BIN (the Makefile builds bin/leasectl and sets
// it); otherwise the tests build it once into a temporary directory.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// commandTimeout bounds one leasectl process; a correct run takes well under
// a second, so reaching it is a hang, not a slow machine.
const commandTimeout = time.Minute

var binary struct {
	once sync.Once
	dir  string // temporary directory of a binary built here
	path string
	err  error
}

// siteBinary is a leasectl binary with the browser console built in, built
// once by servedBinary (browser_test.go) when $LEASECTL_BIN is not set.
var siteBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{binary.dir, siteBinary.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// leasectlBinary returns the binary under test: $LEASECTL_BIN, else one
// built from this module once per test binary.
func leasectlBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if p := os.Getenv("LEASECTL_BIN"); p != "" {
			if _, err := os.Stat(p); err != nil {
				binary.err = fmt.Errorf("LEASECTL_BIN=%s: %w", p, err)
				return
			}
			binary.path = p
			return
		}
		binary.dir, binary.err = os.MkdirTemp("", "leasectl-e2e-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "leasectl")
		cmd := exec.Command("go", "build", "-o", binary.path, "github.com/leasectl/leasectl")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binary.err = fmt.Errorf("go build github.com/leasectl/leasectl: %w\n%s", err, out.String())
		}
	})
	if binary.err != nil {
		t.Fatalf("leasectl binary: %v", binary.err)
	}
	return binary.path
}

// childEnv is the environment of a leasectl process: ours, without the
// variables through which a developer's own stores or config could leak in.
var childEnv = sync.OnceValue(func() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "LEASECTL_"),
			strings.HasPrefix(name, "CONSUL_"),
			strings.HasPrefix(name, "ETCDCTL_"),
			name == "NATS_URL", name == "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return env
})

// result is one finished leasectl process.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("leasectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// proc is a leasectl process, started or about to be.
type proc struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	waited         bool
	stdout, stderr bytes.Buffer
}

// command prepares leasectl with args; it is not started. A process that the
// test starts but never waits for (it failed first) is killed and reaped
// when the test ends.
func command(t testing.TB, args ...string) *proc {
	t.Helper()
	bin := leasectlBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	p := &proc{cancel: cancel}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Env = childEnv()
	p.cmd.Stdin = strings.NewReader("") // never a terminal: no prompt can block
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	t.Cleanup(func() {
		if p.cmd.Process != nil && !p.waited {
			p.cancel()
			p.cmd.Wait()
		}
		p.cancel()
	})
	return p
}

// wait waits for a started process and returns its result.
func (p *proc) wait(t testing.TB) result {
	t.Helper()
	defer p.cancel()
	p.waited = true
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("leasectl %v: %v", p.cmd.Args[1:], err)
	}
	r := result{args: p.cmd.Args[1:], code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
	if r.code < 0 {
		t.Fatalf("leasectl did not exit by itself (killed after %v?): %v", commandTimeout, r)
	}
	return r
}

// leasectl runs leasectl with args and returns its result.
func leasectl(t testing.TB, args ...string) result {
	t.Helper()
	p := command(t, args...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start leasectl: %v", err)
	}
	return p.wait(t)
}
