package lease_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/lease/leasetest"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

const (
	t0  = 1718000000
	ttl = 300 * time.Second
	key = "exports/orders"
)

func TestNew(t *testing.T) {
	m := memory.New()
	tests := []struct {
		name   string
		s      stores.Store
		key    string
		holder string
		opts   []lease.Option
		is     error
	}{
		{name: "nil store", s: nil, key: key, holder: "a"},
		{name: "read-only store", s: stores.ReadOnly(m), key: key, holder: "a", is: stores.ErrReadOnly},
		{name: "empty key", s: m, key: "", holder: "a"},
		{name: "empty holder", s: m, key: key, holder: ""},
		{name: "holder not UTF-8", s: m, key: key, holder: "a\xff"},
		{name: "nil clock", s: m, key: key, holder: "a", opts: []lease.Option{lease.WithClock(nil)}},
		{name: "nil logger", s: m, key: key, holder: "a", opts: []lease.Option{lease.WithLogger(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := lease.New(tt.s, tt.key, tt.holder, tt.opts...)
			if err == nil {
				t.Fatalf("New(%v, %q, %q) = %v, nil; want an error", tt.s, tt.key, tt.holder, l)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("New(...) = %v, want an error matching %v", err, tt.is)
			}
		})
	}
	l, err := lease.New(m, key, "node-a", lease.WithClock(time.Now), lease.WithLogger(slog.Default()))
	if err != nil || l.Key() != key || l.HolderID() != "node-a" {
		t.Errorf("New(memory, %q, node-a) = %v, %v", key, l, err)
	}
}

// TestRacersOneWinner releases 8 candidates at once on each kind of key:
// exactly one wins, the rest get ErrHeld, and the store holds the winner's
// record at the winner's revision.
func TestRacersOneWinner(t *testing.T) {
	plants := map[string][]byte{
		"absent":    nil,
		"expired":   lease.Record{HolderID: "old", AcquiredAtUnix: t0 - 600, ExpiresAtUnix: t0 - 300}.Encode(),
		"tombstone": {},
		"corrupt":   []byte("not a record"),
	}
	for name, plant := range plants {
		t.Run(name, func(t *testing.T) {
			m := memory.New()
			if plant != nil {
				mustCreate(t, m, key, plant)
			}
			clk := newClock(t0)
			const racers = 8
			var (
				start = make(chan struct{})
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  []*lease.Guard
				held  int
			)
			for i := range racers {
				l := newLease(t, m, key, fmt.Sprintf("node-%d", i), lease.WithClock(clk.Now))
				wg.Go(func() {
					<-start
					g, err := l.TryAcquire(t.Context(), ttl)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins = append(wins, g)
					case errors.Is(err, lease.ErrHeld):
						held++
					default:
						t.Errorf("TryAcquire = %v, want a win or ErrHeld", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(wins) != 1 || held != racers-1 {
				t.Fatalf("%d racers: %d won, %d held; want 1 and %d", racers, len(wins), held, racers-1)
			}
			e := mustGet(t, m, key)
			if want := wins[0].Record().Encode(); string(e.Value) != string(want) || e.Revision != wins[0].Revision() {
				t.Errorf("store holds %s at %d, want the winner's %s at %d", e.Value, e.Revision, want, wins[0].Revision())
			}
		})
	}
}

// TestContentionMemory runs the shared contention suite on the memory store.
func TestContentionMemory(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 25
	}
	r := leasetest.Contention(t, memory.New(), 32, rounds)
	if r.Rounds != rounds || r.Attempts != 32*rounds || r.BadRounds != 0 {
		t.Errorf("Contention(32, %d) = %v", rounds, r)
	}
}

func TestHeldLeaseBlocksAndForgottenGuardKeepsIt(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	a := newLease(t, m, key, "node-a", lease.WithClock(clk.Now))
	b := newLease(t, m, key, "node-b", lease.WithClock(clk.Now))
	g, err := a.TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("node-a TryAcquire = %v", err)
	}
	want := mustGet(t, m, key)
	if string(want.Value) != specFresh {
		t.Fatalf("stored %s, want %s", want.Value, specFresh)
	}
	if _, err := b.TryAcquire(t.Context(), ttl); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("node-b TryAcquire on a held lease = %v, want ErrHeld", err)
	} else if !containsAll(err.Error(), `"node-a"`, "1718000300") {
		t.Errorf("ErrHeld message %q does not name the holder and expiry", err)
	}
	// Forget the guard; nothing may change.
	g = nil
	runtime.GC()
	clk.Advance(ttl - time.Second)
	if g2, err := b.TryAcquire(t.Context(), ttl); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("node-b TryAcquire after the guard was dropped = %v, %v; want ErrHeld", g2, err)
	}
	if got := mustGet(t, m, key); !reflect.DeepEqual(got, want) {
		t.Errorf("store = %+v after a dropped guard, want unchanged %+v", got, want)
	}
	_ = g
}

func TestOwnSecondAttemptLoses(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	a := newLease(t, m, key, "node-a", lease.WithClock(clk.Now))
	if _, err := a.TryAcquire(t.Context(), ttl); err != nil {
		t.Fatalf("first TryAcquire = %v", err)
	}
	clk.Advance(time.Minute)
	if g, err := a.TryAcquire(t.Context(), ttl); !errors.Is(err, lease.ErrHeld) || g != nil {
		t.Fatalf("second TryAcquire by the holder = %v, %v; want nil, ErrHeld", g, err)
	}
	if got := string(mustGet(t, m, key).Value); got != specFresh {
		t.Errorf("store = %s, want the first record %s", got, specFresh)
	}
}

func TestTakeoverAfterExpiry(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	var logs logBuffer
	a := newLease(t, m, key, "node-a", lease.WithClock(clk.Now), lease.WithLogger(logs.logger()))
	b := newLease(t, m, key, "node-b", lease.WithClock(clk.Now))
	ga, err := a.TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("node-a TryAcquire = %v", err)
	}
	clk.Advance(ttl - time.Second) // t0+299: still live
	if _, err := b.TryAcquire(t.Context(), ttl); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("node-b at t0+299 = %v, want ErrHeld", err)
	}
	clk.Advance(time.Second) // t0+300: expires_at == now, expired
	gb, err := b.TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("node-b at t0+300 = %v, want a win", err)
	}
	want := lease.Record{HolderID: "node-b", AcquiredAtUnix: t0 + 300, ExpiresAtUnix: t0 + 600}
	if got := gb.Record(); !reflect.DeepEqual(got, want) {
		t.Errorf("takeover record = %+v, want %+v", got, want)
	}
	if gb.Revision() <= ga.Revision() {
		t.Errorf("takeover revision %d, want more than %d", gb.Revision(), ga.Revision())
	}

	// node-a's round overran: its completion must not overwrite node-b.
	if err := ga.Complete(t.Context(), lease.CursorFromRevision(42)); err != nil {
		t.Fatalf("Complete after takeover = %v, want nil", err)
	}
	if got := string(mustGet(t, m, key).Value); got != string(want.Encode()) {
		t.Errorf("store = %s after a late completion, want node-b's %s", got, want.Encode())
	}
	if !containsAll(logs.String(), "overran", key) {
		t.Errorf("late completion logged %q, want a warning naming the key", logs.String())
	}
	// Nor may its abandon.
	ga.Abandon(t.Context())
	if got := string(mustGet(t, m, key).Value); got != string(want.Encode()) {
		t.Errorf("store = %s after a late abandon, want node-b's %s", got, want.Encode())
	}
}

func TestCompleteWritesCursorKeepsExpiry(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	a := newLease(t, m, key, "node-a", lease.WithClock(clk.Now))
	g, err := a.TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	clk.Advance(42 * time.Second)
	if err := g.Complete(t.Context(), lease.CursorFromRevision(42)); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	e := mustGet(t, m, key)
	if string(e.Value) != specCompleted {
		t.Errorf("stored %s, want %s", e.Value, specCompleted)
	}
	if g.Revision() != e.Revision {
		t.Errorf("guard revision %d, store revision %d", g.Revision(), e.Revision)
	}
	if got := string(g.Record().Encode()); got != specCompleted {
		t.Errorf("guard record %s, want %s", got, specCompleted)
	}
	// A second completion CASes against the updated revision.
	clk.Advance(time.Second)
	if err := g.Complete(t.Context(), []byte{0xff}); err != nil {
		t.Fatalf("second Complete = %v", err)
	}
	r, err := a.Current(t.Context())
	if err != nil || r.CompletedCursorHex != "ff" || *r.CompletedAtUnix != t0+43 || r.ExpiresAtUnix != t0+300 {
		t.Errorf("Current = %+v, %v; want cursor ff at %d, expiry %d", r, err, t0+43, t0+300)
	}
}

// TestGuardRecordIsACopy checks a caller cannot change the guard's record.
func TestGuardRecordIsACopy(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	g, err := newLease(t, m, key, "node-a", lease.WithClock(clk.Now)).TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	if err := g.Complete(t.Context(), []byte{1}); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	r := g.Record()
	*r.CompletedAtUnix = 7
	if got := *g.Record().CompletedAtUnix; got != t0 {
		t.Errorf("guard's completed_at_unix = %d after the caller changed its copy, want %d", got, t0)
	}
}

func TestTakeoverOfStealableValues(t *testing.T) {
	tests := []struct {
		name  string
		plant []byte
	}{
		{"tombstone", []byte{}},
		{"corrupt", []byte(`{"holder_id":"node-x","acquired_at_unix":-1,"expires_at_unix":99999999999}`)},
		{"garbage", []byte{0xff, 0x00}},
		{"completed expired", []byte(specCompleted)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := memory.New()
			rev := mustCreate(t, m, key, tt.plant)
			clk := newClock(t0 + 1000)
			g, err := newLease(t, m, key, "node-b", lease.WithClock(clk.Now)).TryAcquire(t.Context(), ttl)
			if err != nil {
				t.Fatalf("TryAcquire over %q = %v, want a win", tt.plant, err)
			}
			e := mustGet(t, m, key)
			want := lease.Record{HolderID: "node-b", AcquiredAtUnix: t0 + 1000, ExpiresAtUnix: t0 + 1300}
			if string(e.Value) != string(want.Encode()) || e.Revision == rev || e.Revision != g.Revision() {
				t.Errorf("store = %s at %d, want a fresh %s at the guard's revision %d (planted at %d)", e.Value, e.Revision, want.Encode(), g.Revision(), rev)
			}
		})
	}
}

func TestCurrent(t *testing.T) {
	m := memory.New()
	l := newLease(t, m, key, "node-a")
	if _, err := l.Current(t.Context()); !errors.Is(err, lease.ErrNoRecord) {
		t.Errorf("Current on an absent key = %v, want ErrNoRecord", err)
	}
	rev := mustCreate(t, m, key, []byte{})
	if _, err := l.Current(t.Context()); !errors.Is(err, lease.ErrNoRecord) {
		t.Errorf("Current on a tombstone = %v, want ErrNoRecord", err)
	}
	bad := []byte(`{"holder_id":"node-a"}`)
	if _, err := m.Update(t.Context(), key, bad, rev); err != nil {
		t.Fatal(err)
	}
	_, err := l.Current(t.Context())
	ce, ok := errors.AsType[*lease.CorruptError](err)
	if !ok || !errors.Is(err, lease.ErrCorrupt) {
		t.Fatalf("Current on corrupt bytes = %v, want a *CorruptError", err)
	}
	if string(ce.Raw) != string(bad) || ce.Reason != "missing field acquired_at_unix" {
		t.Errorf("CorruptError = %q / %q, want the raw bytes and reason %q", ce.Raw, ce.Reason, "missing field acquired_at_unix")
	}
	// No expiry filter: an expired record is returned.
	e := mustGet(t, m, key)
	if _, err := m.Update(t.Context(), key, []byte(specCompleted), e.Revision); err != nil {
		t.Fatal(err)
	}
	r, err := l.Current(t.Context())
	if err != nil || string(r.Encode()) != specCompleted {
		t.Errorf("Current = %+v, %v; want the expired record %s", r, err, specCompleted)
	}
}

func TestAbandonThenImmediateReacquire(t *testing.T) {
	m := memory.New()
	clk := newClock(t0)
	a := newLease(t, m, key, "node-a", lease.WithClock(clk.Now))
	b := newLease(t, m, key, "node-b", lease.WithClock(clk.Now))
	g, err := a.TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	g.Abandon(t.Context())
	e := mustGet(t, m, key)
	if len(e.Value) != 0 || e.Value == nil {
		t.Fatalf("after Abandon the store holds %q, want a zero-length value (not a delete)", e.Value)
	}
	if g.Revision() != e.Revision {
		t.Errorf("guard revision %d after Abandon, store %d", g.Revision(), e.Revision)
	}
	if err := g.Complete(t.Context(), []byte{1}); !errors.Is(err, lease.ErrAbandoned) {
		t.Errorf("Complete after Abandon = %v, want ErrAbandoned", err)
	}
	if got := mustGet(t, m, key); got.Revision != e.Revision {
		t.Errorf("Complete after Abandon wrote revision %d", got.Revision)
	}
	// Same second, other node: the tombstone is stealable at once.
	if _, err := b.TryAcquire(t.Context(), ttl); err != nil {
		t.Fatalf("TryAcquire after Abandon = %v, want a win", err)
	}
}

func TestAbandonFailureIsLogged(t *testing.T) {
	cs, _ := newCallStore(nil)
	var logs logBuffer
	g, err := newLease(t, cs, key, "node-a", lease.WithLogger(logs.logger())).TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	boom := errors.New("network down")
	cs.set(func(s *callStore) { s.updateErr = boom })
	g.Abandon(t.Context())
	if !containsAll(logs.String(), "abandon failed", "network down") {
		t.Errorf("failed Abandon logged %q, want the failure", logs.String())
	}
	if err := g.Complete(t.Context(), nil); !errors.Is(err, lease.ErrAbandoned) {
		t.Errorf("Complete after a failed Abandon = %v, want ErrAbandoned", err)
	}
}

func TestTTLUnderOneSecondRejected(t *testing.T) {
	m := memory.New()
	l := newLease(t, m, key, "node-a")
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, 999 * time.Millisecond} {
		if g, err := l.TryAcquire(t.Context(), d); !errors.Is(err, lease.ErrInvalidTTL) || g != nil {
			t.Errorf("TryAcquire(ttl %v) = %v, %v; want nil, ErrInvalidTTL", d, g, err)
		}
	}
	if _, err := m.Get(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("a rejected ttl wrote the store: Get = %v", err)
	}
	g, err := l.TryAcquire(t.Context(), 1999*time.Millisecond)
	if err != nil {
		t.Fatalf("TryAcquire(1.999s) = %v", err)
	}
	if r := g.Record(); r.ExpiresAtUnix-r.AcquiredAtUnix != 1 {
		t.Errorf("ttl 1.999s gave a period of %d s, want floor = 1", r.ExpiresAtUnix-r.AcquiredAtUnix)
	}
}

func TestPreEpochClock(t *testing.T) {
	m := memory.New()
	clk := newClock(-1_000_000)
	g, err := newLease(t, m, key, "node-a", lease.WithClock(clk.Now)).TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	want := `{"holder_id":"node-a","acquired_at_unix":0,"expires_at_unix":300}`
	if got := string(mustGet(t, m, key).Value); got != want {
		t.Errorf("pre-epoch record = %s, want %s", got, want)
	}
	if g.Record().AcquiredAtUnix != 0 {
		t.Errorf("guard record %+v, want acquired 0", g.Record())
	}
}

// TestTTLOverTheSkewCapRejected checks a ttl every viewer would flag
// skewed (over a day) is refused before anything is written.
func TestTTLOverTheSkewCapRejected(t *testing.T) {
	m := memory.New()
	l := newLease(t, m, key, "node-a", lease.WithClock(newClock(t0).Now))
	for _, d := range []time.Duration{lease.MaxTTL + time.Second, 1752000 * time.Hour, time.Duration(1<<63 - 1)} {
		if g, err := l.TryAcquire(t.Context(), d); !errors.Is(err, lease.ErrInvalidTTL) || g != nil {
			t.Errorf("TryAcquire(ttl %v) = %v, %v; want nil, ErrInvalidTTL", d, g, err)
		}
	}
	if _, err := m.Get(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("a rejected ttl wrote the store: Get = %v", err)
	}
	g, err := l.TryAcquire(t.Context(), lease.MaxTTL)
	if err != nil {
		t.Fatalf("TryAcquire(MaxTTL) = %v", err)
	}
	if r := g.Record(); r.ExpiresAtUnix-r.AcquiredAtUnix != uint64(lease.MaxTTL/time.Second) {
		t.Errorf("ttl %v gave a period of %d s", lease.MaxTTL, r.ExpiresAtUnix-r.AcquiredAtUnix)
	}
	if st := lease.Classify(mustGet(t, m, key).Value, newClock(t0).Now(), lease.DefaultThresholds()); st.Flags.Has(lease.Skewed) {
		t.Errorf("a lease of MaxTTL is flagged skewed: %+v", st)
	}
}

// TestClockSampledOnce checks the record's times come from one reading,
// before any store call.
func TestClockSampledOnce(t *testing.T) {
	log := &events{}
	cs, _ := newCallStore(log)
	var reads int
	now := func() time.Time {
		log.add("clock")
		reads++
		return time.Unix(t0+int64(reads), 0)
	}
	g, err := newLease(t, cs, key, "node-a", lease.WithClock(now)).TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	if got, want := log.all(), []string{"clock", "create " + key}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if r := g.Record(); r.AcquiredAtUnix != t0+1 || r.ExpiresAtUnix != t0+301 {
		t.Errorf("record %+v, want acquired %d expires %d", r, t0+1, t0+301)
	}
}

// TestExistsErrorSavesARead checks that the entry a driver returns inside
// *stores.ExistsError is used instead of a Get, and that a driver without it
// gets the Get.
func TestExistsErrorSavesARead(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			log := &events{}
			cs, m := newCallStore(log)
			cs.set(func(s *callStore) { s.plainExists = plain })
			mustCreate(t, m, key, []byte{})
			clk := newClock(t0)
			if _, err := newLease(t, cs, key, "node-a", lease.WithClock(clk.Now)).TryAcquire(t.Context(), ttl); err != nil {
				t.Fatalf("TryAcquire = %v", err)
			}
			want := []string{"create " + key, "update " + key + "@1"}
			if plain {
				want = []string{"create " + key, "get " + key, "update " + key + "@1"}
			}
			if got := log.all(); !reflect.DeepEqual(got, want) {
				t.Errorf("calls = %q, want %q", got, want)
			}
		})
	}
}

func TestStoreErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		plant []byte
		fault func(s *callStore)
		is    error
	}{
		{"create fails", nil, func(s *callStore) { s.createErr = boom }, boom},
		{"read fails", []byte{}, func(s *callStore) { s.plainExists, s.getErr = true, boom }, boom},
		{"update fails", []byte{}, func(s *callStore) { s.updateErr = boom }, boom},
		{"key vanished before the read", []byte{}, func(s *callStore) {
			s.plainExists, s.getErr = true, fmt.Errorf("gone: %w", stores.ErrNotFound)
		}, lease.ErrHeld},
		{"update finds it gone", []byte{}, func(s *callStore) { s.updateErr = fmt.Errorf("x: %w", stores.ErrNotFound) }, lease.ErrHeld},
		{"update conflicts", []byte{}, func(s *callStore) { s.updateErr = fmt.Errorf("x: %w", stores.ErrConflict) }, lease.ErrHeld},
		{"update finds it re-created", []byte{}, func(s *callStore) { s.updateErr = fmt.Errorf("x: %w", stores.ErrExists) }, lease.ErrHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, m := newCallStore(nil)
			if tt.plant != nil {
				mustCreate(t, m, key, tt.plant)
			}
			cs.set(tt.fault)
			g, err := newLease(t, cs, key, "node-a").TryAcquire(t.Context(), ttl)
			if g != nil || !errors.Is(err, tt.is) {
				t.Fatalf("TryAcquire = %v, %v; want nil and an error matching %v", g, err, tt.is)
			}
			if tt.is == boom && errors.Is(err, lease.ErrHeld) {
				t.Errorf("TryAcquire = %v: a store failure must not read as a lost round", err)
			}
		})
	}
}

func TestCompleteStoreError(t *testing.T) {
	cs, _ := newCallStore(nil)
	g, err := newLease(t, cs, key, "node-a").TryAcquire(t.Context(), ttl)
	if err != nil {
		t.Fatalf("TryAcquire = %v", err)
	}
	rev := g.Revision()
	boom := errors.New("boom")
	cs.set(func(s *callStore) { s.updateErr = boom })
	if err := g.Complete(t.Context(), []byte{1}); !errors.Is(err, boom) {
		t.Errorf("Complete with a failing store = %v, want %v", err, boom)
	}
	if g.Revision() != rev || g.Record().Completed() {
		t.Errorf("a failed Complete changed the guard: revision %d, record %+v", g.Revision(), g.Record())
	}
}

func TestCanceledContext(t *testing.T) {
	m := memory.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	g, err := newLease(t, m, key, "node-a").TryAcquire(ctx, ttl)
	if g != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("TryAcquire(canceled) = %v, %v; want context.Canceled", g, err)
	}
}
