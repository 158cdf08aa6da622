package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

// Fleet is a running demo fleet: one goroutine per replica, until the
// context given to Start ends.
type Fleet struct {
	keys []string
	wg   sync.WaitGroup
}

// Start plants the initial state (Seed) in s and starts the fleet's
// replicas, then returns at once; they run until ctx ends, and Wait waits
// for them. It takes only a memory store: a demo must never write to a real
// one. It fails on an invalid option, or when seeding fails (ctx already
// done, s closed), in which case nothing was started.
func Start(ctx context.Context, s *memory.Store, opts ...Option) (*Fleet, error) {
	if s == nil {
		return nil, errors.New("demo: nil store")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := seed(ctx, s, c); err != nil {
		return nil, err
	}
	var replicas []*replica
	for fi := range folds {
		f := &folds[fi]
		src := &source{rate: f.rate}
		for i := range f.replicas {
			id := f.replica(i)
			log := c.logger.With("key", f.key, "replica", id)
			l, err := lease.New(s, f.key, id, lease.WithClock(f.clock(id, c.now)), lease.WithLogger(log))
			if err != nil {
				return nil, fmt.Errorf("demo: replica %s: %w", id, err)
			}
			replicas = append(replicas, &replica{
				id:      id,
				period:  f.period,
				crashes: id == f.crasher,
				lease:   l,
				src:     src,
				now:     c.now,
				rng:     rand.New(rand.NewPCG(c.seed, uint64(fi)<<32|uint64(i))),
				log:     log,
			})
		}
	}
	fl := &Fleet{keys: keys()}
	for _, r := range replicas {
		fl.wg.Go(func() { r.run(ctx) })
	}
	return fl, nil
}

// Keys returns every key the demo manages, sorted, including the corrupt key
// that no replica runs on.
func (f *Fleet) Keys() []string { return append([]string(nil), f.keys...) }

// Wait blocks until every replica has stopped, after the context given to
// Start has ended.
func (f *Fleet) Wait() { f.wg.Wait() }

// replica is one member of a fold.
type replica struct {
	id      string
	period  time.Duration
	crashes bool
	lease   *lease.Lease
	src     *source
	now     func() time.Time // the base clock, for the source's head
	rng     *rand.Rand
	log     *slog.Logger
}

// run triggers about once per period until ctx ends. The schedule does not
// drift with the work: like a cron job, the next trigger is due one
// (jittered) period after the last one.
func (r *replica) run(ctx context.Context) {
	next := time.Now().Add(r.share(0, 1))
	wins := 0
	for {
		if !sleep(ctx, time.Until(next)) {
			return
		}
		next = next.Add(r.share(1-jitter, 1+jitter))
		g, err := r.lease.TryAcquire(ctx, r.period)
		switch {
		case errors.Is(err, lease.ErrHeld):
			r.log.DebugContext(ctx, "demo: lost the round", "err", err)
			continue
		case err != nil:
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "demo: acquire failed", "err", err)
			}
			continue
		}
		wins++
		rec := g.Record()
		r.log.InfoContext(ctx, "demo: won the round", "acquired_at", rec.AcquiredAtUnix, "expires_at", rec.ExpiresAtUnix)
		cursor := r.src.head(r.now()) // the export covers the stream up to here
		if r.crashes && wins%crashEvery == 1 {
			if !sleep(ctx, r.share(workMin, workMax)/2) {
				return
			}
			r.log.InfoContext(ctx, "demo: replica crashed mid-round; its lease stays held until it expires",
				"expires_at", rec.ExpiresAtUnix)
			next = time.Now().Add(downPeriods * r.period)
			continue
		}
		if !sleep(ctx, r.share(workMin, workMax)) {
			return
		}
		if r.rng.Float64() < abandonRate {
			g.Abandon(ctx)
			r.log.InfoContext(ctx, "demo: job failed; round abandoned")
			continue
		}
		if err := g.Complete(ctx, lease.CursorFromRevision(cursor)); err != nil {
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "demo: complete failed", "err", err)
			}
			continue
		}
		r.log.InfoContext(ctx, "demo: round done", "cursor", cursor)
	}
}

// share returns a random duration between lo and hi periods.
func (r *replica) share(lo, hi float64) time.Duration {
	return time.Duration((lo + (hi-lo)*r.rng.Float64()) * float64(r.period))
}

// sleep waits for d, or until ctx ends; it reports whether ctx is still
// going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return ctx.Err() == nil
	}
}
