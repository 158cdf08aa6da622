package natskv_test

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// lagLink is one direction of traffic through lagProxy connections: it can
// hold back what passes (constant latency, ramped up so that a Raft follower
// behind it keeps hearing from its leader), and it can stop everything from
// the first chunk holding a pattern until released.
type lagLink struct {
	mu sync.Mutex
	// The latency grows from rampFrom at rampStart by lagRampSlope seconds
	// per second, up to target.
	rampFrom, target time.Duration
	rampStart        time.Time

	hold     []byte        // pattern that closes the gate; nil: none
	held     chan struct{} // closed when a chunk matched hold
	released chan struct{} // closed by release

	count []byte // pattern whose occurrences are counted
	seen  int
}

// lagTail is how much of a chunk is kept to find a pattern that straddles
// two chunks: longer than any pattern the tests look for.
const lagTail = 64

// lagRampSlope is how fast a link's latency grows: each second of traffic
// arrives 0.75 s later than the previous, so a follower behind a link going
// from 0 to 3 s of latency never goes more than 1.75 s without hearing its
// leader's heartbeat (every second), well under the 4 s minimum election
// timeout of nats-server's Raft. A sudden 3 s gap could make it campaign and
// move the leadership.
const lagRampSlope = 0.75

// latency returns the latency of a chunk read now.
func (l *lagLink) latency(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.target <= l.rampFrom {
		return l.target
	}
	d := l.rampFrom + time.Duration(lagRampSlope*float64(now.Sub(l.rampStart)))
	return min(d, l.target)
}

// setLatency ramps the latency to d; a lower latency applies at once (the
// chunks already queued still go first, in order).
func (l *lagLink) setLatency(d time.Duration) {
	now := time.Now()
	cur := l.latency(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rampFrom, l.target, l.rampStart = cur, d, now
}

// rampTime returns how long a ramp from 0 to d takes.
func rampTime(d time.Duration) time.Duration {
	return time.Duration(float64(d) / lagRampSlope)
}

// holdOn makes the link stop at the first chunk containing pattern, until
// release; it returns a channel closed when that happens.
func (l *lagLink) holdOn(pattern string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hold = []byte(pattern)
	l.held = make(chan struct{})
	l.released = make(chan struct{})
	return l.held
}

// release lets the held chunks through and stops looking for the pattern.
func (l *lagLink) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released != nil {
		close(l.released)
	}
	l.hold, l.held, l.released = nil, nil, nil
}

// countOn starts counting the occurrences of pattern from zero.
func (l *lagLink) countOn(pattern string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count, l.seen = []byte(pattern), 0
}

// counted returns the occurrences of the pattern given to countOn so far.
func (l *lagLink) counted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen
}

// gate counts the occurrences of the counted pattern in the chunk (with
// tail, the end of the previous one, in front of it), reports whether it
// matches the held pattern, and returns the channel to wait on.
func (l *lagLink) gate(tail, chunk []byte) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	joined := slices.Concat(tail, chunk)
	if l.count != nil {
		l.seen += bytes.Count(joined, l.count) - bytes.Count(tail, l.count)
	}
	if l.hold == nil || !bytes.Contains(joined, l.hold) {
		return nil
	}
	close(l.held)
	released := l.released
	l.hold = nil
	return released
}

// lagProxy forwards the TCP connections it accepts to target, each direction
// through a lagLink: up for what the dialer sends, down for the answers.
type lagProxy struct {
	ln       net.Listener
	target   string
	up, down *lagLink

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	done   chan struct{}
}

// startLagProxy listens on a free loopback port and forwards to target until
// the test ends.
func startLagProxy(t testing.TB, target string, up, down *lagLink) *lagProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &lagProxy{ln: ln, target: target, up: up, down: down, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// addr returns the proxy's host:port.
func (p *lagProxy) addr() string { return p.ln.Addr().String() }

func (p *lagProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue // the target is not up yet: the dialer retries
		}
		if !p.track(c, u) {
			return
		}
		p.wg.Go(func() { p.pipe(u, c, p.up) })
		p.wg.Go(func() { p.pipe(c, u, p.down) })
	}
}

func (p *lagProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies src to dst through link, in order: a reader stamps each chunk
// with the time it may be written, a writer waits for that time (and for the
// gate) before writing it.
func (p *lagProxy) pipe(dst, src net.Conn, link *lagLink) {
	type chunk struct {
		due  time.Time
		gate <-chan struct{}
		b    []byte
	}
	queue := make(chan chunk, 4096)
	p.wg.Go(func() {
		defer close(queue)
		var tail []byte
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				b = b[:n]
				now := time.Now()
				queue <- chunk{due: now.Add(link.latency(now)), gate: link.gate(tail, b), b: b}
				tail = append(tail[:0], b[max(0, n-lagTail):]...)
			}
			if err != nil {
				return
			}
		}
	})
	defer func() {
		dst.Close()
		src.Close()
		for range queue {
		}
	}()
	for c := range queue {
		if c.gate != nil {
			select {
			case <-c.gate:
			case <-p.done:
				return
			}
		}
		if d := time.Until(c.due); d > 0 {
			select {
			case <-time.After(d):
			case <-p.done:
				return
			}
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}

// cut closes every connection the proxy carries; new ones are accepted.
func (p *lagProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *lagProxy) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// errLagTimeout is returned by waitFor when its condition did not hold in time.
var errLagTimeout = errors.New("condition not met in time")

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errLagTimeout
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
