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

// A snapshot's consumer can send its "initial values done" marker before it
// has delivered the barrier: an ordered consumer may run on any server of a
// replicated bucket, and one on a lagging follower counts only what that
// follower has applied (a replication round behind, milliseconds, or seconds
// when the follower is loaded or far away). The barrier message may also be
// gone, expired (max age, a per-message TTL without a marker) or removed,
// before the consumer delivered it. The snapshot then asks the stream leader
// whether a message after the last one delivered is still stored under the
// filter (nextSequence), as soon as the consumer is idle: if none is, the
// snapshot holds everything the stream holds and is complete; if one is, the
// consumer has it to deliver and the snapshot waits for it, asking again
// whenever the consumer has been idle for a while (the message may expire
// meanwhile), recheckMin doubling up to recheckMax. The wait is bounded by the JetStream context's default
// timeout (jetstream.WithDefaultTimeout, five seconds unless set), the time
// the server is given to answer a request, here to deliver what it already
// stored; then List fails with ErrSnapshotIncomplete and Watch starts over
// with a new consumer. Neither ever passes off a partial snapshot as
// complete.
const (
	recheckMin = 250 * time.Millisecond
	recheckMax = 2 * time.Second

	// defaultCatchUp bounds the wait when the JetStream context has no
	// default timeout: jetstream.New's own default.
	defaultCatchUp = 5 * time.Second
)

// ErrSnapshotIncomplete reports that the consumer behind a listing (or a
// watch's snapshot) did not deliver, in the time allowed, messages the
// stream leader still stores and that the snapshot must include: the
// consumer runs on a server lagging behind the stream leader. Listing again
// may be served by a current server.
var ErrSnapshotIncomplete = errors.New("natskv: the consumer did not catch up with the stream")

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
	// next is the stream leader's answer to the last check: the sequence
	// of the first message after seen (then) under the filter, 0 for none.
	next    uint64
	checked bool // a check was answered
}

// maxPresize bounds the entries a snapshot makes room for at once, whatever
// the consumer says is pending.
const maxPresize = 1 << 20

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
	if sn.items == nil {
		// The first entry says how many more the consumer has to deliver:
		// size the snapshot once rather than grow it by copies, each of
		// which touches fresh memory.
		sn.items = make([]snapshotItem, 0, min(e.Delta(), maxPresize)+1)
	}
	if e.Operation() == jetstream.KeyValuePut {
		sn.items = append(sn.items, snapshotItem{entry(e.Key(), e.Value(), e.Revision()), true})
	} else {
		sn.items = append(sn.items, snapshotItem{stores.Entry{Key: e.Key(), Revision: e.Revision()}, false})
	}
}

// complete reports whether the snapshot holds every write acknowledged
// before the watch started: the consumer delivered the barrier, or the
// stream leader holds nothing after what it delivered.
func (sn *snapshot) complete() bool {
	return sn.marked && (sn.seen >= sn.barrier || sn.checked && sn.next == 0)
}

// catchingUp reports whether the consumer sent its "initial values done"
// marker short of the barrier, so that the snapshot needs the stream leader
// to say whether it is complete.
func (sn *snapshot) catchingUp() bool {
	return sn.marked && !sn.complete()
}

// check asks the stream leader for the first message after the last one the
// consumer delivered: one request.
func (sn *snapshot) check(ctx context.Context, s *Store, filter string) error {
	next, err := s.nextSequence(ctx, filter, sn.seen+1)
	if err != nil {
		return fmt.Errorf("check the snapshot with the stream leader: %w", err)
	}
	sn.next, sn.checked = next, true
	return nil
}

// behind returns the error of a snapshot whose consumer did not catch up
// within d.
func (sn *snapshot) behind(d time.Duration) error {
	left := "the stream leader did not answer"
	if sn.checked {
		left = fmt.Sprintf("the stream leader still stores sequence %d", sn.next)
	}
	return fmt.Errorf("%w: after %v the consumer had delivered up to sequence %d of %d, and %s",
		ErrSnapshotIncomplete, d, sn.seen, sn.barrier, left)
}

// catchUp paces the checks of a snapshot that is catching up and bounds its
// wait.
type catchUp struct {
	limit    time.Duration
	deadline *time.Timer
	recheck  *time.Timer
	pause    time.Duration // before the next check, once the consumer is idle
}

// newCatchUp starts the wait of a snapshot whose consumer just sent its
// marker short of the barrier. The first check is due at once, unless the
// consumer delivers more first (see progress): a consumer a replication
// round behind reaches the barrier by itself, without a request.
func newCatchUp(limit time.Duration) *catchUp {
	return &catchUp{limit: limit, deadline: time.NewTimer(limit), recheck: time.NewTimer(0), pause: recheckMin}
}

// catchUpLimit returns how long a snapshot waits for its consumer.
func (s *Store) catchUpLimit() time.Duration {
	if d := s.js.Options().DefaultTimeout; d > 0 {
		return d
	}
	return defaultCatchUp
}

// checked arms the next check after a check that left the snapshot short.
func (c *catchUp) checked() {
	c.recheck.Reset(c.pause)
	c.pause = min(2*c.pause, recheckMax)
}

// progress postpones the next check until the consumer, which is
// delivering, has been idle for a while.
func (c *catchUp) progress() {
	c.recheck.Reset(c.pause)
}

// channels returns the timers' channels; nil ones for a nil catchUp, which
// never fire.
func (c *catchUp) channels() (deadline, recheck <-chan time.Time) {
	if c == nil {
		return nil, nil
	}
	return c.deadline.C, c.recheck.C
}

func (c *catchUp) stop() {
	if c != nil {
		c.deadline.Stop()
		c.recheck.Stop()
	}
}

// sort orders the items by key, and the items of one key by revision.
func (sn *snapshot) sort() {
	slices.SortFunc(sn.items, func(a, b snapshotItem) int {
		if c := strings.Compare(a.entry.Key, b.entry.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.entry.Revision, b.entry.Revision)
	})
}

// entries returns the live entries sorted by key: of the entries delivered
// for a key (more than one when it was written while the snapshot was read),
// the one with the highest revision, unless that is a marker.
func (sn *snapshot) entries() []stores.Entry {
	out := make([]stores.Entry, 0, len(sn.items))
	sn.each(func(e stores.Entry) error {
		out = append(out, e)
		return nil
	})
	return out
}

// each calls fn with the live entries sorted by key, as entries returns
// them, and lets go of each item once fn has it: the snapshot shrinks as
// it is consumed. An error from fn stops it and is returned.
func (sn *snapshot) each(fn func(stores.Entry) error) error {
	sn.sort()
	items := sn.items
	sn.items = nil
	for i, it := range items {
		last := i+1 == len(items) || items[i+1].entry.Key != it.entry.Key
		items[i] = snapshotItem{}
		if it.live && last {
			if err := fn(it.entry); err != nil {
				return err
			}
		}
	}
	return nil
}

// List returns every live key under prefix with its value and revision,
// sorted by key. It reads the stream's last sequence from the leader, then
// one ordered consumer snapshot (two requests however many keys the bucket
// holds, one when nothing matches), keeping the last entry of each key and
// dropping keys whose last entry is a delete or purge marker. A prefix no
// valid key can start with gives an empty list without I/O.
//
// When the consumer runs on a lagging server, or the last message expired
// before the consumer delivered it, List asks the stream leader what is left
// to deliver (one request more, a few when the consumer lags) and returns as
// soon as the snapshot holds every write acknowledged before it started. It
// returns an error matching ErrSnapshotIncomplete when the consumer has not
// caught up within the JetStream context's default timeout; never a partial
// list.
func (s *Store) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	sn, err := s.takeSnapshot(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("natskv: list %q: %w", prefix, err)
	}
	return sn.entries(), nil
}

var _ stores.Scanner = (*Store)(nil)

// Scan calls fn with every live key under prefix, sorted by key
// (stores.Scanner): the snapshot List takes, with the same guarantees,
// passed on entry by entry once it is complete, and let go of as it is
// passed on. The snapshot must be whole before its first entry can be
// known (the consumer delivers in stream order), so Scan holds what List
// holds, but not a second copy of it; fn runs once the consumer is gone.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
	sn, err := s.takeSnapshot(ctx, prefix)
	if err != nil {
		return fmt.Errorf("natskv: scan %q: %w", prefix, err)
	}
	return sn.each(fn)
}

// takeSnapshot reads the complete snapshot of the keys under prefix, for List
// and Scan.
func (s *Store) takeSnapshot(ctx context.Context, prefix string) (*snapshot, error) {
	filter, ok := subjectFilter(prefix)
	if !ok {
		return newSnapshot(prefix, 0), nil
	}
	barrier, err := s.lastSequence(ctx, filter)
	if err != nil {
		return nil, err
	}
	if barrier == 0 {
		return newSnapshot(prefix, 0), nil // no message matches the filter
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.kv.Watch(wctx, filter)
	if err != nil {
		cancel()
		return nil, err
	}
	defer watch{w: w, cancel: cancel}.stop()
	sn := newSnapshot(prefix, barrier)
	var cu *catchUp
	defer func() { cu.stop() }()
	for {
		deadline, recheck := cu.channels()
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-deadline:
			return nil, sn.behind(cu.limit)
		case <-recheck:
			if err := sn.check(ctx, s, filter); err != nil {
				return nil, err
			}
			if sn.complete() {
				return sn, nil
			}
			cu.checked()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%w before the snapshot was complete", errWatchEnded)
			}
			sn.add(e)
			switch {
			case sn.complete():
				return sn, nil
			case !sn.catchingUp():
			case cu == nil:
				cu = newCatchUp(s.catchUpLimit())
			default:
				cu.progress()
			}
		}
	}
}

// Watch streams the keys under prefix: an EventPut for every live key, sorted
// by key, then EventSynced, then an EventPut for every write and an
// EventDelete (with the marker's revision) for every delete or purge. The
// channel is closed when ctx ends, or when the connection is closed for good.
//
// The snapshot holds every write acknowledged before Watch was called, as
// List's does; when its consumer runs on a lagging server, Watch waits for
// it as List does, and when it has not caught up within the JetStream
// context's default timeout, starts over as described below rather than
// send a partial snapshot.
//
// When the connection drops (a server restart, a network failure) Watch sends
// EventError; once it is back, it resumes its consumer from the stream
// sequence after the last one it delivered, so no change is lost and no
// snapshot is repeated. When it cannot resume exactly (the consumer ended for
// good, the stream's sequence went backwards, the snapshot was incomplete or
// its consumer did not catch up), it sends EventError, re-creates the
// consumer, pausing between attempts and sending EventError for each
// failure, and sends EventReset followed by a fresh snapshot and
// EventSynced.
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
	// cu paces the checks of a snapshot catching up; nil otherwise.
	cu *catchUp
	// seen is the highest stream sequence the events so far account for:
	// every message under the filter up to seen that the stream still
	// stores was delivered. A resume starts after it.
	seen uint64
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
		deadline, recheck := f.cu.channels()
		select {
		case <-f.ctx.Done():
			return
		case <-deadline:
			// Start over rather than sync a partial snapshot.
			if !f.sendError("%w", f.sn.behind(f.cu.limit)) || !f.restart() {
				return
			}
		case <-recheck:
			if !f.check() {
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
		switch {
		case f.sn.complete():
			return f.synced()
		case !f.sn.catchingUp():
		case f.cu == nil:
			f.cu = newCatchUp(f.s.catchUpLimit())
		default:
			f.cu.progress()
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

// check asks the stream leader whether the snapshot catching up is
// complete, and syncs it if it is. A failed check is reported and tried
// again later: a lost connection is handled by run, and the catch-up's
// deadline still bounds the wait.
func (f *follower) check() bool {
	if err := f.sn.check(f.ctx, f.s, f.filter); err != nil {
		if !f.sendError("%w", err) {
			return false
		}
	} else if f.sn.complete() {
		return f.synced()
	}
	f.cu.checked()
	return true
}

// synced sends the gathered snapshot and EventSynced.
func (f *follower) synced() bool {
	f.stopCatchUp()
	for _, e := range f.sn.entries() {
		if !f.send(stores.Event{Kind: stores.EventPut, Entry: e}) {
			return false
		}
	}
	// What the consumer delivered, not the barrier: when the snapshot is
	// complete short of the barrier, the stream holds nothing after
	// f.sn.seen, so a resume after it is exact, and when it reached the
	// barrier, f.sn.seen is at least the barrier.
	f.seen = f.sn.seen
	f.sn = nil
	return f.send(stores.Event{Kind: stores.EventSynced})
}

func (f *follower) stopCatchUp() {
	f.cu.stop()
	f.cu = nil
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
