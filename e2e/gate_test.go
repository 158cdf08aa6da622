package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// gateTimeout is how long an armed gate waits, after the first racer
// reached it, for the others before it opens anyway; a round that opens on
// the timeout did not race and does not count. It is generous because a
// two-core machine running -race tests starts sixteen processes slowly, and
// harmless because a racer waits at the gate with nothing on a clock but
// its one held write (leasectl --timeout bounds each store call, and racers
// are given a longer one than this).
const gateTimeout = 20 * time.Second

// gate is a TCP proxy in front of a store that can hold each connection at
// its first write request until a number of connections have reached that
// point: a start barrier for processes that cannot share one. Everything
// before the write — connecting, authenticating, the server's greeting,
// reads — goes through at once, so that no client-side connect or dial
// timeout runs while the others are still starting. A connection reaches
// the gate when its bytes to the server contain one of the round's markers
// (the start of the value every racer writes); from there on its bytes to
// the server wait. When the last racer arrives (or gateTimeout after the
// first), every held write goes out at once.
type gate struct {
	l      net.Listener
	target string
	// timeout is how long a round waits after its first racer: gateTimeout
	// unless a test of the gate itself sets it before arming.
	timeout time.Duration

	mu    sync.Mutex
	round *gateRound // nil while the gate is open
	conns map[net.Conn]bool
	// full and late count the armed rounds that opened because every
	// racer arrived, and because gateTimeout passed.
	full, late int

	wg sync.WaitGroup
}

// gateRound is one armed round of a gate.
type gateRound struct {
	markers [][]byte
	want    int
	arrived int
	open    chan struct{} // closed when the round opens
	timer   *time.Timer
	// full is set when the round opened with every racer at the gate.
	full bool
}

// newGate starts an open gate in front of target (host:port), closed when t
// ends.
func newGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gate: %v", err)
	}
	g := &gate{l: l, target: target, timeout: gateTimeout, conns: map[net.Conn]bool{}}
	g.wg.Go(g.accept)
	t.Cleanup(g.close)
	return g
}

// addr returns the address that clients dial.
func (g *gate) addr() string { return g.l.Addr().String() }

// arm closes the gate for the next n connections whose bytes to the server
// contain one of markers (see gateValueMarkers): each is held from there
// until all n have arrived or the gate's timeout has passed since the first.
// It returns the round, for settle.
func (g *gate) arm(n int, markers [][]byte) *gateRound {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &gateRound{markers: markers, want: n, open: make(chan struct{})}
	g.round = r
	return r
}

// settle ends the round once its racers have exited, opening it if it is
// still armed (no racer reached the gate), and reports whether every racer
// was at the gate when it opened, and how many were.
func (g *gate) settle(r *gateRound) (full bool, arrived int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.openRound(r, false)
	return r.full, r.arrived
}

// stats returns how many armed rounds opened with every racer in, and how
// many on the timeout.
func (g *gate) stats() (full, late int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.full, g.late
}

// openRound opens r; g.mu must be held.
func (g *gate) openRound(r *gateRound, full bool) {
	select {
	case <-r.open:
		return
	default:
	}
	r.full = full
	if full {
		g.full++
	} else {
		g.late++
	}
	close(r.open)
	if r.timer != nil {
		r.timer.Stop()
	}
	if g.round == r {
		g.round = nil
	}
}

// arrive records that a connection reached the marker of the armed round
// and returns the channel to wait on before its bytes go on; nil when the
// gate is open or the round is already full.
func (g *gate) arrive() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.round
	if r == nil {
		return nil
	}
	r.arrived++
	switch {
	case r.arrived == r.want:
		g.openRound(r, true)
	case r.arrived == 1:
		r.timer = time.AfterFunc(g.timeout, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.openRound(r, false)
		})
	}
	return r.open
}

// markers returns the markers of the armed round, nil when the gate is
// open.
func (g *gate) markers() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.round == nil {
		return nil
	}
	return g.round.markers
}

// gateValueMarkers returns what a write of a value starting with prefix looks
// like on the wire: the bytes themselves (etcd, NATS, and Consul's plain
// KV API) and their base64 (Consul's transaction API, which leasectl's
// compare-and-swap uses). The value starts at a base64 boundary, so the
// encoding of its first 3n bytes is fixed whatever follows.
func gateValueMarkers(prefix string) [][]byte {
	n := len(prefix) / 3 * 3
	return [][]byte{[]byte(prefix), []byte(base64.StdEncoding.EncodeToString([]byte(prefix[:n])))}
}

// gateContainsAny reports whether b contains one of markers, and the
// length of the longest marker.
func gateContainsAny(b []byte, markers [][]byte) (found bool, longest int) {
	for _, m := range markers {
		found = found || bytes.Contains(b, m)
		longest = max(longest, len(m))
	}
	return found, longest
}

func (g *gate) accept() {
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns[c] = true
		g.mu.Unlock()
		g.wg.Go(func() { g.pipe(c) })
	}
}

// pipe proxies one connection: server to client as it comes, client to
// server until the connection reaches the armed round's marker, then after
// the round opens.
func (g *gate) pipe(client net.Conn) {
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
	buf := make([]byte, 32<<10)
	var tail []byte // the end of what went before, for a marker split across reads
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if ms := g.markers(); ms != nil {
				seen := append(tail, chunk...)
				if found, longest := gateContainsAny(seen, ms); found {
					if open := g.arrive(); open != nil {
						<-open
					}
					tail = nil
				} else {
					tail = append([]byte(nil), seen[max(0, len(seen)-longest+1):]...)
				}
			}
			if _, werr := server.Write(chunk); werr != nil {
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

func (g *gate) forget(c net.Conn) {
	c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// close stops accepting, opens any armed round, cuts every connection, and
// waits for the proxy's goroutines.
func (g *gate) close() {
	g.l.Close()
	g.mu.Lock()
	if g.round != nil {
		g.openRound(g.round, false)
	}
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// TestGate checks the barrier itself: a round opens at once when every
// racer has arrived and reports it full; a round that a racer misses opens
// on the timeout and reports how many were there, so that a race test can
// refuse to count it.
func TestGate(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	markers := gateValueMarkers(`{"holder_id":"p`)
	tests := []struct {
		name     string
		racers   int
		arriving int
		full     bool
	}{
		{"all arrive", 3, 3, true},
		{"one missing", 3, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(t, echo.Addr().String())
			g.timeout = 300 * time.Millisecond
			r := g.arm(tt.racers, markers)
			var wg sync.WaitGroup
			for i := range tt.arriving {
				c, err := net.Dial("tcp", g.addr())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				// A greeting goes through at once; the write waits.
				if _, err := c.Write([]byte("hello\n")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
					t.Fatalf("greeting of racer %d: %v", i, err)
				}
				msg := fmt.Appendf(nil, `PUT {"holder_id":"p%d"}`, i)
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
						t.Errorf("racer %d: echo %q, %v; want %q", i, got, err, msg)
					}
				})
			}
			wg.Wait()
			full, arrived := g.settle(r)
			if full != tt.full || arrived != tt.arriving {
				t.Errorf("settle = full %v with %d arrived, want %v with %d", full, arrived, tt.full, tt.arriving)
			}
		})
	}
}
