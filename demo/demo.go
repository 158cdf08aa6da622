// Package demo is the built-in live demo that the console opens on when there
// is no configuration (docs/design.md §7): an in-memory store with a
// simulated fleet running the real lease core, so that every state and flag
// of the console can be seen within a minute, and operator actions can be
// tried on keys that nobody cares about.
//
// The fleet has five folds, each a lease key with 3–6 replicas. Every replica
// is a goroutine with its own lease.Lease that triggers about once per period
// (8–20 s, jittered), runs TryAcquire with the period as ttl, and when it wins
// "works" for part of the period before Complete with a growing cursor — or,
// about one round in ten, Abandon. Two replicas misbehave on purpose:
//
//   - payments-2 crashes mid-round on its first win and on every third win
//     after that: it never completes nor abandons, so exports/payments stays
//     held until it expires, and another replica takes over on its next
//     trigger while payments-2 is down;
//   - metrics-2's clock runs two minutes ahead, so its records are flagged
//     skewed, and it takes over records that the rest of the fleet still
//     judges live (the premature steal the safety model tolerates).
//
// A sixth key, exports/legacy-billing, holds bytes that are not a valid
// record and no replica runs on it, so the console always shows one corrupt
// key; an operator who takes it over keeps it.
//
// Only the corrupt bytes are written by hand; everything else goes through
// package lease. Timers are the time package's, so the whole simulation runs
// in a testing/synctest bubble; WithSeed makes its choices reproducible.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// StoreName is the name under which the console shows the demo store; the
// console labels it DEMO.
const StoreName = "demo"

const (
	// skewOffset is how far the skewed replica's clock runs ahead: well past
	// lease.DefaultSkewTolerance, so the console flags its records.
	skewOffset = 2 * time.Minute
	// abandonRate is the share of won rounds given up with Abandon: often
	// enough to show a tombstone every minute or two.
	abandonRate = 0.10
	// crashEvery makes the crashing replica crash on its 1st win, then on
	// every crashEvery-th: a crash every few minutes, not every round.
	crashEvery = 3
	// downPeriods is how many periods a crashed replica stays down, so that
	// another replica takes the expired round over.
	downPeriods = 3
	// jitter spreads a replica's trigger interval over period·(1±jitter),
	// so that the winner changes from round to round.
	jitter = 0.15
	// workMin and workMax bound a round's work, as shares of the period:
	// always done before the lease expires, so healthy rounds never overlap.
	workMin, workMax = 0.15, 0.65
)

// corruptKey holds bytes that do not decode (a duplicate field, which Go's
// encoding/json would accept and serde_json rejects); no replica runs on it.
const corruptKey = "exports/legacy-billing"

// scene is the state Seed plants on a fold's key.
type scene int

const (
	// completed: held by replica 1, round already completed.
	completed scene = iota + 1
	// inProgress: held by replica 0, which won two seconds ago.
	inProgress
	// expired: the last round completed and expired five seconds ago.
	expired
	// abandoned: a tombstone.
	abandoned
	// skewedHeld: held by the skewed replica, flagged skewed.
	skewedHeld
)

// fold is one lease key and its replicas.
type fold struct {
	key      string
	name     string // replicas are name-0, name-1, …
	replicas int
	period   time.Duration // trigger interval and ttl
	rate     float64       // the source's events per second, for cursors
	crasher  string        // the replica that crashes mid-round, if any
	skewed   string        // the replica whose clock runs ahead, if any
	seed     scene
}

// folds is the simulated fleet.
var folds = []fold{
	{key: "exports/orders", name: "orders", replicas: 4, period: 10 * time.Second, rate: 120, seed: completed},
	{key: "exports/payments", name: "payments", replicas: 3, period: 12 * time.Second, rate: 35, crasher: "payments-2", seed: inProgress},
	{key: "exports/search-index", name: "search-index", replicas: 5, period: 15 * time.Second, rate: 900, seed: expired},
	{key: "exports/audit-trail", name: "audit-trail", replicas: 6, period: 20 * time.Second, rate: 8, seed: abandoned},
	{key: "exports/metrics", name: "metrics", replicas: 3, period: 8 * time.Second, rate: 2500, skewed: "metrics-2", seed: skewedHeld},
}

func (f *fold) replica(i int) string { return f.name + "-" + strconv.Itoa(i) }

// clock returns the clock of replica id: the base clock, or the base clock
// plus skewOffset for the skewed replica.
func (f *fold) clock(id string, base func() time.Time) func() time.Time {
	if id != f.skewed {
		return base
	}
	return func() time.Time { return base().Add(skewOffset) }
}

// keys returns every key the demo manages, sorted.
func keys() []string {
	k := []string{corruptKey}
	for _, f := range folds {
		k = append(k, f.key)
	}
	slices.Sort(k)
	return k
}

// source is a fold's simulated upstream stream: its head, the cursor a round
// exports up to, is rate × seconds since the Unix epoch by the base clock —
// so Seed and Start agree without sharing state — and grows with every read.
type source struct {
	rate float64

	mu   sync.Mutex
	last uint64
}

// head returns the stream position at now, greater than any it returned
// before.
func (s *source) head(now time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := uint64(0)
	if ms := now.UnixMilli(); ms > 0 {
		pos = uint64(float64(ms) / 1000 * s.rate)
	}
	s.last = max(s.last+1, pos)
	return s.last
}

// config is what the options set.
type config struct {
	now    func() time.Time
	seed   uint64
	logger *slog.Logger
}

// Option configures Start and Seed.
type Option func(*config) error

// WithClock makes the replicas read the wall clock from now instead of
// time.Now (the skewed replica adds its offset). It only dates the records:
// the fleet's timers always run on the time package.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("demo: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithSeed makes the fleet's random choices (trigger jitter, work time,
// abandons) reproducible: each replica draws from its own generator derived
// from seed. By default the seed is random.
func WithSeed(seed int64) Option {
	return func(c *config) error {
		c.seed = uint64(seed)
		return nil
	}
}

// WithLogger makes the fleet and its leases log to logger (wins, completions,
// abandons, crashes, lost rounds at debug level). By default nothing is
// logged: the console owns the terminal.
func WithLogger(logger *slog.Logger) Option {
	return func(c *config) error {
		if logger == nil {
			return errors.New("demo: WithLogger: nil logger")
		}
		c.logger = logger
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{now: time.Now, seed: rand.Uint64(), logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// Seed plants the demo's initial state in s, so that a snapshot shows every
// state at once: exports/orders held and completed, exports/payments held
// with its round in progress, exports/search-index expired,
// exports/audit-trail a tombstone, exports/metrics held and skewed, and
// exports/legacy-billing corrupt. Records are written through package lease
// at the clock of WithClock; other options are ignored. Keys that already
// exist are left alone, so Seed may be called again. Start calls it.
func Seed(ctx context.Context, s stores.Store, opts ...Option) error {
	if s == nil {
		return errors.New("demo: nil store")
	}
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	return seed(ctx, s, c)
}

func seed(ctx context.Context, s stores.Store, c config) error {
	now := c.now()
	for i := range folds {
		if err := plant(ctx, s, &folds[i], now, c.logger); err != nil {
			return err
		}
	}
	// Three days old, from a job long gone: nobody will ever take it over
	// but an operator.
	at := lease.UnixSeconds(now.Add(-72 * time.Hour))
	corrupt := fmt.Appendf(nil, `{"holder_id":"billing-7","acquired_at_unix":%d,"expires_at_unix":%d,"holder_id":"billing-9"}`, at, at+300)
	if _, err := s.Create(ctx, corruptKey, corrupt); err != nil && !errors.Is(err, stores.ErrExists) {
		return fmt.Errorf("demo: seed %q: %w", corruptKey, err)
	}
	return nil
}

// plant writes f's initial scene through the lease core, unless f's key
// exists.
func plant(ctx context.Context, s stores.Store, f *fold, now time.Time, logger *slog.Logger) error {
	_, err := s.Get(ctx, f.key)
	switch {
	case err == nil:
		return nil // keep what is there: an earlier run, an operator
	case !errors.Is(err, stores.ErrNotFound):
		return fmt.Errorf("demo: seed %q: %w", f.key, err)
	}
	holder, ago := f.replica(0), 2*time.Second
	switch f.seed {
	case completed:
		holder, ago = f.replica(1), f.period/3
	case expired:
		ago = f.period + 5*time.Second
	case abandoned:
		holder, ago = f.replica(1), f.period/2
	case skewedHeld:
		holder, ago = f.skewed, 2*time.Second
	}
	at := now.Add(-ago)
	clock := f.clock(holder, func() time.Time { return at })
	l, err := lease.New(s, f.key, holder, lease.WithClock(clock), lease.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("demo: seed %q: %w", f.key, err)
	}
	g, err := l.TryAcquire(ctx, f.period)
	switch {
	case errors.Is(err, lease.ErrHeld):
		return nil // someone wrote the key since we looked: theirs
	case err != nil:
		return fmt.Errorf("demo: seed %q: %w", f.key, err)
	}
	switch f.seed {
	case completed, expired:
		src := source{rate: f.rate}
		cursor := src.head(at)
		at = at.Add(f.period / 2)
		if f.seed == completed {
			at = now.Add(-time.Second)
		}
		if err := g.Complete(ctx, lease.CursorFromRevision(cursor)); err != nil {
			return fmt.Errorf("demo: seed %q: %w", f.key, err)
		}
	case abandoned:
		g.Abandon(ctx)
	}
	return nil
}
