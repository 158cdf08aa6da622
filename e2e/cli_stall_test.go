package e2e

import (
	"bytes"
	"errors"
	"fmt"

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
)

// cliStallProxy is a TCP proxy in front of a store that passes the client's
// bytes on at once and, once armed and triggered, holds the server's answers
// until released: a store that received a write and stalls before it can
// answer. It triggers on the first client bytes that contain one of its
// markers (see gateValueMarkers), before passing them on, so the answer to
// that write — and every answer after it, on any connection — waits.
type cliStallProxy struct {
	l      net.Listener
	target string

	mu      sync.Mutex
	markers [][]byte
	flowing chan struct{} // closed while answers flow; open while held
	hit     chan struct{} // closed once a marker was seen
	conns   map[net.Conn]bool

	wg sync.WaitGroup
}

// newCliStallProxy starts a proxy to target (host:port), closed when t ends.
func newCliStallProxy(t *testing.T, target string) *cliStallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stall proxy: %v", err)
	}
	flowing := make(chan struct{})
	close(flowing)
	p := &cliStallProxy{l: l, target: target, flowing: flowing, hit: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *cliStallProxy) addr() string { return p.l.Addr().String() }

// arm makes the proxy hold the server's answers from the first client bytes
// that contain one of markers on.
func (p *cliStallProxy) arm(markers [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markers = markers
}

// triggered is closed once the proxy holds the answers.
func (p *cliStallProxy) triggered() <-chan struct{} { return p.hit }

// release lets the held answers, and all later ones, through.
func (p *cliStallProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markers = nil
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
}

// seen checks client bytes for a marker and starts holding when one is
// there; tail carries the end of earlier bytes across reads.
func (p *cliStallProxy) seen(tail, chunk []byte) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.markers == nil {
		return nil
	}
	all := append(tail, chunk...)
	found, longest := gateContainsAny(all, p.markers)
	if !found {
		return append([]byte(nil), all[max(0, len(all)-longest+1):]...)
	}
	p.markers = nil
	p.flowing = make(chan struct{})
	close(p.hit)
	return nil
}

// gate returns the channel an answer waits on before it goes to the client.
func (p *cliStallProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flowing
}

func (p *cliStallProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.track(c, true)
		p.wg.Go(func() { p.pipe(c) })
	}
}

func (p *cliStallProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *cliStallProxy) pipe(client net.Conn) {
	defer func() { client.Close(); p.track(client, false) }()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(server, true)
	defer func() { server.Close(); p.track(server, false) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				<-p.gate()
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	var tail []byte
	for {
		n, err := client.Read(buf)
		if n > 0 {
			tail = p.seen(tail, buf[:n])
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// close stops the proxy: it lets anything held go, cuts every connection
// and waits for its goroutines.
func (p *cliStallProxy) close() {
	p.l.Close()
	p.release()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// cliLockedBuffer is a bytes.Buffer that a running process writes while the
// test reads it.
type cliLockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *cliLockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *cliLockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cliProc is a leasectl process whose output can be read while it runs and
// which can be sent signals.
type cliProc struct {
	cmd            *exec.Cmd
	stdout, stderr cliLockedBuffer
	done           chan struct{}
	err            error
}

// cliStart starts leasectl with args; it is killed when t ends if it still
// runs.
func cliStart(t *testing.T, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{cmd: exec.Command(leasectlBinary(t), args...), done: make(chan struct{})}
	p.cmd.Env = childEnv()
	p.cmd.Stdin = strings.NewReader("")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start leasectl: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// signal sends sig to the process.
func (p *cliProc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitStderr waits until the process's stderr holds text; false after
// timeout.
func (p *cliProc) waitStderr(text string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), text) {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-p.done:
			return strings.Contains(p.stderr.String(), text)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

// wait waits for the process to exit, at most commandTimeout.
func (p *cliProc) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(commandTimeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("leasectl %v did not exit within %v: stderr %s", p.cmd.Args[1:], commandTimeout, p.stderr.String())
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatalf("leasectl %v: %v", p.cmd.Args[1:], p.err)
	}
	return result{args: p.cmd.Args[1:], code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
}

// cliStallMessage is what leasectl says when a signal arrives while its
// write is in flight.
const cliStallMessage = "finishing the write in flight; interrupt again to abandon it"

// cliTestStall takes a live lease over through a proxy that holds the
// store's answer once the write went out, and interrupts or times the
// command out while the write has landed but its answer is held. The audit
// trail must record what the store holds — won, or unknown when even the
// read-back cannot get through — never error, and the exit code must follow.
func cliTestStall(t *testing.T, b backend) {
	cases := []struct {
		name    string
		sig     os.Signal
		signals int
		timeout string
		// held keeps the answers held until leasectl exits: even the
		// read-back cannot learn the outcome, which must be unknown.
		held bool
	}{
		{"sigint-once", os.Interrupt, 1, "30s", false},
		{"sigterm-once", syscall.SIGTERM, 1, "30s", false},
		{"sigint-twice", os.Interrupt, 2, "30s", false},
		{"sigterm-twice", syscall.SIGTERM, 2, "30s", false},
		{"sigint-twice-held", os.Interrupt, 2, "5s", true},
		{"timeout", nil, 0, "2s", false},
		{"timeout-held", nil, 0, "2s", true},
	}
	sc := b.scope(t, "stall")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy := newCliStallProxy(t, b.addr())
			dir := t.TempDir()
			audit := filepath.Join(dir, "audit.jsonl")
			conf := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(conf, fmt.Appendf(nil, "operator: %s\naudit_log: %q\nstores:\n%s", operator, audit, sc.storeYAML(storeName, proxy.addr())), 0o600); err != nil {
				t.Fatal(err)
			}
			key := sc.key("exports/stall-" + tc.name)
			now := time.Now().Unix()
			seen := sc.put(t, key, record("node-a", now, now+3600))
			proxy.arm(gateValueMarkers(`{"holder_id":"operator:`))
			p := cliStart(t, "--config", conf, "--timeout", tc.timeout, "takeover", key, "--store", storeName,
				"--ttl", "10m", "--reason", "stall", "--revision", strconv.FormatUint(seen, 10), "--yes")
			select {
			case <-proxy.triggered():
			case <-p.done:
				t.Fatalf("leasectl exited before its write reached the store: %v", p.wait(t))
			case <-time.After(commandTimeout / 2):
				t.Fatalf("the write never reached the proxy; stderr: %s", p.stderr.String())
			}
			// The write went out; wait until the store holds it, while
			// its answer is held.
			deadline := time.Now().Add(20 * time.Second)
			for {
				v, _, _ := sc.get(t, key)
				if bytes.Contains(v, []byte("operator:"+operator)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the store never showed the takeover; it holds %q", v)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for i := range tc.signals {
				p.signal(t, tc.sig)
				want := cliStallMessage
				if i > 0 {
					want = "abandoning the write in flight"
				}
				if !p.waitStderr(want, 10*time.Second) {
					t.Errorf("after signal %d (%v) leasectl did not say %q; stderr: %q", i+1, tc.sig, want, p.stderr.String())
				}
			}
			switch {
			case tc.held:
			case tc.signals == 0:
				time.Sleep(3 * time.Second) // past --timeout: the write call has given up
				proxy.release()
			default:
				time.Sleep(200 * time.Millisecond)
				proxy.release()
			}
			r := p.wait(t)
			value, rev, _ := sc.get(t, key)
			trail, lines := cliAudit(t, audit)
			t.Logf("%s: exit %d, audit %v; stderr: %s", tc.name, r.code, trail, r.stderr)
			if len(lines) != 2 || lines[0].Outcome != "pending" {
				t.Fatalf("audit = %v, want an intent and a result", trail)
			}
			res := lines[1]
			switch {
			case tc.held && (res.Outcome != "unknown" || r.code != 1 || !strings.Contains(r.stderr, "leasectl get")):
				t.Errorf("answers held to the end: %v, audit %v; want unknown, exit 1, telling the operator to check with leasectl get", r, trail)
			case tc.signals == 1 && !tc.held && (res.Outcome != "won" || r.code != 0):
				t.Errorf("one signal: %v, audit %v; want the write finished: exit 0, won", r, trail)
			case res.Outcome == "won" && (r.code != 0 || res.RevisionAfter != rev || !bytes.Equal(res.ValueAfter, value)):
				t.Errorf("won: %v, audit %+v; want exit 0 and revision %d holding %q", r, res, rev, value)
			case res.Outcome == "unknown" && (r.code != 1 || !strings.Contains(r.stderr, "leasectl get")):
				t.Errorf("unknown: %v; want exit 1 telling the operator to check with leasectl get", r)
			case res.Outcome != "won" && res.Outcome != "unknown":
				t.Errorf("the write landed (the store holds %q at %d) but the audit says %q: %v", value, rev, res.Outcome, r)
			}
			cliCheckSafe(t, "stderr", r.stderr)
		})
	}
}
