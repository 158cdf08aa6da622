package tui

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timetext"
)

// Source is one store the console shows: how to reach it and how to label
// it.
type Source struct {
	// Name is the store's configured name, shown in every row; names are
	// unique among the sources.
	Name string
	// Kind is the driver (etcd, consul, nats, memory), shown in the stores
	// pane and where the details say a history comes from.
	Kind string
	// ReadOnly refuses every write action on this store. The console then
	// offers none; the Backend must refuse them too (a local one is built
	// on a store wrapped with stores.ReadOnly), so that the refusal does
	// not rest on the console alone.
	ReadOnly bool
	// Color is the store's colour, which its rows, its line in the stores
	// pane and its dialogs carry: a Lip Gloss colour, "#rrggbb" or an ANSI
	// colour number ("196"); "" for none. The store's name is always
	// written beside it, so the colour is never the only label.
	Color string
	// Production marks a store whose actions matter most: the stores pane
	// says so, and every action dialog on it carries a banner.
	Production bool
	// Connect reaches the store and returns its Backend and the function
	// that closes what Connect opened (nil when nothing needs closing). It
	// runs in a command, never in Update, and is retried with backoff when
	// it fails.
	Connect func(ctx context.Context) (Backend, func() error, error)
}

// connState is where a store is in its life.
type connState int

const (
	connConnecting connState = iota // dialling
	connSyncing                     // connected, the first snapshot is on its way
	connLive                        // connected, rows are current
	connFailed                      // the last attempt failed; a retry is scheduled
)

// Backoff between attempts to reach a failing store (docs/design.md §7: a
// store that is down does not stop the console, which keeps retrying).
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// backoff returns the delay before attempt number n (1-based): 1s, 2s, 4s…
// capped at 30s.
func backoff(n int) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// storeState is the console's view of one source.
type storeState struct {
	src      Source
	readOnly bool // the source's or the console's

	conn    connState
	err     error // the last failure, shown (cleaned) in the stores pane
	retryAt time.Time

	backend Backend
	// noWatch and noHistory are set once the backend said it cannot watch
	// or keeps no history (errors.ErrUnsupported), so that it is not asked
	// again.
	noWatch, noHistory bool
	// watching is set while a watch channel is being read; watchGen tells
	// the events of the current channel from a stale one.
	watching bool
	watchGen int
	events   <-chan stores.Event
	// sweep is set while a watch that replaced an ended one sends its
	// snapshot: at EventSynced, rows not touched since sweepSince are gone.
	sweep      bool
	sweepSince uint64
	// synced is set once the rows hold the store's snapshot; changes after
	// it are marked in the table.
	synced bool
	// attempt counts consecutive failures, for the backoff.
	attempt int
	// gen numbers connection attempts, so a stale result is ignored.
	gen        int
	lastUpdate time.Time

	// currentAt is the last moment the rows were known current: the last
	// update at which a watched store was live without error, or the last
	// listing of a store that is only listed (listedAt). staleSince is set,
	// from it, while the store is in error, and cleared once the store is
	// live again: its rows are then shown stale.
	currentAt, listedAt time.Time
	staleSince          time.Time
}

// inError reports whether the store is failing: a dial, a watch or a
// listing failed and has not succeeded since.
func (s *storeState) inError() bool { return s.conn == connFailed || s.err != nil }

// trackStale moves the store's staleness on to now, when it has rows:
// rows are current while the store is live without error, and stale from
// the moment they were last known current once it is in error, until it is
// live again (a store that reconnects stays stale until its snapshot is
// complete). A store without rows has nothing stale: the rows a new
// snapshot brings after a reset, or after a first dial that failed, are
// fresh.
func (s *storeState) trackStale(now time.Time, rows int) {
	switch {
	case rows == 0:
		s.staleSince = time.Time{}
	case s.conn == connLive && s.err == nil:
		s.staleSince = time.Time{}
		s.currentAt = now
		if s.noWatch {
			// A listing is current only when it is taken.
			s.currentAt = s.listedAt
		}
	case s.inError() && s.staleSince.IsZero():
		s.staleSince = s.currentAt
		if s.staleSince.IsZero() {
			// Rows of a snapshot the store never completed.
			s.staleSince = now
		}
	}
}

// mark returns how the store's rows are marked now.
func (s *storeState) mark() storeMark {
	return storeMark{color: s.src.Color, production: s.src.Production, stale: s.staleSince}
}

// storeMark is how the rows and the dialogs of one store are marked: its
// colour, whether it is production, and since when its rows are stale
// (the zero time while they are current).
type storeMark struct {
	color      string
	production bool
	stale      time.Time
}

// staleFor returns how long the rows have been stale at now, in whole
// seconds, and whether they are.
func (k storeMark) staleFor(now time.Time) (uint64, bool) {
	if k.stale.IsZero() {
		return 0, false
	}
	return uint64(max(now.Unix()-k.stale.Unix(), 0)), true
}

// staleText is the mark of stale rows, "stale 2m"; "" for current ones.
func (k storeMark) staleText(now time.Time) string {
	d, ok := k.staleFor(now)
	if !ok {
		return ""
	}
	return "stale " + timetext.Coarse(d)
}

// syncMarks moves every store's staleness on to the clock and hands the
// marks to the table, only when one changed (the table's rows are cached
// for their store's staleness). An open dialog takes its store's mark in
// syncDialogMark, after every message.
func (m *Model) syncMarks() {
	changed := len(m.table.marks) != len(m.srcs)
	for _, s := range m.srcs {
		s.trackStale(m.now, m.rows.count[s.src.Name])
		if !changed {
			old, ok := m.table.marks[s.src.Name]
			changed = !ok || old != s.mark()
		}
	}
	if changed {
		marks := make(map[string]storeMark, len(m.srcs))
		for _, s := range m.srcs {
			marks[s.src.Name] = s.mark()
		}
		m.table.SetMarks(marks)
	}
}

// syncDialogMark hands an open dialog its store's mark: whichever opened
// it, an action's dialog shows the production banner and whether what it
// shows is stale.
func (m *Model) syncDialogMark() {
	if !m.screen.dialog() {
		return
	}
	if s, ok := m.byName[m.dialog.store]; ok {
		m.dialog.SetMark(s.mark())
	}
}

// fail records a failure and returns the delay before the next attempt.
func (s *storeState) fail(err error, now time.Time) time.Duration {
	s.err = err
	s.conn = connFailed
	s.attempt++
	d := backoff(s.attempt)
	s.retryAt = now.Add(d)
	return d
}

// session is what outlives a single Update: the context every store call
// derives from, the operator actions in flight and the closers of the
// opened stores. Commands capture the session, never the model.
type session struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closers []func() error
	closed  bool
	// actions counts the operator actions running, which close waits
	// for: cancelled, each still records its outcome in the audit trail.
	actions sync.WaitGroup
}

// begin marks the start of an operator action; it reports false, and the
// action must not start, once the session is closing.
func (s *session) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.actions.Add(1)
	return true
}

// end marks the end of an operator action begin allowed.
func (s *session) end() { s.actions.Done() }

func newSession() *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{ctx: ctx, cancel: cancel}
}

// track remembers a store's closer; after close it closes the store at once.
func (s *session) track(closer func() error) {
	if closer == nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.closers = append(s.closers, closer)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = closer()
}

// close ends every watch, abandons the operator actions in flight and waits
// for them to end — the lease core bounds the read-back of a write in
// doubt, and records how each ended — then closes every store opened so
// far.
func (s *session) close() error {
	s.cancel()
	s.mu.Lock()
	closers := s.closers
	s.closers, s.closed = nil, true
	s.mu.Unlock()
	s.actions.Wait()
	var errs []error
	for _, c := range closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
