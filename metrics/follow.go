package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// item is what a follower keeps of one key: its latest entry and what
// earlier records of the key said (the completion and the period only for
// a store with per-lease series).
type item struct {
	entry stores.Entry
	// record reports that entry holds a valid lease record.
	record bool
	// prev is the newest valid record the key held before entry, when
	// entry is a tombstone or corrupt: lease.AssessHistory judges such a
	// key by it, so that a fleet that released its round and stopped is
	// overdue too. Nil otherwise, or when this process never saw one.
	prev []byte
	// completedAt is the newest completed_at_unix seen for the key, in
	// this record or an earlier one; 0 for none.
	completedAt uint64
	// period is the period of the newest valid record seen for the key,
	// so that a key released to a tombstone keeps its period; 0 for none.
	period time.Duration
}

// follower follows one store: through its watch when it has one, else by
// listing it every poll interval. It keeps the latest entry of every key
// for Collect, which classifies them at the scrape's clock.
type follower struct {
	conf Store
	opts *options

	mu sync.Mutex
	// items is the data published to scrapes: the latest complete view.
	items map[string]item
	// staging gathers a snapshot (the first, or one after EventReset or a
	// restarted watch) until EventSynced, while items still holds the
	// previous view; nil when no snapshot is being gathered.
	staging map[string]item
	// live reports that items is known current: the watch has synced and
	// nothing but changes arrived since (a poll: the last List succeeded).
	live bool
	// polled reports that the store has no watch and is listed instead.
	polled bool
	// current is when items was last known current: the moment a watch
	// stopped being live, or the start of the last successful List. Zero
	// until the first snapshot.
	current time.Time
	// started is when the collector began following the store.
	started time.Time
	// errors counts failures: opening the store, starting a watch, a
	// watch's EventError or end, a failed List.
	errors uint64
	// lastEvent is when the watch last sent anything.
	lastEvent time.Time
	// lastErr is the last failure, for the log of transitions.
	lastErr error
	// limited is whether the last scrape left out the per-lease series
	// for the per-lease limit, for the log of transitions.
	limited bool
}

func newFollower(conf Store, o *options) *follower {
	return &follower{conf: conf, opts: o, items: map[string]item{}}
}

// run follows the store until ctx ends: it opens the store (again after
// every failure), then watches or polls it. It closes what it opened.
func (f *follower) run(ctx context.Context) {
	var st stores.Store
	var closeFn func() error
	for delay := f.opts.retryMin; st == nil; delay = min(2*delay, f.opts.retryMax) {
		octx, cancel := context.WithTimeout(ctx, f.opts.callTimeout)
		s, c, err := f.conf.Open(octx)
		cancel()
		if err == nil && s == nil {
			err = errors.New("no store and no error")
		}
		if err == nil {
			st, closeFn = s, c
			break
		}
		if ctx.Err() != nil {
			return
		}
		f.fail(fmt.Errorf("open: %w", err))
		if !sleep(ctx, delay) {
			return
		}
	}
	if closeFn != nil {
		defer f.close(closeFn)
	}
	if w, ok := stores.AsWatcher(st); ok {
		f.watch(ctx, w)
		return
	}
	f.poll(ctx, st)
}

// close closes the store, waiting at most the call timeout: closing is a
// store call too (NATS drains its connection), and a store that stalls
// must not keep the process from stopping; a close still running is
// abandoned.
func (f *follower) close(closeFn func() error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		closeFn()
	}()
	t := time.NewTimer(f.opts.callTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail records a failure: the data stops being live.
func (f *follower) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLocked(err)
}

func (f *follower) failLocked(err error) {
	f.errors++
	if f.live && !f.polled {
		f.current = f.opts.now()
	}
	if f.live || f.lastErr == nil {
		// The first failure since the store was last current (or since
		// the start): later ones, while it stays down, are only counted.
		f.opts.log(fmt.Sprintf("store %s: not current: %v", f.conf.Name, err))
	}
	f.live, f.lastErr = false, err
}

// errWatchEnded is the failure of a watch whose channel closed while the
// collector still follows the store (a closed connection).
var errWatchEnded = errors.New("the watch ended")

// errQuiet is the failure that restarts a watch which reported an error
// and has been silent for a poll interval since.
var errQuiet = errors.New("no news since the watch's error: restarting it")

// watch follows w: one watch at a time, started again (with a fresh
// snapshot) when it ends, fails to start, or stays silent for a poll
// interval after reporting an error — a NATS watch that resumed exactly
// says nothing until the next change, and a new snapshot is the one sure
// sign that the store answers again.
func (f *follower) watch(ctx context.Context, w stores.Watcher) {
	for delay := f.opts.retryMin; ctx.Err() == nil; {
		wctx, cancel := context.WithCancel(ctx)
		ch, err := w.Watch(wctx, f.conf.Prefix)
		if err != nil {
			cancel()
			f.fail(fmt.Errorf("watch: %w", err))
			if !sleep(ctx, delay) {
				return
			}
			delay = min(2*delay, f.opts.retryMax)
			continue
		}
		f.mu.Lock()
		f.staging = map[string]item{}
		f.lastEvent = f.opts.now()
		f.mu.Unlock()
		synced := f.follow(ctx, ch)
		cancel()
		for range ch { // drain: the driver closes it once wctx ends
		}
		if ctx.Err() != nil {
			return
		}
		if synced {
			delay = f.opts.retryMin
		}
		if !sleep(ctx, delay) {
			return
		}
		delay = min(2*delay, f.opts.retryMax)
	}
}

// follow applies the events of one watch until it ends, ctx ends, or it
// must be restarted; it reports whether the watch ever synced.
func (f *follower) follow(ctx context.Context, ch <-chan stores.Event) (synced bool) {
	check := time.NewTicker(f.opts.poll)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return synced
		case <-check.C:
			f.mu.Lock()
			quiet := !f.live && f.lastErr != nil && f.opts.now().Sub(f.lastEvent) >= f.opts.poll
			if quiet {
				f.failLocked(errQuiet)
			}
			f.mu.Unlock()
			if quiet {
				return synced
			}
		case ev, ok := <-ch:
			if !ok {
				f.fail(errWatchEnded)
				return synced
			}
			if f.apply(ev) {
				synced = true
			}
		}
	}
}

// apply applies one watch event; it reports whether it was EventSynced.
func (f *follower) apply(ev stores.Event) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastEvent = f.opts.now()
	switch ev.Kind {
	case stores.EventPut, stores.EventDelete:
		m := f.staging
		if m == nil {
			m = f.items
			if !f.live {
				// A watch that resumed exactly after an error: its changes
				// are news from a store that answers again.
				f.live, f.lastErr = true, nil
				f.opts.log(fmt.Sprintf("store %s: current again", f.conf.Name))
			}
		}
		if ev.Kind == stores.EventPut {
			m[ev.Entry.Key] = f.update(m[ev.Entry.Key], ev.Entry)
		} else {
			delete(m, ev.Entry.Key)
		}
	case stores.EventSynced:
		if f.staging != nil {
			// What earlier records said of a key outlives a new snapshot.
			for k, it := range f.staging {
				if old, ok := f.items[k]; ok {
					f.staging[k] = it.after(old)
				}
			}
			f.items, f.staging = f.staging, nil
		}
		if !f.live && f.lastErr != nil {
			f.opts.log(fmt.Sprintf("store %s: current again", f.conf.Name))
		}
		f.live = true
		f.lastErr = nil
	case stores.EventReset:
		f.failLocked(errors.New("the watch lost its place; a new snapshot follows"))
		f.staging = map[string]item{}
	case stores.EventError:
		f.failLocked(ev.Err)
	}
	return ev.Kind == stores.EventSynced
}

// update returns what to keep of a key whose latest entry is e, given
// what was kept of it before.
func (f *follower) update(old item, e stores.Entry) item {
	it := item{entry: e}
	if len(e.Value) > 0 {
		if r, err := lease.Decode(e.Value); err == nil {
			it.record = true
			if f.conf.PerLease {
				if r.CompletedAtUnix != nil {
					it.completedAt = *r.CompletedAtUnix
				}
				// The period does not depend on the clock.
				it.period = lease.Assess(r, time.Time{}, f.opts.thresholds).Period
			}
		}
	}
	return it.after(old)
}

// after returns it, the latest of a key, with what old, kept of the key
// before, adds: the newest completion, the last known period, and the
// record before a tombstone or a corrupt value.
func (it item) after(old item) item {
	it.completedAt = max(it.completedAt, old.completedAt)
	if it.period == 0 {
		it.period = old.period
	}
	switch {
	case it.record:
		it.prev = nil
	case old.record:
		it.prev = old.entry.Value
	case it.prev == nil:
		it.prev = old.prev
	}
	return it
}

// poll lists the store every poll interval, for a store without a watch.
func (f *follower) poll(ctx context.Context, st stores.Store) {
	f.mu.Lock()
	f.polled = true
	f.mu.Unlock()
	for {
		start := f.opts.now()
		lctx, cancel := context.WithTimeout(ctx, f.opts.callTimeout)
		list, err := st.List(lctx, f.conf.Prefix)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.fail(fmt.Errorf("list: %w", err))
		} else {
			f.mu.Lock()
			old := f.items
			f.items = make(map[string]item, len(list))
			for _, e := range list {
				f.items[e.Key] = f.update(old[e.Key], e)
			}
			if !f.live && f.lastErr != nil {
				f.opts.log(fmt.Sprintf("store %s: current again", f.conf.Name))
			}
			f.live, f.lastErr, f.current = true, nil, start
			f.mu.Unlock()
		}
		if !sleep(ctx, f.opts.poll) {
			return
		}
	}
}

// dataAgeLocked is how long ago the data was last known current at now: 0 while
// a watch is live; since the last successful List for a polled store;
// since the collector started following the store before its first
// snapshot.
func (f *follower) dataAgeLocked(now time.Time) time.Duration {
	switch {
	case f.live && !f.polled:
		return 0
	case f.current.IsZero():
		return max(0, now.Sub(f.started))
	}
	return max(0, now.Sub(f.current))
}
