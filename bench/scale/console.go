//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The console's measurements: the real binary in a real terminal.
const (
	// pollEvery is how often the screen is captured while waiting for
	// rows and "live": the resolution of those times.
	pollEvery = 50 * time.Millisecond
	// quitTimeout bounds a graceful quit.
	quitTimeout = 30 * time.Second
	// probeKeys is how many of the top rows the latency probes rewrite.
	probeKeys = 8
	// probePoll is the pause between two captures while a probe waits:
	// with a capture's own few milliseconds, the latency's resolution.
	probePoll = 5 * time.Millisecond
	// probeTimeout bounds the wait for one probe to reach the screen.
	probeTimeout = 20 * time.Second
)

// leaseRow matches a table row: the start of its key, which the KEY column
// keeps however it is cut.
var leaseRow = regexp.MustCompile(`exports/bulk/|/export-[0-9]{6}`)

// consoleResult is one console run.
type consoleResult struct {
	stores    string
	leases    int
	firstRows time.Duration // 0 when never seen before live
	live      time.Duration
	cpuLive   time.Duration // CPU used until live
	hwmLive   int64         // VmHWM when live
	hwmQuit   int64         // VmHWM before quitting
	// progress is when the stores pane first showed at least a tenth,
	// a quarter, half, three quarters and nine tenths of the keys (0 when
	// not seen before live): the shape of the sync, linear or not.
	progress [len(progressMarks)]time.Duration
	steady   *steadyResult
	// other is the CPU other processes used during the run, in % of a core.
	other float64
}

// progressMarks are the fractions of the keys whose arrival is timed.
var progressMarks = [...]float64{0.10, 0.25, 0.50, 0.75, 0.90}

// paneKeys matches a store's line in the stores pane while it syncs or is
// live: its key count.
var paneKeys = regexp.MustCompile(`(?:syncing…|live) · (\d+) keys?`)

// steadyResult is the console under a steady stream of writes.
type steadyResult struct {
	rate      float64 // writes a second achieved
	idleCPU   float64 // % of one core, no writes
	cpu       float64 // % of one core, under writes
	window    time.Duration
	latencies []time.Duration // write → row on screen, sorted
	lost      int             // probes never seen within probeTimeout
}

// console runs the console on conf, whose stores together hold leases
// keys each as names says, until every store is live; then, with steady
// set, it measures st's steady state; then it quits.
func (b *bench) console(ctx context.Context, conf string, names []string, leases int, steady *store) (res consoleResult, err error) {
	res = consoleResult{stores: strings.Join(names, "+"), leases: leases * len(names)}
	b.waitQuiet(ctx, quietWait)
	c0 := otherCPU()
	start := time.Now()
	t, err := startTerm(b.tmux, b.termEnv, b.bin, "--config", conf)
	if err != nil {
		return res, err
	}
	defer t.close()
	// Before the tmux server goes: init reaps it, and the console's CPU
	// with it, which would then count as another process's.
	defer func() { res.other = 100 * float64(otherCPU()-c0) / float64(time.Since(start)) }()

	liveLine := func(name string) *regexp.Regexp {
		return regexp.MustCompile(fmt.Sprintf(`\b%s\b.* live · %d keys`, regexp.QuoteMeta(name), leases))
	}
	var lives []*regexp.Regexp
	for _, n := range names {
		lives = append(lives, liveLine(n))
	}
	deadline := start.Add(b.liveTimeout)
	var scr string
	for {
		if scr, err = t.screen(); err != nil {
			return res, err
		}
		at := time.Since(start)
		if res.firstRows == 0 && leaseRow.MatchString(scr) {
			res.firstRows = at
		}
		shown := 0
		for _, m := range paneKeys.FindAllStringSubmatch(scr, -1) {
			n, _ := strconv.Atoi(m[1])
			shown += n
		}
		for i, f := range progressMarks {
			if res.progress[i] == 0 && float64(shown) >= f*float64(res.leases) {
				res.progress[i] = at
			}
		}
		all := true
		for _, re := range lives {
			all = all && re.MatchString(scr)
		}
		if all {
			res.live = at
			break
		}
		if t.dead() {
			return res, fmt.Errorf("the console exited before it was live; its last screen:\n%s", scr)
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("not live after %v; the screen:\n%s", b.liveTimeout, scr)
		}
		time.Sleep(pollEvery)
	}
	if res.hwmLive, err = procStatus(t.pid, "VmHWM"); err != nil {
		return res, err
	}
	if res.cpuLive, err = procCPU(t.pid); err != nil {
		return res, err
	}
	b.screen(fmt.Sprintf("console %s, %d leases each, live after %v", res.stores, leases, res.live.Round(time.Millisecond)), scr)

	if steady != nil {
		s, err := b.steady(ctx, t, steady, leases)
		if err != nil {
			return res, err
		}
		res.steady = s
	}
	if res.hwmQuit, err = procStatus(t.pid, "VmHWM"); err != nil {
		return res, err
	}
	return res, t.quit(quitTimeout)
}

// steady measures the live console t of store st, which holds leases keys,
// under b.rate writes a second spread over the keys (except the probes'):
// its CPU over b.window idle and under the writes, then, still under the
// writes, the time from a write of a top row to its holder on screen.
func (b *bench) steady(ctx context.Context, t *term, st *store, leases int) (*steadyResult, error) {
	res := &steadyResult{window: b.window}
	cpuOver := func(d time.Duration) (float64, error) {
		c0, err := procCPU(t.pid)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		time.Sleep(d)
		c1, err := procCPU(t.pid)
		if err != nil {
			return 0, err
		}
		return 100 * float64(c1-c0) / float64(time.Since(t0)), nil
	}
	var err error
	if res.idleCPU, err = cpuOver(b.idleWindow); err != nil {
		return nil, err
	}

	probes := firstKeys(leases, probeKeys)
	stopWrites := b.startWrites(ctx, st, leases, probes)
	defer stopWrites()

	time.Sleep(b.warmup)
	if res.cpu, err = cpuOver(b.window); err != nil {
		return nil, err
	}

	// Latency: one probe at a time, each a new holder on one of the top
	// rows, written at a random moment within a frame (60 fps) of the
	// previous one's sighting.
	rng := rand.New(rand.NewPCG(2, uint64(leases)))
	end := time.Now().Add(b.window)
	for n := 0; time.Now().Before(end); n++ {
		i := probes[n%len(probes)]
		h := fmt.Sprintf("pr%05d", n)
		now := time.Now().Unix()
		v := fmt.Appendf(nil, `{"holder_id":%q,"acquired_at_unix":%d,"expires_at_unix":%d}`, h, now, now+7200)
		time.Sleep(time.Duration(rng.Int64N(int64(time.Second / 60))))
		t0 := time.Now()
		if err := st.put(ctx, key(i), v); err != nil {
			return nil, fmt.Errorf("probe %s: %w", key(i), err)
		}
		seen := false
		for time.Since(t0) < probeTimeout {
			scr, err := t.screen()
			if err != nil {
				return nil, err
			}
			if strings.Contains(scr, h) {
				res.latencies = append(res.latencies, time.Since(t0))
				seen = true
				break
			}
			time.Sleep(probePoll)
		}
		if !seen {
			res.lost++
		}
	}
	slices.Sort(res.latencies)
	rate, err := stopWrites()
	if err != nil {
		return nil, fmt.Errorf("steady writes: %w", err)
	}
	res.rate = rate
	return res, nil
}

// startWrites writes b.rate times a second, until the returned function is
// called, a new value of a random one of the first leases leases (skipping
// those in skip) with st's own client, keeping each lease's class. The
// returned function stops the writes and returns the rate achieved and the
// first error.
func (b *bench) startWrites(ctx context.Context, st *store, leases int, skip []int) func() (float64, error) {
	skipped := make(map[int]bool, len(skip))
	for _, i := range skip {
		skipped[i] = true
	}
	wctx, stop := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		writes  atomic.Int64
		werr    error
		started = time.Now()
	)
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(leases), 9))
		interval := time.Duration(float64(time.Second) / b.rate)
		next := time.Now()
		gen := 1
		for wctx.Err() == nil {
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-wctx.Done():
					return
				}
			}
			next = next.Add(interval)
			i := rng.IntN(leases)
			if skipped[i] {
				continue
			}
			gen++
			if err := st.put(wctx, key(i), value(i, gen, time.Now().Unix())); err != nil {
				if wctx.Err() == nil {
					werr = err
				}
				return
			}
			writes.Add(1)
		}
	})
	return sync.OnceValues(func() (float64, error) {
		stop()
		wg.Wait()
		return float64(writes.Load()) / time.Since(started).Seconds(), werr
	})
}

// percentile returns the p-quantile (0 < p ≤ 1) of sorted by nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
