package demo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

func newStore(t *testing.T) *memory.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

// stop ends the fleet's context and checks that Wait returns at once, in
// fake time: no replica may wait for a timer, nor run on, once ctx ends.
func stop(t *testing.T, cancel context.CancelFunc, fl *Fleet) {
	t.Helper()
	cancel()
	done := make(chan struct{})
	go func() {
		fl.Wait()
		close(done)
	}()
	synctest.Wait()
	select {
	case <-done:
	default:
		t.Fatalf("Wait() blocks after the context ended, want it to return at once")
	}
}

func foldOf(key string) *fold {
	for i := range folds {
		if folds[i].key == key {
			return &folds[i]
		}
	}
	return nil
}

// logBuffer collects what a slog.TextHandler writes, safely for the
// replicas' concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// observer follows the demo store through Watch and checks the fleet's
// invariants on every change, at the instant it was written: in a synctest
// bubble time cannot advance while the watch goroutine has an event to
// deliver.
type observer struct {
	t    *testing.T
	base func() time.Time // the fleet's base clock, also the viewer's

	synced   bool
	initial  map[string]stores.Entry // the snapshot
	last     map[string]stores.Entry
	winners  map[string]map[string]int // new rounds by holder
	cursors  map[string][]uint64       // completions, in order
	abandons map[string]int
	skewed   map[string]bool // seen flagged skewed at the viewer's clock
	steals   map[string]int  // live records taken over (by the skewed clock)
	// crashTakeovers counts rounds of a crashing replica, never completed
	// nor abandoned, taken over by another replica once expired.
	crashTakeovers int
	// afterOperator counts, per key, fleet rounds that followed an
	// operator's record.
	afterOperator map[string]int
}

func newObserver(t *testing.T, base func() time.Time) *observer {
	return &observer{
		t:             t,
		base:          base,
		initial:       map[string]stores.Entry{},
		last:          map[string]stores.Entry{},
		winners:       map[string]map[string]int{},
		cursors:       map[string][]uint64{},
		abandons:      map[string]int{},
		skewed:        map[string]bool{},
		steals:        map[string]int{},
		afterOperator: map[string]int{},
	}
}

// follow handles events for d of (bubble) time.
func (o *observer) follow(events <-chan stores.Event, d time.Duration) {
	o.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				o.t.Fatal("watch channel closed early")
			}
			o.handle(ev)
		case <-deadline:
			return
		}
	}
}

func (o *observer) handle(ev stores.Event) {
	t := o.t
	t.Helper()
	switch ev.Kind {
	case stores.EventSynced:
		o.synced = true
		return
	case stores.EventPut:
	default:
		t.Errorf("watch event %v, want only puts", ev.Kind)
		return
	}
	k, now := ev.Entry.Key, o.base()
	prev, hadPrev := o.last[k]
	o.last[k] = ev.Entry
	if !o.synced {
		o.initial[k] = ev.Entry
	}
	st := lease.Classify(ev.Entry.Value, now, lease.DefaultThresholds())
	operator := st.Record.HolderID != "" && strings.HasPrefix(st.Record.HolderID, "operator:")
	if k == corruptKey {
		if !o.synced && st.State != lease.Corrupt {
			t.Errorf("%s in the snapshot: %v, want corrupt", k, st.State)
		}
		if o.synced && !operator {
			t.Errorf("%s written by the fleet at revision %d: %q", k, ev.Entry.Revision, ev.Entry.Value)
		}
		return
	}
	f := foldOf(k)
	if f == nil {
		t.Errorf("change of %q, not a demo key", k)
		return
	}
	if st.Flags.Has(lease.Skewed) {
		if st.Record.HolderID == f.skewed {
			o.skewed[k] = true
		} else {
			t.Errorf("%s at %d: record %s flagged skewed, not by the skewed replica", k, lease.UnixSeconds(now), ev.Entry.Value)
		}
	}
	var p lease.Record
	pOK := false
	if hadPrev {
		var err error
		p, err = lease.Decode(prev.Value)
		pOK = err == nil
	}
	switch st.State {
	case lease.Tombstone:
		if o.synced && pOK && !strings.HasPrefix(p.HolderID, "operator:") {
			o.abandons[k]++
		}
		return
	case lease.Held, lease.Expired:
	default:
		t.Errorf("%s at revision %d: %v %s, want a record or a tombstone", k, ev.Entry.Revision, st.State, st.Reason)
		return
	}
	r := st.Record
	if pOK && p.HolderID == r.HolderID && p.AcquiredAtUnix == r.AcquiredAtUnix {
		// The same round, completed.
		if !r.Completed() || p.Completed() {
			t.Errorf("%s: %s rewritten as %s, want one completion", k, prev.Value, ev.Entry.Value)
		}
	} else if o.synced && !operator {
		// A new round won by the fleet.
		if o.winners[k] == nil {
			o.winners[k] = map[string]int{}
		}
		o.winners[k][r.HolderID]++
		if want := lease.UnixSeconds(f.clock(r.HolderID, o.base)()); r.AcquiredAtUnix != want {
			t.Errorf("%s: %s acquired at %d, want %d (its clock)", k, r.HolderID, r.AcquiredAtUnix, want)
		}
		if got, want := r.ExpiresAtUnix-r.AcquiredAtUnix, uint64(f.period/time.Second); got != want {
			t.Errorf("%s: %s has a period of %ds, want %ds", k, r.HolderID, got, want)
		}
		if pOK {
			live := p.LiveAt(lease.UnixSeconds(now))
			switch {
			case live && r.HolderID == f.skewed:
				o.steals[k]++
			case live:
				t.Errorf("%s at %d: %s took over %s, still live by the base clock", k, lease.UnixSeconds(now), r.HolderID, prev.Value)
			case !p.Completed() && p.HolderID == f.crasher && r.HolderID != f.crasher:
				o.crashTakeovers++
			}
			if strings.HasPrefix(p.HolderID, "operator:") {
				o.afterOperator[k]++
			}
		}
	}
	if r.Completed() {
		c, err := hex.DecodeString(r.CompletedCursorHex)
		if err != nil || len(c) != 8 {
			t.Errorf("%s: completed_cursor_hex %q, want 8 bytes of hex", k, r.CompletedCursorHex)
			return
		}
		cur := binary.BigEndian.Uint64(c)
		if cs := o.cursors[k]; len(cs) > 0 && cur <= cs[len(cs)-1] {
			t.Errorf("%s: cursor %d after %d, want it to grow", k, cur, cs[len(cs)-1])
		}
		o.cursors[k] = append(o.cursors[k], cur)
	}
}

// TestFleet runs the demo for ten simulated minutes and checks, change by
// change, what docs/design.md §3 and the demo promise.
func TestFleet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seed  int64
		shift time.Duration // of the base clock against the bubble's
	}{
		{"seed 1", 1, 0},
		{"seed 2", 2, 0},
		{"seed 3", 3, 0},
		{"seed 4, clock a year ahead", 4, 365 * 24 * time.Hour},
		{"seed 5, clock a day behind", 5, -24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStore(t)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				base := func() time.Time { return time.Now().Add(tc.shift) }
				var logs logBuffer
				fl, err := Start(ctx, s, WithSeed(tc.seed), WithClock(base), WithLogger(newLogger(&logs)))
				if err != nil {
					t.Fatalf("Start() = %v, want nil", err)
				}
				events, err := s.Watch(ctx, "")
				if err != nil {
					t.Fatalf("Watch() = %v, want nil", err)
				}
				o := newObserver(t, base)
				o.follow(events, 10*time.Minute)
				stop(t, cancel, fl)

				for _, f := range folds {
					if n := len(o.winners[f.key]); n < 2 {
						t.Errorf("%s: rounds won by %v, want more than one replica", f.key, o.winners[f.key])
					}
					if n := len(o.cursors[f.key]); n < 2 {
						t.Errorf("%s: %d completions, want several", f.key, n)
					}
				}
				if !o.skewed["exports/metrics"] {
					t.Errorf("exports/metrics was never flagged skewed at the viewer's clock")
				}
				if o.crashTakeovers == 0 {
					t.Errorf("no crashed round was taken over once expired")
				}
				if crashes := strings.Count(logs.String(), "crashed mid-round"); crashes == 0 || crashes < o.crashTakeovers {
					t.Errorf("%d crashes logged, %d crashed rounds taken over: want at least one crash, no fewer than takeovers", crashes, o.crashTakeovers)
				}
				abandons := 0
				for _, n := range o.abandons {
					abandons += n
				}
				if abandons == 0 {
					t.Errorf("no round was abandoned in ten minutes, want about one in ten")
				}
				e, err := s.Get(t.Context(), corruptKey)
				if err != nil {
					t.Fatalf("Get(%q) = %v, want nil", corruptKey, err)
				}
				if !bytes.Equal(e.Value, o.initial[corruptKey].Value) || e.Revision != o.initial[corruptKey].Revision {
					t.Errorf("Get(%q) = %q at %d, want the seeded %q at %d", corruptKey, e.Value, e.Revision, o.initial[corruptKey].Value, o.initial[corruptKey].Revision)
				}
				t.Logf("winners %v; completions %d/%d/%d/%d/%d; abandons %d; crash takeovers %d; skewed steals %v",
					o.winners, len(o.cursors["exports/orders"]), len(o.cursors["exports/payments"]), len(o.cursors["exports/search-index"]),
					len(o.cursors["exports/audit-trail"]), len(o.cursors["exports/metrics"]), abandons, o.crashTakeovers, o.steals)
			})
		})
	}
}

// memAuditor is an in-memory lease.Auditor.
type memAuditor struct {
	mu      sync.Mutex
	records []lease.AuditRecord
}

func (a *memAuditor) Audit(_ context.Context, r lease.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, r)
	return nil
}

// TestOperatorActionsStick checks that the fleet treats an operator's writes
// like any other record: a takeover holds until it expires, a release is
// taken at the next trigger, and the corrupt key, once taken over, is never
// re-planted.
func TestOperatorActionsStick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		fl, err := Start(ctx, s, WithSeed(7))
		if err != nil {
			t.Fatalf("Start() = %v, want nil", err)
		}
		events, err := s.Watch(ctx, "")
		if err != nil {
			t.Fatalf("Watch() = %v, want nil", err)
		}
		o := newObserver(t, time.Now)
		o.follow(events, 30*time.Second)

		op, err := lease.NewOperator(s, StoreName, "alice", lease.WithAuditor(&memAuditor{}), lease.WithHost("test"))
		if err != nil {
			t.Fatalf("NewOperator() = %v, want nil", err)
		}
		const hold = 2 * time.Minute
		for _, key := range []string{corruptKey, "exports/orders"} {
			ob, err := op.Inspect(ctx, key)
			if err != nil {
				t.Fatalf("Inspect(%q) = %v, want nil", key, err)
			}
			if _, err := op.Takeover(ctx, key, hold, "demo test", ob.Revision()); err != nil {
				t.Fatalf("Takeover(%q) = %v, want nil", key, err)
			}
		}
		ob, err := op.Inspect(ctx, "exports/audit-trail")
		if err != nil {
			t.Fatalf("Inspect(%q) = %v, want nil", "exports/audit-trail", err)
		}
		released := time.Now()
		if _, err := op.Release(ctx, "exports/audit-trail", "demo test", ob.Revision()); err != nil {
			t.Fatalf("Release(%q) = %v, want nil", "exports/audit-trail", err)
		}
		owned, err := s.Get(ctx, corruptKey)
		if err != nil {
			t.Fatalf("Get(%q) = %v, want nil", corruptKey, err)
		}
		o.follow(events, 30*time.Second)
		// The fleet's next trigger after the release wins: within one
		// jittered period, 20 s × 1.15 for audit-trail.
		e, err := s.Get(ctx, "exports/audit-trail")
		if err != nil {
			t.Fatalf("Get(%q) = %v, want nil", "exports/audit-trail", err)
		}
		if r, err := lease.Decode(e.Value); err != nil || r.AcquiredAtUnix < lease.UnixSeconds(released) {
			t.Errorf("%s 30s after the release = %q, want a fleet round won since", "exports/audit-trail", e.Value)
		}
		o.follow(events, 5*time.Minute)
		stop(t, cancel, fl)

		// The observer failed any fleet round that took over the live
		// operator lease on orders; after it expired, the fleet took over.
		if o.afterOperator["exports/orders"] == 0 {
			t.Errorf("exports/orders: no fleet round after the operator's lease expired")
		}
		e, err = s.Get(t.Context(), corruptKey)
		if err != nil {
			t.Fatalf("Get(%q) = %v, want nil", corruptKey, err)
		}
		if e.Revision != owned.Revision {
			t.Errorf("Get(%q) = %q at %d, want the operator's %q at %d", corruptKey, e.Value, e.Revision, owned.Value, owned.Revision)
		}
	})
}

// TestStop checks that the replicas stop as soon as the context ends,
// mid-round or not, and write nothing afterwards; synctest.Test itself fails
// if any goroutine is left behind.
func TestStop(t *testing.T) {
	for _, after := range []time.Duration{0, 3 * time.Second, 47 * time.Second, 5 * time.Minute} {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStore(t)
				ctx, cancel := context.WithCancel(t.Context())
				fl, err := Start(ctx, s, WithSeed(int64(after)))
				if err != nil {
					t.Fatalf("Start() = %v, want nil", err)
				}
				time.Sleep(after)
				stop(t, cancel, fl)
				before, err := s.List(t.Context(), "")
				if err != nil {
					t.Fatalf("List() = %v, want nil", err)
				}
				time.Sleep(time.Hour)
				later, err := s.List(t.Context(), "")
				if err != nil {
					t.Fatalf("List() = %v, want nil", err)
				}
				if !slices.EqualFunc(before, later, func(a, b stores.Entry) bool { return a.Revision == b.Revision }) {
					t.Errorf("List() an hour after Wait = %v, want %v: the fleet wrote after stopping", later, before)
				}
			})
		})
	}
}

func TestStartErrors(t *testing.T) {
	closed := memory.New()
	if err := closed.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		s    *memory.Store
		opts []Option
		want error // nil: any error
	}{
		{"nil store", t.Context(), nil, nil, nil},
		{"nil clock", t.Context(), newStore(t), []Option{WithClock(nil)}, nil},
		{"nil logger", t.Context(), newStore(t), []Option{WithLogger(nil)}, nil},
		{"closed store", t.Context(), closed, nil, memory.ErrClosed},
		{"context done", canceled, newStore(t), nil, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl, err := Start(tc.ctx, tc.s, tc.opts...)
			if err == nil || fl != nil {
				t.Fatalf("Start() = %v, %v, want nil and an error", fl, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Start() = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "demo: ") {
				t.Errorf("Start() = %q, want a message prefixed %q", err, "demo: ")
			}
		})
	}
}

// TestQuiet checks that the fleet logs nothing by default, not even through
// the lease core's default logger, which a round taken over prematurely on
// exports/metrics makes it use otherwise.
func TestQuiet(t *testing.T) {
	var logs logBuffer
	old := slog.Default()
	slog.SetDefault(newLogger(&logs))
	t.Cleanup(func() { slog.SetDefault(old) })
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		fl, err := Start(ctx, s, WithSeed(1))
		if err != nil {
			t.Fatalf("Start() = %v, want nil", err)
		}
		time.Sleep(5 * time.Minute)
		stop(t, cancel, fl)
		list, err := s.List(t.Context(), "")
		if err != nil {
			t.Fatalf("List() = %v, want nil", err)
		}
		if top := slices.MaxFunc(list, func(a, b stores.Entry) int { return int(a.Revision) - int(b.Revision) }); top.Revision < 50 {
			t.Fatalf("store at revision %d after 5 minutes, want a busy fleet", top.Revision)
		}
	})
	if got := logs.String(); got != "" {
		t.Errorf("default logger got %q, want nothing", got)
	}
}

func TestSeed(t *testing.T) {
	now := time.Date(2024, 6, 10, 6, 13, 20, 0, time.UTC)
	clock := WithClock(func() time.Time { return now })
	s := newStore(t)
	if err := Seed(t.Context(), s, clock); err != nil {
		t.Fatalf("Seed() = %v, want nil", err)
	}
	list, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	want := map[string]struct {
		state  lease.State
		flags  lease.Flags
		holder string
	}{
		"exports/orders":         {lease.Held, lease.Completed, "orders-1"},
		"exports/payments":       {lease.Held, 0, "payments-0"},
		"exports/search-index":   {lease.Expired, lease.Completed, "search-index-0"},
		"exports/audit-trail":    {lease.Tombstone, 0, ""},
		"exports/metrics":        {lease.Held, lease.Skewed, "metrics-2"},
		"exports/legacy-billing": {lease.Corrupt, 0, ""},
	}
	got := map[string]stores.Entry{}
	for _, e := range list {
		got[e.Key] = e
	}
	if len(got) != len(want) {
		t.Errorf("List() after Seed = %d keys, want %d", len(got), len(want))
	}
	for key, w := range want {
		st := lease.Classify(got[key].Value, now, lease.DefaultThresholds())
		if st.State != w.state || st.Flags != w.flags || st.Record.HolderID != w.holder {
			t.Errorf("Classify(%s = %q) = %v %v %q, want %v %v %q", key, got[key].Value, st.State, st.Flags, st.Record.HolderID, w.state, w.flags, w.holder)
		}
	}
	if st := lease.Classify(got[corruptKey].Value, now, lease.DefaultThresholds()); st.Reason != "duplicate field holder_id" {
		t.Errorf("Classify(%s).Reason = %q, want %q", corruptKey, st.Reason, "duplicate field holder_id")
	}

	t.Run("again", func(t *testing.T) {
		now = now.Add(time.Hour)
		if err := Seed(t.Context(), s, clock); err != nil {
			t.Fatalf("Seed() = %v, want nil", err)
		}
		again, err := s.List(t.Context(), "")
		if err != nil {
			t.Fatalf("List() = %v, want nil", err)
		}
		if !slices.EqualFunc(list, again, func(a, b stores.Entry) bool { return a.Revision == b.Revision }) {
			t.Errorf("List() after a second Seed = %v, want %v unchanged", again, list)
		}
	})

	t.Run("keeps existing keys", func(t *testing.T) {
		s := newStore(t)
		mine := []byte(`{"holder_id":"operator:alice","acquired_at_unix":1,"expires_at_unix":2}`)
		rev, err := s.Create(t.Context(), "exports/orders", mine)
		if err != nil {
			t.Fatalf("Create() = %v, want nil", err)
		}
		if _, err := s.Create(t.Context(), corruptKey, nil); err != nil {
			t.Fatalf("Create() = %v, want nil", err)
		}
		if err := Seed(t.Context(), s); err != nil {
			t.Fatalf("Seed() = %v, want nil", err)
		}
		for key, want := range map[string][]byte{"exports/orders": mine, corruptKey: {}} {
			e, err := s.Get(t.Context(), key)
			if err != nil || !bytes.Equal(e.Value, want) {
				t.Errorf("Get(%q) = %q, %v, want %q, nil", key, e.Value, err, want)
			}
		}
		if e, _ := s.Get(t.Context(), "exports/orders"); e.Revision != rev {
			t.Errorf("Get(%q).Revision = %d, want %d", "exports/orders", e.Revision, rev)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if err := Seed(t.Context(), nil); err == nil {
			t.Errorf("Seed(nil) = nil, want an error")
		}
		if err := Seed(t.Context(), newStore(t), WithClock(nil)); err == nil {
			t.Errorf("Seed(WithClock(nil)) = nil, want an error")
		}
		if err := Seed(t.Context(), stores.ReadOnly(newStore(t))); !errors.Is(err, stores.ErrReadOnly) {
			t.Errorf("Seed(read-only) = %v, want %v", err, stores.ErrReadOnly)
		}
	})
}

func TestKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		fl, err := Start(ctx, s)
		if err != nil {
			t.Fatalf("Start() = %v, want nil", err)
		}
		list, err := s.List(ctx, "")
		stop(t, cancel, fl)
		if err != nil {
			t.Fatalf("List() = %v, want nil", err)
		}
		var listed []string
		for _, e := range list {
			listed = append(listed, e.Key)
		}
		got := fl.Keys()
		if !slices.Equal(got, listed) {
			t.Errorf("Keys() = %v, want the keys Start planted, %v", got, listed)
		}
		for _, k := range []string{"exports/orders", "exports/payments", "exports/search-index", "exports/audit-trail", "exports/metrics", corruptKey} {
			if !slices.Contains(got, k) {
				t.Errorf("Keys() = %v, want it to hold %q", got, k)
			}
		}
		got[0] = "changed"
		if fl.Keys()[0] == "changed" {
			t.Errorf("Keys() shares its slice with the fleet")
		}
	})
}
