package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/tui"
)

// The write-to-screen benchmark's shape.
const (
	// latLeases is how many leases are planted before the console starts.
	latLeases = 50
	// latRows is how many of them are rewritten, round robin: the first
	// rows by key, all on a latWidth×latHeight screen (which shows 35).
	latRows = 30
	// latSamples is how many writes are timed, for the console and for
	// the plain watch each.
	latSamples = 300
	// latDeadline bounds one sample: on loopback a change shows within
	// milliseconds, so reaching it is a lost update, not a slow machine.
	latDeadline = 5 * time.Second
	// latQuitTimeout bounds a graceful quit before the program is killed.
	latQuitTimeout = 5 * time.Second
	// latSettle bounds how long the goroutines of the console, its etcd
	// client and their server-side streams get to end after the quit (the
	// console's one-second tick is the slowest of them).
	latSettle = 10 * time.Second
	// latFrame is the period of Bubble Tea's frame ticker at its default
	// 60 fps.
	latFrame = time.Second / 60

	latWidth, latHeight = 120, 40
	latPrefix           = "lat/" // the console's keys
	latRawPrefix        = "raw/" // the plain watch's keys
	latOperator         = "bench"
	latStore            = "e"
)

// latEnviron is the console's terminal: an xterm with true colour, as in the
// browser build, so the renderer draws styles and uses its full set of
// cursor and erase optimisations.
var latEnviron = []string{"TERM=xterm-256color", "COLORTERM=truecolor"}

// BenchmarkWatchToRender measures, on a loopback etcd, how long a change to
// a lease takes to reach the operator's screen: from the start of a Put with
// etcd's own client to the first write of the real console's output that
// carries the new holder. The console is tui.New on the real etcd driver
// (etcd.Dial), run by a real tea.Program whose terminal is a writer that
// scans the output; so the figure covers the etcd watch, the driver, the
// program's event loop, Update, View and the renderer's frame, which Bubble
// Tea flushes on a 60 fps ticker (up to 16.7 ms of it is waiting for the
// next frame).
//
// A sample starts right after the previous one was seen, that is right after
// a frame: without more, every write would land at the same phase of the
// frame ticker and wait nearly a whole frame. A random pause of up to one
// frame before each write spreads the writes over the frame, as an
// operator's stores do.
//
// Each sample is followed by the in-run baseline: a Put of the same value
// under another prefix, timed until a plain clientv3 Watch on a second
// client receives it. Interleaving the two keeps drift in the machine's
// speed out of the ratio console-p50/watch-p50.
//
// The renderer writes only what changed on the screen, from the first
// changed cell of a line to the last. Each holder therefore starts with a
// letter that differs from the previous holder of the same row, so the whole
// holder is redrawn, and has no run of five equal characters, which the
// renderer could send as a repeat sequence.
//
// It runs latSamples writes whatever b.N is; run it with -benchtime=1x. The
// ns/op of the framework is suppressed: the metrics are the percentiles.
func BenchmarkWatchToRender(b *testing.B) {
	srv := etcdtest.Start(b)
	cli := srv.Client(b)
	ctx := b.Context()

	now := time.Now().Unix()
	ops := make([]clientv3.Op, latLeases)
	for i := range ops {
		ops[i] = clientv3.OpPut(latKey(i), string(record(fmt.Sprintf("node-%02d", i), now, now+3600)))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		b.Fatalf("plant %d leases: %v", latLeases, err)
	}

	// The baseline: a plain watch on a client of its own, as the console
	// has a client of its own.
	rawCtx, rawCancel := context.WithCancel(ctx)
	b.Cleanup(rawCancel)
	raw := srv.Client(b).Watch(rawCtx, latRawPrefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if resp, ok := <-raw; !ok || !resp.Created || resp.Err() != nil {
		b.Fatalf("watch %s: created=%v, err=%v, open=%v", latRawPrefix, resp.Created, resp.Err(), ok)
	}

	// Everything from here on must be gone after the quit.
	goroutines := runtime.NumGoroutine()

	con := startLatConsole(b, srv.Endpoints())
	for i := range latRows {
		con.out.expect(fmt.Sprintf("node-%02d", i), true)
		if _, err := con.wait(latDeadline); err != nil {
			b.Fatalf("console never showed planted row %s: %v\noutput so far (tail): %q", latKey(i), err, con.out.tail(2048))
		}
	}

	console := make([]time.Duration, latSamples)
	watch := make([]time.Duration, latSamples)
	phase := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := range latSamples {
		holder := latHolder(i)
		value := string(record(holder, now, now+3600))

		key := latKey(i % latRows)
		con.out.expect(holder, false)
		time.Sleep(time.Duration(phase.Int64N(int64(latFrame))))
		start := time.Now()
		if _, err := cli.Put(ctx, key, value); err != nil {
			b.Fatalf("etcd Put(%q) = %v", key, err)
		}
		at, err := con.wait(latDeadline)
		if err != nil {
			b.Fatalf("sample %d: holder %s of %s never reached the screen: %v\noutput (tail): %q", i, holder, key, err, con.out.tail(2048))
		}
		console[i] = at.Sub(start)

		rawKey := latRawPrefix + holder
		start = time.Now()
		if _, err := cli.Put(ctx, rawKey, value); err != nil {
			b.Fatalf("etcd Put(%q) = %v", rawKey, err)
		}
		at, err = awaitRawEvent(raw, rawKey, latDeadline)
		if err != nil {
			b.Fatalf("sample %d: %v", i, err)
		}
		watch[i] = at.Sub(start)
	}
	b.StopTimer()

	if err := con.stop(); err != nil {
		b.Fatalf("stop the console: %v", err)
	}
	if n, ok := settleGoroutines(goroutines, latSettle); !ok {
		var dump bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
		b.Errorf("%d goroutines %v after the console stopped, want at most the %d from before it started:\n%s", n, latSettle, goroutines, dump.String())
	}

	slices.Sort(console)
	slices.Sort(watch)
	cp50, cp99, cmax := latPercentile(console, 0.50), latPercentile(console, 0.99), console[len(console)-1]
	wp50, wp99 := latPercentile(watch, 0.50), latPercentile(watch, 0.99)
	ratio := float64(cp50) / float64(wp50)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(latMs(cp50), "p50-ms")
	b.ReportMetric(latMs(cp99), "p99-ms")
	b.ReportMetric(latMs(cmax), "max-ms")
	b.ReportMetric(latMs(wp50), "watch-p50-ms")
	b.ReportMetric(latMs(wp99), "watch-p99-ms")
	b.ReportMetric(ratio, "p50/watch-p50")
	b.Logf("write → row on screen, %d samples: p50 %v, p99 %v, max %v", latSamples, cp50, cp99, cmax)
	b.Logf("write → plain etcd watch event, same run: p50 %v, p99 %v, max %v", wp50, wp99, watch[len(watch)-1])
	b.Logf("console p50 / watch p50 = %.1f", ratio)
}

// latKey returns the key of planted lease i; keys sort in i's order.
func latKey(i int) string { return fmt.Sprintf("%sk%02d", latPrefix, i) }

// latHolder returns the holder written by sample i: unique, with a first
// letter that differs from that of the row's previous holder (sample
// i-latRows, or the planted "node-…"), and no run of more than three equal
// characters.
func latHolder(i int) string {
	return fmt.Sprintf("%c-%04d", 'A'+(i/latRows)%26, i)
}

// latConsole is a console running in a tea.Program on a scanned output.
type latConsole struct {
	out    *renderScan
	p      *tea.Program
	exited chan struct{} // closed when Run returned
	final  tea.Model     // set before exited is closed
	runErr error         // likewise
	input  *io.PipeWriter
	model  tui.Model
	stop   func() error
}

// startLatConsole runs the console on the etcd at endpoints, showing
// latPrefix, and stops it when b ends if the benchmark did not.
func startLatConsole(b *testing.B, endpoints []string) *latConsole {
	b.Helper()
	c := &latConsole{out: newRenderScan(), exited: make(chan struct{})}
	c.model = tui.New(tui.Options{
		Sources: []tui.Source{{
			Name: latStore,
			Kind: "etcd",
			Connect: func(ctx context.Context) (tui.Backend, func() error, error) {
				st, err := etcd.Dial(ctx, etcd.Config{Endpoints: endpoints})
				if err != nil {
					return nil, nil, err
				}
				// Nothing is written: an operator without an audit trail
				// (which would refuse every write) is enough.
				op, err := lease.NewOperator(st, latStore, latOperator, lease.WithScope(latPrefix))
				if err != nil {
					return nil, nil, errors.Join(err, st.Close())
				}
				return tui.NewLocal(st, latPrefix, op), st.Close, nil
			},
		}},
		Operator: latOperator,
	})
	// Input that never comes: the pipe blocks reads until it is closed.
	in, inW := io.Pipe()
	c.input = inW
	c.p = tea.NewProgram(c.model,
		tea.WithInput(in),
		tea.WithOutput(c.out),
		tea.WithEnvironment(latEnviron),
		tea.WithColorProfile(colorprofile.TrueColor),
		tea.WithWindowSize(latWidth, latHeight),
		tea.WithoutSignalHandler(),
	)
	go func() {
		defer close(c.exited)
		c.final, c.runErr = c.p.Run()
	}()
	c.stop = sync.OnceValue(c.shutdown)
	b.Cleanup(func() {
		if err := c.stop(); err != nil {
			b.Errorf("stop the console: %v", err)
		}
	})
	return c
}

// shutdown quits the program (kills it if it does not quit in time), waits
// for Run to return, ends the input and closes the console's stores.
func (c *latConsole) shutdown() error {
	var errs []error
	c.p.Quit()
	select {
	case <-c.exited:
	case <-time.After(latQuitTimeout):
		errs = append(errs, fmt.Errorf("no quit within %v: killed", latQuitTimeout))
		c.p.Kill()
		<-c.exited
	}
	if c.runErr != nil && !errors.Is(c.runErr, tea.ErrProgramKilled) {
		errs = append(errs, fmt.Errorf("run: %w", c.runErr))
	}
	_ = c.input.Close() // the input reader sees EOF and ends
	m, ok := c.final.(tui.Model)
	if !ok {
		m = c.model // they share the session that Close ends
	}
	if err := m.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	return errors.Join(errs...)
}

// wait returns when the output first carried what the scan expects, or fails
// after d or when the program has ended.
func (c *latConsole) wait(d time.Duration) (time.Time, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case at := <-c.out.found:
		return at, nil
	case <-c.exited:
		return time.Time{}, fmt.Errorf("the program ended: %v", c.runErr)
	case <-timer.C:
		return time.Time{}, fmt.Errorf("not within %v", d)
	}
}

// renderScan is the console's terminal: it keeps what the program writes and
// reports when one expected string first appears in it. It is safe for
// concurrent use.
type renderScan struct {
	found chan time.Time // the time the expected string appeared

	mu   sync.Mutex
	buf  []byte
	want []byte // nil once found
	from int    // where in buf the search for want starts
}

func newRenderScan() *renderScan {
	return &renderScan{found: make(chan time.Time, 1)}
}

// Write takes the program's output. The time of a find is taken before
// anything else, as the moment the bytes reached the terminal.
func (s *renderScan) Write(p []byte) (int, error) {
	at := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if s.want != nil {
		// want may straddle two writes.
		s.check(max(s.from, len(s.buf)-len(p)-len(s.want)+1), at)
	}
	return len(p), nil
}

// expect arms the scan for want in what is written from now on or, with
// sinceStart, in everything written so far as well. A find that was not
// waited for is dropped.
func (s *renderScan) expect(want string, sinceStart bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.found:
	default:
	}
	s.want, s.from = []byte(want), len(s.buf)
	if sinceStart {
		s.from = 0
		s.check(0, time.Now())
	}
}

// check looks for want in buf[from:]; s.mu is held.
func (s *renderScan) check(from int, at time.Time) {
	if bytes.Contains(s.buf[from:], s.want) {
		s.want = nil
		s.found <- at
	}
}

// tail returns the last n bytes written, for failure messages.
func (s *renderScan) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf[max(len(s.buf)-n, 0):])
}

// awaitRawEvent reads the plain watch until the put of key arrives and
// returns when it did.
func awaitRawEvent(ch clientv3.WatchChan, key string, d time.Duration) (time.Time, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case resp, ok := <-ch:
			at := time.Now()
			if !ok {
				return time.Time{}, fmt.Errorf("plain watch closed before the put of %s", key)
			}
			if err := resp.Err(); err != nil {
				return time.Time{}, fmt.Errorf("plain watch: %w", err)
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut && string(ev.Kv.Key) == key {
					return at, nil
				}
			}
		case <-timer.C:
			return time.Time{}, fmt.Errorf("plain watch: no put of %s within %v", key, d)
		}
	}
}

// settleGoroutines waits up to d for the number of goroutines to fall to at
// most limit and returns the last count and whether it did.
func settleGoroutines(limit int, d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= limit {
			return n, true
		}
		if time.Now().After(deadline) {
			return n, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// latPercentile returns the p-quantile (0 < p ≤ 1) of sorted, by the nearest
// rank.
func latPercentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latMs returns d in milliseconds.
func latMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
