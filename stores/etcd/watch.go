package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores"
)

const (
	// watchBuffer lets a snapshot flow while the consumer renders; every
	// send still gives up when the watch's context ends.
	watchBuffer = 64

	// watchAttemptTimeout bounds one snapshot attempt, so that a store that
	// stays down is reported again at least this often.
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
// Failures never end the watch. A lost connection to the cluster, a stream
// canceled by the server (no leader, auth revoked) or any other stream
// failure is sent as EventError; the driver then retries with back-off
// until a fresh snapshot succeeds, and sends it as EventReset, EventPut…,
// EventSynced. So every EventError is followed, once the store is healthy
// again, by EventSynced: a consumer can show "stale" from one to the other.
// A position lost to compaction resyncs the same way without an EventError.
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
}

func (w *watch) run(ctx context.Context) {
	defer close(w.out)
	delay := retryMin
	holding := false // the consumer holds a snapshot that a new one replaces
	for ctx.Err() == nil {
		entries, rev, err := w.snapshot(ctx)
		if err != nil {
			if ctx.Err() != nil || !w.retry(ctx, err, &delay) {
				return
			}
			continue
		}
		if holding && !w.send(ctx, stores.Event{Kind: stores.EventReset}) {
			return
		}
		for _, e := range entries {
			if !w.send(ctx, stores.Event{Kind: stores.EventPut, Entry: e}) {
				return
			}
		}
		if !w.send(ctx, stores.Event{Kind: stores.EventSynced}) {
			return
		}
		holding = true
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

// snapshot lists the prefix for a (re)start. It gives up at once when the
// connection is failing, rather than waiting for it until the attempt times
// out, so that a consumer learns quickly that the store is unreachable.
func (w *watch) snapshot(ctx context.Context) ([]stores.Entry, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, watchAttemptTimeout)
	defer cancel()
	var lost atomic.Bool
	go watchConn(ctx, w.s.cli.ActiveConnection(), func() {
		lost.Store(true)
		cancel()
	})
	entries, rev, err := w.s.list(ctx, w.prefix)
	if err != nil && lost.Load() {
		err = unreachable(w.s.cli)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: watch %q: %w", w.prefix, err)
	}
	return entries, rev, nil
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
