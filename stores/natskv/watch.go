package natskv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
)

// catchUpTimeout bounds the wait, after the watcher's "initial values done"
// marker, for the consumer to reach the barrier sequence. A consumer on a
// follower lags by a replication round, milliseconds; the bound only matters
// when the barrier message expired (a TTL without a marker) before it was
// delivered, which would otherwise hold the snapshot forever.
const catchUpTimeout = 2 * time.Second

// errWatchEnded reports that the ordered consumer behind a watch went away
// for good (nats.go recreates it itself after disconnects; this is what is
// left when it could not).
var errWatchEnded = errors.New("natskv: the watch's consumer ended")

// subjectFilter returns the key filter for the keys under prefix, and false
// when no valid key can start with prefix. NATS subjects split into tokens
// at '.', and '/' is an ordinary character, so only the tokens of prefix up
// to its last '.' can filter on the server ("a.b" → "a.>"); the rest of the
// prefix is checked on the client.
func subjectFilter(prefix string) (string, bool) {
	if prefix == "" {
		return jetstream.AllKeys, true
	}
	if prefix[0] == '.' || strings.Contains(prefix, "..") {
		return "", false
	}
	for _, r := range prefix {
		if !keyRune(r) {
			return "", false
		}
	}
	i := strings.LastIndexByte(prefix, '.')
	if i < 0 {
		return jetstream.AllKeys, true
	}
	return prefix[:i+1] + jetstream.AllKeys, true
}

// watch is a nats.go KeyValue watcher with the context that bounds it and
// the sequence its snapshot must reach.
type watch struct {
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
	// barrier is the stream's last sequence under the filter, read from the
	// leader before the watcher started. An ordered consumer may be placed
	// on a follower of a replicated bucket, whose "initial values" can miss
	// the latest writes; the snapshot is complete only once the consumer
	// has delivered the barrier.
	barrier uint64
}

// startWatch reads the barrier and starts an ordered consumer on filter
// delivering the last entry of every key, markers included, then the nil
// "initial values done" entry, then every change: two requests.
func (s *Store) startWatch(ctx context.Context, filter string) (watch, error) {
	barrier, err := s.lastSequence(ctx, filter)
	if err != nil {
		return watch{}, err
	}
	// nats.go keeps a goroutine per watcher until the watcher's context
	// ends; a context of our own ends it when the watch stops.
	ctx, cancel := context.WithCancel(ctx)
	w, err := s.kv.Watch(ctx, filter)
	if err != nil {
		cancel()
		return watch{}, err
	}
	return watch{w: w, cancel: cancel, barrier: barrier}, nil
}

// stop unsubscribes the watcher and drains what its callback still holds, so
// that the callback, which blocks on a full channel, can return and let the
// subscription finish.
func (w watch) stop() {
	if w.w == nil {
		return
	}
	_ = w.w.Stop() // fails only when already stopped
	w.cancel()
	go func() {
		for range w.w.Updates() {
		}
	}()
}

// snapshot gathers the live keys under a prefix from a watcher's entries.
// It keeps them in arrival order and sorts once at the end: cheaper than a
// map for the thousands of distinct keys a snapshot is made of.
type snapshot struct {
	prefix  string
	barrier uint64
	items   []snapshotItem
	seen    uint64 // highest sequence delivered
	marked  bool   // the watcher's nil entry came
}

// snapshotItem is one entry delivered for a key; live is false for a marker.
type snapshotItem struct {
	entry stores.Entry
	live  bool
}

func newSnapshot(prefix string, barrier uint64) *snapshot {
	return &snapshot{prefix: prefix, barrier: barrier}
}

// add applies one watcher entry; nil is the end of the initial values.
func (sn *snapshot) add(e jetstream.KeyValueEntry) {
	if e == nil {
		sn.marked = true
		return
	}
	sn.seen = max(sn.seen, e.Revision())
	if !strings.HasPrefix(e.Key(), sn.prefix) {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		sn.items = append(sn.items, snapshotItem{entry(e.Key(), e.Value(), e.Revision()), true})
	} else {
		sn.items = append(sn.items, snapshotItem{stores.Entry{Key: e.Key(), Revision: e.Revision()}, false})
	}
}

// complete reports whether the snapshot holds every write acknowledged
// before the watch started.
func (sn *snapshot) complete() bool {
	return sn.marked && sn.seen >= sn.barrier
}

// entries returns the live entries sorted by key: of the entries delivered
// for a key (more than one when it was written while the snapshot was read),
// the one with the highest revision, unless that is a marker.
func (sn *snapshot) entries() []stores.Entry {
	slices.SortFunc(sn.items, func(a, b snapshotItem) int {
		if c := strings.Compare(a.entry.Key, b.entry.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.entry.Revision, b.entry.Revision)
	})
	out := make([]stores.Entry, 0, len(sn.items))
	for i, it := range sn.items {
		if it.live && (i+1 == len(sn.items) || sn.items[i+1].entry.Key != it.entry.Key) {
			out = append(out, it.entry)
		}
	}
	return out
}

// List returns every live key under prefix with its value and revision,
// sorted by key. It reads the stream's last sequence from the leader, then
// one ordered consumer snapshot (two requests however many keys the bucket
// holds, one when nothing matches), keeping the last entry of each key and
// dropping keys whose last entry is a delete or purge marker. A prefix no
// valid key can start with gives an empty list without I/O.
func (s *Store) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	filter, ok := subjectFilter(prefix)
	if !ok {
		return []stores.Entry{}, nil
	}
	barrier, err := s.lastSequence(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("natskv: list %q: %w", prefix, err)
	}
	if barrier == 0 {
		return []stores.Entry{}, nil // no message matches the filter
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.kv.Watch(wctx, filter)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natskv: list %q: %w", prefix, err)
	}
	defer watch{w: w, cancel: cancel}.stop()
	sn := newSnapshot(prefix, barrier)
	var catchUp <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natskv: list %q: %w", prefix, context.Cause(ctx))
		case <-catchUp:
			return sn.entries(), nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("natskv: list %q: %w before the snapshot was complete", prefix, errWatchEnded)
			}
			sn.add(e)
			if sn.complete() {
				return sn.entries(), nil
			}
			if sn.marked && catchUp == nil {
				t := time.NewTimer(catchUpTimeout)
				defer t.Stop()
				catchUp = t.C
			}
		}
	}
}

// Watch streams the keys under prefix: an EventPut for every live key, sorted
// by key, then EventSynced, then an EventPut for every write and an
// EventDelete (with the marker's revision) for every delete or purge. The
// channel is closed when ctx ends, or when the connection is closed for good.
//
// When the connection drops (a server restart, a network failure) Watch sends
// EventError; once it is back, it resumes its consumer from the stream
// sequence after the last one it delivered, so no change is lost and no
// snapshot is repeated. When it cannot resume exactly (the consumer ended for
// good, the stream's sequence went backwards, the snapshot was incomplete),
// it sends EventError, re-creates the consumer, pausing between attempts and
// sending EventError for each failure, and sends EventReset followed by a
// fresh snapshot and EventSynced.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	out := make(chan stores.Event, watchBuffer)
	filter, ok := subjectFilter(prefix)
	if !ok {
		// No key can ever match: the snapshot is empty and nothing changes.
		go func() {
			defer close(out)
			select {
			case out <- stores.Event{Kind: stores.EventSynced}:
				<-ctx.Done()
			case <-ctx.Done():
			}
		}()
		return out, nil
	}
	nc := s.js.Conn()
	status := nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING)
	w, err := s.startWatch(ctx, filter)
	if err != nil {
		nc.RemoveStatusListener(status)
		return nil, fmt.Errorf("natskv: watch %q: %w", prefix, err)
	}
	f := &follower{s: s, ctx: ctx, prefix: prefix, filter: filter, out: out, w: w, sn: newSnapshot(prefix, w.barrier)}
	go func() {
		defer nc.RemoveStatusListener(status)
		f.run(status)
	}()
	return out, nil
}

// follower turns one watch's watcher entries into events.
type follower struct {
	s              *Store
	ctx            context.Context
	prefix, filter string
	out            chan<- stores.Event

	w watch
	// sn gathers the snapshot; nil once EventSynced was sent.
	sn *snapshot
	// seen is the highest stream sequence the events so far account for.
	seen    uint64
	catchUp *time.Timer
}

// send delivers ev unless ctx ends first.
func (f *follower) send(ev stores.Event) bool {
	select {
	case f.out <- ev:
		return true
	case <-f.ctx.Done():
		return false
	}
}

// sendError sends an EventError wrapping err.
func (f *follower) sendError(format string, args ...any) bool {
	return f.send(stores.Event{Kind: stores.EventError, Err: fmt.Errorf("natskv: watch %q: "+format, append([]any{f.prefix}, args...)...)})
}

// run follows until ctx ends or the connection is closed, then closes the
// channel.
func (f *follower) run(status <-chan nats.Status) {
	defer close(f.out)
	defer func() { f.w.stop() }() // f.w is replaced on resume and restart
	defer f.stopCatchUp()
	lost := false // the connection dropped and has not come back yet
	for {
		var timeout <-chan time.Time
		if f.catchUp != nil {
			timeout = f.catchUp.C
		}
		select {
		case <-f.ctx.Done():
			return
		case <-timeout:
			if !f.synced() {
				return
			}
		case st := <-status:
			switch {
			case st != nats.CONNECTED && !lost:
				lost = true
				if !f.sendError("connection lost (%v); resuming when it is back", st) {
					return
				}
			case st == nats.CONNECTED && lost:
				lost = false
				if !f.resume() {
					return
				}
			}
		case e, ok := <-f.w.w.Updates():
			if !ok {
				if f.ctx.Err() != nil {
					return
				}
				if nc := f.s.js.Conn(); nc.IsClosed() || nc.IsDraining() {
					f.sendError("%w", nats.ErrConnectionClosed)
					return
				}
				if !f.sendError("%w", errWatchEnded) || !f.restart() {
					return
				}
				continue
			}
			if !f.handle(e) {
				return
			}
		}
	}
}

// handle turns one watcher entry into events.
func (f *follower) handle(e jetstream.KeyValueEntry) bool {
	if f.sn != nil {
		f.sn.add(e)
		if f.sn.complete() {
			return f.synced()
		}
		if f.sn.marked && f.catchUp == nil {
			f.catchUp = time.NewTimer(catchUpTimeout)
		}
		return true
	}
	if e == nil {
		return true // a resumed watcher's "initial values done"
	}
	f.seen = max(f.seen, e.Revision())
	switch {
	case !strings.HasPrefix(e.Key(), f.prefix):
		return true
	case e.Operation() == jetstream.KeyValuePut:
		return f.send(stores.Event{Kind: stores.EventPut, Entry: entry(e.Key(), e.Value(), e.Revision())})
	default:
		return f.send(stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: e.Key(), Revision: e.Revision()}})
	}
}

// synced sends the gathered snapshot and EventSynced.
func (f *follower) synced() bool {
	f.stopCatchUp()
	for _, e := range f.sn.entries() {
		if !f.send(stores.Event{Kind: stores.EventPut, Entry: e}) {
			return false
		}
	}
	f.seen = max(f.sn.seen, f.sn.barrier)
	f.sn = nil
	return f.send(stores.Event{Kind: stores.EventSynced})
}

func (f *follower) stopCatchUp() {
	if f.catchUp != nil {
		f.catchUp.Stop()
		f.catchUp = nil
	}
}

// resume replaces the watcher, after the connection came back, by one
// starting at the sequence after f.seen: the consumer may have died with the
// server. It restarts the watch instead when that would not be exact.
func (f *follower) resume() bool {
	if f.sn != nil {
		return f.restart() // the snapshot was incomplete: start it over
	}
	last, err := f.s.lastSequence(f.ctx, f.filter)
	if err != nil {
		return f.sendError("resume: %w", err) && f.restart()
	}
	if last < f.seen {
		return f.sendError("resume: the stream's last sequence went back from %d to %d", f.seen, last) && f.restart()
	}
	ctx, cancel := context.WithCancel(f.ctx)
	w, err := f.s.kv.Watch(ctx, f.filter, jetstream.ResumeFromRevision(f.seen+1))
	if err != nil {
		cancel()
		return f.sendError("resume: %w", err) && f.restart()
	}
	f.w.stop()
	f.w = watch{w: w, cancel: cancel}
	return true
}

// restart re-creates the watcher, pausing s.watchRetry between attempts
// and reporting each failure as EventError, then sends EventReset and
// gathers a fresh snapshot. It returns false when ctx ends or the connection
// is closed for good.
func (f *follower) restart() bool {
	f.w.stop()
	f.w = watch{}
	f.stopCatchUp()
	for {
		w, err := f.s.startWatch(f.ctx, f.filter)
		if err == nil {
			f.w = w
			break
		}
		if !f.sendError("restart: %w", err) || errors.Is(err, nats.ErrConnectionClosed) {
			return false
		}
		select {
		case <-f.ctx.Done():
			return false
		case <-time.After(f.s.watchRetry):
		}
	}
	f.sn = newSnapshot(f.prefix, f.w.barrier)
	f.seen = 0
	return f.send(stores.Event{Kind: stores.EventReset})
}
