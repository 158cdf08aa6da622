package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// gateTimeout is how long an armed gate waits for its connections before it
// opens anyway. It stays under nats.go's 2 s connect timeout, so a process
// that connects first never fails while the others are still starting.
const gateTimeout = time.Second

// gate is a TCP proxy in front of a store that can hold every connection's
// client-to-server bytes until a number of connections have arrived: a start
// barrier for processes that cannot share one. A process that connects
// while the gate is armed gets its connection accepted and the server's
// greeting, then stalls on its first request; when the last racer connects
// (or gateTimeout after the first), every request goes out at once.
type gate struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed when the gate is open
	want  int           // connections to wait for while armed
	seen  int
	timer *time.Timer
	conns map[net.Conn]bool
	// full and late count the armed rounds that opened because every
	// connection arrived, and because gateTimeout passed.
	full, late int

	wg sync.WaitGroup
}

// newGate starts an open gate in front of target (host:port), closed when t
// ends.
func newGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gate: %v", err)
	}
	open := make(chan struct{})
	close(open)
	g := &gate{l: l, target: target, open: open, conns: map[net.Conn]bool{}}
	g.wg.Go(g.accept)
	t.Cleanup(g.close)
	return g
}

// addr returns the address that clients dial.
func (g *gate) addr() string { return g.l.Addr().String() }

// arm closes the gate until n connections have arrived or gateTimeout has
// passed since the first.
func (g *gate) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open, g.want, g.seen = make(chan struct{}), n, 0
}

// stats returns how many armed rounds opened with every connection in, and
// how many on the timeout.
func (g *gate) stats() (full, late int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.full, g.late
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// release opens the gate; g.mu must be held.
func (g *gate) release(ch chan struct{}) {
	if !isClosed(ch) {
		close(ch)
	}
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}

func (g *gate) accept() {
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		ch := g.open
		g.seen++
		switch {
		case g.seen == g.want:
			g.full++
			g.release(ch)
		case g.seen == 1:
			g.timer = time.AfterFunc(gateTimeout, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				if !isClosed(ch) {
					g.late++
				}
				g.release(ch)
			})
		}
		g.conns[c] = true
		g.mu.Unlock()
		g.wg.Go(func() { g.pipe(c, ch) })
	}
}

// pipe proxies one connection: server to client at once, client to server
// once ch is closed.
func (g *gate) pipe(client net.Conn, ch chan struct{}) {
	defer g.forget(client)
	server, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns[server] = true
	g.mu.Unlock()
	defer g.forget(server)
	done := make(chan struct{})
	go func() {
		io.Copy(client, server)
		client.Close()
		close(done)
	}()
	<-ch
	io.Copy(server, client)
	server.Close()
	<-done
}

func (g *gate) forget(c net.Conn) {
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// close stops accepting, cuts every connection, and waits for the proxy's
// goroutines.
func (g *gate) close() {
	g.l.Close()
	g.mu.Lock()
	g.release(g.open)
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}
