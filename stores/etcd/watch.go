package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores"
)

const (
	// watchBuffer lets a snapshot flow while the consumer renders; every
	// send still gives up when the watch's context ends.
	watchBuffer = 64

	// watchAttemptTimeout bounds each round trip of a snapshot (one page),
	// so that a store that stays down is reported again at least this
	// often. The time the consumer takes to receive a page does not count.
	watchAttemptTimeout = 10 * time.Second

	// retryMin and retryMax bound the pause between two attempts after a
	// failure: quick after a blip, one attempt every few seconds while a
	// store is down.
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// errResync means the change stream cannot continue from where it was (the
// revision was compacted away); a fresh snapshot follows without an error.
var errResync = errors.New("etcd: watch position compacted")

// Watch streams the keys under prefix (every key for ""): a snapshot at one
// revision as EventPut events, sorted by key, then EventSynced, then every
// change after that revision (EventPut with the new mod_revision,
// EventDelete with the deleting revision). The channel is closed when ctx
// ends or the store's client is closed.
//
// The snapshot is read in pages (WithPageSize) at the first page's
// revision, and each page's events are sent as soon as it arrives, while
// the next page is read: a consumer sees the first keys after one round
// trip, not after the whole listing, and the driver holds two pages at
// most, not the whole snapshot. Pages come in key order, so the events do.
//
// Failures never end the watch. A lost connection to the cluster, a stream
// canceled by the server (no leader, auth revoked) or any other stream
// failure is sent as EventError; the driver then retries with back-off
// until a fresh snapshot succeeds, and sends it as EventReset, EventPut…,
// EventSynced. So every EventError is followed, once the store is healthy
// again, by EventSynced: a consumer can show "stale" from one to the other.
// A position lost to compaction — between two pages of a snapshot, or
// between the snapshot and the change stream — resyncs the same way
// without an EventError. A consumer may thus have seen part of a snapshot
// when EventReset comes.
//
// Watch returns an error only if the client is already closed.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	if err := s.cli.Ctx().Err(); err != nil {
		return nil, fmt.Errorf("etcd: watch %q: client closed: %w", prefix, err)
	}
	out := make(chan stores.Event, watchBuffer)
	w := &watch{s: s, prefix: prefix, out: out}
	w.start, w.end = prefixRange(prefix)
	go w.run(ctx)
	return out, nil
}

// watch is one Watch call's state, owned by its goroutine.
type watch struct {
	s          *Store
	prefix     string
	start, end string
	out        chan<- stores.Event
	// holding is set once the consumer holds events of a snapshot, which
	// a new snapshot must replace: it then begins with EventReset.
	holding bool
}

func (w *watch) run(ctx context.Context) {
	defer close(w.out)
	delay := retryMin
	for ctx.Err() == nil {
		rev, err := w.snapshot(ctx)
		if err != nil {
			if ctx.Err() != nil || !w.retry(ctx, err, &delay) {
				return
			}
			continue
		}
		if w.s.afterSnapshot != nil {
			w.s.afterSnapshot()
		}

		began := time.Now()
		err = w.follow(ctx, rev)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errResync):
			continue
		case w.s.cli.Ctx().Err() != nil:
			w.send(ctx, stores.Event{Kind: stores.EventError, Err: fmt.Errorf("etcd: watch %q: client closed", w.prefix)})
			return
		}
		if time.Since(began) > retryMax {
			delay = retryMin // it was healthy for a while: this is a new incident
		}
		if !w.retry(ctx, err, &delay) {
			return
		}
	}
}

// snapshot sends the keys under the prefix and EventSynced (see Watch) and
// returns the revision they were read at. When a compaction overtakes that
// revision between two pages, it starts over at once, at most listAttempts
// times in all, as List does.
func (w *watch) snapshot(ctx context.Context) (int64, error) {
	for attempt := 1; ; attempt++ {
		rev, err := w.snapshotOnce(ctx)
		if err == nil || attempt == listAttempts || ctx.Err() != nil || !errors.Is(err, rpctypes.ErrCompacted) {
			return rev, err
		}
	}
}

// page is one page of a snapshot, or why it could not be read.
type page struct {
	kvs  []*mvccpb.KeyValue
	rev  int64
	last bool
	err  error
}

// snapshotOnce reads the prefix page by page and sends each page's events
// as it arrives, EventReset first if the consumer holds an earlier
// snapshot, and EventSynced after the last. It gives up at once when the
// connection is failing, rather than waiting for it until a page's time-out
// runs out, so that a consumer learns quickly that the store is unreachable.
func (w *watch) snapshotOnce(ctx context.Context) (int64, error) {
	readCtx, cancel := context.WithCancel(ctx)
	var lost atomic.Bool
	go watchConn(readCtx, w.s.cli.ActiveConnection(), func() {
		lost.Store(true)
		cancel()
	})
	pages := make(chan page) // unbuffered: one page read ahead, no more
	read := make(chan struct{})
	go func() {
		defer close(read)
		w.readPages(readCtx, pages)
	}()
	defer func() {
		cancel()
		<-read
	}()
	fail := func(err error) (int64, error) {
		if lost.Load() {
			err = unreachable(w.s.cli)
		}
		return 0, fmt.Errorf("etcd: watch %q: %w", w.prefix, err)
	}

	var rev int64
	for p := range pages {
		if p.err != nil {
			return fail(p.err)
		}
		if rev == 0 {
			rev = p.rev
			if w.holding && !w.send(ctx, stores.Event{Kind: stores.EventReset}) {
				return 0, ctx.Err()
			}
		}
		for _, kv := range p.kvs {
			if !w.send(ctx, stores.Event{Kind: stores.EventPut, Entry: entry(kv)}) {
				return 0, ctx.Err()
			}
			w.holding = true
		}
		if p.last {
			if !w.send(ctx, stores.Event{Kind: stores.EventSynced}) {
				return 0, ctx.Err()
			}
			w.holding = true
			return rev, nil
		}
	}
	// The reading ended before the last page: its context ended (the
	// connection was lost, or the watch ends).
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return fail(context.Cause(readCtx))
}

// readPages reads the prefix a page at a time, each page a round trip
// bounded by watchAttemptTimeout, all at the first page's revision, and
// hands each to out until the last (marked), a failure, or ctx's end. It
// closes out.
func (w *watch) readPages(ctx context.Context, out chan<- page) {
	defer close(out)
	key := w.start
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(w.end), clientv3.WithLimit(w.s.pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		pctx, cancel := context.WithTimeout(ctx, watchAttemptTimeout)
		resp, err := w.s.cli.Get(pctx, key, opts...)
		cancel()
		p := page{err: err}
		if err == nil {
			if rev == 0 {
				rev = resp.Header.Revision
			}
			p.kvs, p.rev = resp.Kvs, rev
			p.last = !resp.More || len(resp.Kvs) == 0
		}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
		if err != nil || p.last {
			return
		}
		// The next page starts right after the last key of this one.
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// retry reports err and waits before the next attempt, doubling delay. It
// returns false when ctx ended or the client is closed.
func (w *watch) retry(ctx context.Context, err error, delay *time.Duration) bool {
	if w.s.cli.Ctx().Err() != nil {
		err = fmt.Errorf("etcd: watch %q: client closed", w.prefix)
		w.send(ctx, stores.Event{Kind: stores.EventError, Err: err})
		return false
	}
	if !w.send(ctx, stores.Event{Kind: stores.EventError, Err: err}) {
		return false
	}
	t := time.NewTimer(*delay)
	defer t.Stop()
	*delay = min(*delay*2, retryMax)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// follow streams changes after revision rev until something goes wrong. It
// returns errResync when the position was compacted away, ctx's error when
// ctx ended, and a descriptive error otherwise.
func (w *watch) follow(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	go watchConn(ctx, w.s.cli.ActiveConnection(), func() { close(lost) })

	// Require a leader: a member cut off from its cluster cancels the
	// stream instead of silently serving nothing.
	wch := w.s.cli.Watch(clientv3.WithRequireLeader(ctx), w.start,
		clientv3.WithRange(w.end), clientv3.WithRev(rev+1))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			return fmt.Errorf("etcd: watch %q: %w", w.prefix, unreachable(w.s.cli))
		case resp, ok := <-wch:
			if !ok {
				return fmt.Errorf("etcd: watch %q: stream closed", w.prefix)
			}
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) {
					return errResync
				}
				return fmt.Errorf("etcd: watch %q: %w", w.prefix, err)
			}
			for _, ev := range resp.Events {
				if !w.send(ctx, event(ev)) {
					return ctx.Err()
				}
			}
		}
	}
}

// send delivers ev unless ctx ends first, so a consumer that went away never
// blocks the goroutine.
func (w *watch) send(ctx context.Context, ev stores.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func event(ev *clientv3.Event) stores.Event {
	if ev.Type == clientv3.EventTypeDelete {
		return stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{
			Key:      string(ev.Kv.Key),
			Revision: uint64(ev.Kv.ModRevision),
		}}
	}
	return stores.Event{Kind: stores.EventPut, Entry: entry(ev.Kv)}
}
