package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/tui"
)

// syncLeases is how many leases BenchmarkConsoleSync plants per store;
// -sync-leases=100000 measures at the scale.
var syncLeases = flag.Int("sync-leases", 20_000, "leases per store in BenchmarkConsoleSync")

// syncRuns is how many syncs, and as many plain listings in turn, each
// store's figures are the medians of.
const syncRuns = 3

// syncTimeout bounds one console's sync: reaching it is a hang.
const syncTimeout = 5 * time.Minute

// BenchmarkConsoleSync measures the console's sync over a real store at
// scale: the real console (tui.New on the store's real driver, through
// config.Open as the command line opens it) in a real tea.Program on a
// 120×35 terminal that discards its output, from the start of the program
// to the first frame whose stores pane says "live · N keys". In the same
// run, alternately, a plain List of the same keys through the same driver
// is timed: the ratio live/List is what the console adds to fetching the
// keys (issue 9's goal: live within 1.5× of leasectl ls). It also reports
// the messages the program handled per 1,000 keys — each costs an Update
// and a View — which showed the cause of the Consul console's 30-second
// syncs: one message per event on a channel without a buffer. And when the
// first lease row was on screen: before the whole snapshot arrived, where
// the driver sends it as it reads it (etcd's pages).
//
// It runs syncRuns syncs whatever b.N is; run it with -benchtime=1x.
func BenchmarkConsoleSync(b *testing.B) {
	for _, bk := range []struct {
		name string
		new  func(testing.TB) backend
	}{
		{"etcd", func(t testing.TB) backend { return newEtcd(t) }},
		{"consul", func(t testing.TB) backend { return newConsul(t) }},
		{"nats", func(t testing.TB) backend { return newNATS(t) }},
	} {
		b.Run(bk.name, func(b *testing.B) {
			n := *syncLeases
			be := bk.new(b)
			sc := be.scope(b, "sync")
			start := time.Now()
			plantFleet(b, sc, n)
			b.Logf("planted %d leases in %v", n, time.Since(start))
			st := syncStore(b, sc.storeYAML("s", be.addr()))

			var lives, firsts, lists []time.Duration
			var msgs []int64
			for range syncRuns {
				// The listing first: the console's sync then finds the
				// server as warm as the listing did.
				t0 := time.Now()
				got, err := st.List(b.Context(), "sync/")
				if err != nil || len(got) != n {
					b.Fatalf("List = %d entries, %v; want %d", len(got), err, n)
				}
				lists = append(lists, time.Since(t0))
				got = nil

				r := runSync(b, st, n)
				lives, firsts, msgs = append(lives, r.live), append(firsts, r.first), append(msgs, r.msgs)
			}
			live, list, first := median(lives), median(lists), median(firsts)
			perK := float64(median(msgs)) * 1000 / float64(n)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(latMs(live), "live-ms")
			b.ReportMetric(latMs(first), "first-rows-ms")
			b.ReportMetric(latMs(list), "list-ms")
			b.ReportMetric(float64(live)/float64(list), "live/list")
			b.ReportMetric(perK, "msgs/1000keys")
			b.Logf("%s, %d leases: live after %v (first rows %v), a plain List %v: %.2fx; %.1f messages per 1,000 keys",
				bk.name, n, live, first, list, float64(live)/float64(list), perK)
		})
	}
}

// plantFleet writes n leases under sc with the store's native client,
// batched: held, expired, corrupt and tombstones, as bench/scale seeds them,
// keys sync/bulk/fold-NNN/export-NNNNNN, values of about 200 bytes.
func plantFleet(b *testing.B, sc scope, n int) {
	b.Helper()
	now := time.Now().Unix()
	values := make(map[string][]byte, n)
	pad := strings.Repeat("-", 100)
	for i := range n {
		h := fmt.Sprintf("export-worker-%02d.eu-west-1.prod.example.internal%s", i%97, pad[:30])
		var v []byte
		switch {
		case i%20 == 0:
			v = []byte(`{"holder_id":"torn`)
		case i%20 == 1:
			v = []byte{}
		case i%10 == 2:
			v = record(h, now-7200, now-60)
		default:
			v = lease.Record{HolderID: h, AcquiredAtUnix: uint64(now - 60), ExpiresAtUnix: uint64(now + 7200), CompletedCursorHex: "00000000000000ff", CompletedAtUnix: new(uint64(now - 30))}.Encode()
		}
		values[sc.key(fmt.Sprintf("bulk/fold-%03d/export-%06d", i/100, i))] = v
	}
	if bs, ok := sc.(*bucketScope); ok {
		plantNATS(b, bs, values)
		return
	}
	plant(b, sc, values)
}

// plantNATS publishes values into a bucket asynchronously, a window of
// them at a time.
func plantNATS(b *testing.B, sc *bucketScope, values map[string][]byte) {
	b.Helper()
	ctx := b.Context()
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	sem := make(chan struct{}, 256)
	for k, v := range values {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := sc.kv.Put(ctx, k, v); err != nil {
				failed.Store(&err)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatalf("nats Put: %v", *err)
	}
}

// syncStore opens the store of a config entry, as the command line does.
func syncStore(b *testing.B, entry string) stores.Store {
	b.Helper()
	c, err := config.Parse("sync.yaml", []byte("stores:\n"+entry))
	if err != nil {
		b.Fatalf("config: %v", err)
	}
	sel, err := c.Find([]string{"s"})
	if err != nil {
		b.Fatal(err)
	}
	st, closer, err := config.Open(b.Context(), sel[0])
	if err != nil {
		b.Fatalf("open the store: %v", err)
	}
	b.Cleanup(func() { _ = closer() })
	return st
}

// syncResult is one console's sync.
type syncResult struct {
	live, first time.Duration
	msgs        int64 // messages handled until live
}

// runSync runs the console over st, scoped to sync/, until it shows the n
// keys live, and quits it.
func runSync(b *testing.B, st stores.Store, n int) syncResult {
	b.Helper()
	op, err := lease.NewOperator(st, "s", "bench", lease.WithScope("sync/"))
	if err != nil {
		b.Fatal(err)
	}
	backend := tui.NewLocal(st, "sync/", op)
	model := tui.New(tui.Options{
		Sources: []tui.Source{{Name: "s", Kind: "bench", Connect: func(context.Context) (tui.Backend, func() error, error) {
			return backend, nil, nil
		}}},
		Operator: "bench",
	})
	probe := &syncProbe{want: fmt.Sprintf("live · %d keys", n), live: make(chan struct{})}
	in, inW := io.Pipe()
	defer inW.Close()
	p := tea.NewProgram(&probedModel{Model: model, probe: probe},
		tea.WithInput(in),
		tea.WithOutput(io.Discard),
		tea.WithEnvironment(latEnviron),
		tea.WithColorProfile(colorprofile.TrueColor),
		tea.WithWindowSize(120, 35),
		tea.WithoutSignalHandler(),
	)
	exited := make(chan error, 1)
	probe.start = time.Now()
	go func() {
		_, err := p.Run()
		exited <- err
	}()
	timer := time.NewTimer(syncTimeout)
	defer timer.Stop()
	select {
	case <-probe.live:
	case err := <-exited:
		b.Fatalf("the console ended before it was live: %v", err)
	case <-timer.C:
		p.Kill()
		b.Fatalf("the console was not live after %v", syncTimeout)
	}
	p.Quit()
	if err := <-exited; err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		b.Fatalf("run: %v", err)
	}
	if err := model.Close(); err != nil {
		b.Fatalf("close: %v", err)
	}
	return syncResult{live: probe.liveAt, first: probe.firstAt, msgs: probe.msgs}
}

// syncProbe watches a console's frames for its first lease row and for
// "live · N keys", and counts the messages it handled until then. Only the
// program's goroutine touches it until live is closed.
type syncProbe struct {
	want    string
	start   time.Time
	msgs    int64
	firstAt time.Duration
	liveAt  time.Duration
	live    chan struct{}
	done    bool
}

// probedModel is the console with the probe looking at what it handles and
// draws.
type probedModel struct {
	tui.Model
	probe *syncProbe
}

func (m *probedModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if !m.probe.done {
		m.probe.msgs++
	}
	next, cmd := m.Model.Update(msg)
	m.Model = next.(tui.Model)
	return m, cmd
}

func (m *probedModel) View() tea.View {
	v := m.Model.View()
	if pr := m.probe; !pr.done {
		screen := ansi.Strip(v.Content)
		// A lease row: only keys show sync/ (the store is called s).
		if pr.firstAt == 0 && strings.Contains(screen, "sync/") {
			pr.firstAt = time.Since(pr.start)
		}
		if strings.Contains(screen, pr.want) {
			pr.liveAt, pr.done = time.Since(pr.start), true
			close(pr.live)
		}
	}
	return v
}

// median returns the median of ds.
func median[T int64 | time.Duration](ds []T) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
