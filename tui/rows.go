package tui

import (
	"math"
	"time"
	"unique"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

// rowKey identifies a lease across stores.
type rowKey struct{ store, key string }

// row is one lease key as last seen: the raw entry and its classification.
// Rows are created and changed only by rowSet, from store data.
type row struct {
	store string
	entry stores.Entry
	// status is the classification, kept current by rowSet: taken when the
	// row changed and again when the clock passes a moment at which it may
	// change (rowSet.tick).
	status lease.Status
	// text says which of the texts the filter matches are their own
	// lower-case form, so that matching them needs no lower-cased copy.
	text textFlags
	// changedAt is when the row's revision last changed after its store's
	// initial snapshot, in Unix nanoseconds (a time.Time would take three
	// words of every row); 0 when it has not.
	changedAt int64
	// seq is the rowSet's sequence number of the row's last change.
	seq uint64
}

// changed returns when the row last changed after its store's initial
// snapshot; the zero time when it has not.
func (r *row) changed() time.Time {
	if r.changedAt == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.changedAt)
}

// id returns the row's identity.
func (r *row) id() rowKey { return rowKey{r.store, r.entry.Key} }

// holder is the holder id, "" when the value is not a record.
func (r *row) holder() string {
	if r.status.State == lease.Held || r.status.State == lease.Expired {
		return r.status.Record.HolderID
	}
	return ""
}

// textFlags describe a row's store, key and holder for the filter.
type textFlags uint8

const (
	// storeLower, keyLower and holderLower: the text is ASCII without
	// capital letters, so it is its own lower-case form.
	storeLower textFlags = 1 << iota
	keyLower
	holderLower
	// shown: the screen shows the key or the holder otherwise than their
	// bytes (shownText is not empty).
	shown
)

// textFlagsOf returns the flags of a row of store whose key and holder are
// given.
func textFlagsOf(store, key, holder string) textFlags {
	var f textFlags
	if lowerASCII(store) {
		f |= storeLower
	}
	if lowerASCII(key) {
		f |= keyLower
	}
	if lowerASCII(holder) {
		f |= holderLower
	}
	if shownText(key, holder) != "" {
		f |= shown
	}
	return f
}

// lowerASCII reports whether s is ASCII without capital letters:
// strings.ToLower(s) == s, found without building it.
func lowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// shownText is what the screen shows of a key and a holder where that
// differs from their bytes (`"exports/\xff"`, `\u2615`), so that the filter
// finds a row by what the operator sees too; "" for plain ones.
func shownText(key, holder string) string {
	var s string
	if k := safetext.Key(key); k != key {
		s += "\x00" + k
	}
	if h := safetext.Clean(holder); h != holder {
		s += "\x00" + h
	}
	return s
}

// rowChange is one change of the row set: old is the row replaced or
// removed (nil for a new key), new the row that replaced it (nil for a
// removal). Rows are never modified once in the set, so old still holds the
// values the table's index was sorted by.
type rowChange struct{ old, new *row }

// maxChanges bounds the change log; past it the table rebuilds its index
// instead of applying the changes one by one.
const maxChanges = 4096

// rowSet holds every lease row of every store, and logs its changes so that
// the table can update its sorted, filtered index in place instead of
// rebuilding it for every watch event.
type rowSet struct {
	th    lease.Thresholds
	rows  map[rowKey]*row
	count map[string]int // rows per store
	// changes is the log since the table last took it; overflow is set
	// when it outgrew maxChanges and was dropped.
	changes  []rowChange
	overflow bool
	// seq numbers changes and touches.
	seq uint64
	// nextTransition is the earliest second at which a row's
	// classification may change by the clock alone (see transition): until
	// then no row is classified again. lastTick is the second of the last
	// tick, to notice a clock that went back.
	nextTransition uint64
	lastTick       uint64
	// maxRev is the largest revision seen, to size the revision column.
	maxRev uint64
}

func newRowSet(th lease.Thresholds) *rowSet {
	return &rowSet{th: th, rows: make(map[rowKey]*row), count: make(map[string]int), nextTransition: math.MaxUint64}
}

// get returns the row of key in store.
func (s *rowSet) get(store, key string) (*row, bool) {
	r, ok := s.rows[rowKey{store, key}]
	return r, ok
}

// put records e as the latest state of its key in store, unless the row
// already holds that revision or a later one. mark flags the row as just
// changed (not during a store's initial snapshot). It reports whether the
// row changed.
func (s *rowSet) put(store string, e stores.Entry, now time.Time, mark bool) bool {
	k := rowKey{store, e.Key}
	old, ok := s.rows[k]
	s.seq++
	if ok && e.Revision <= old.entry.Revision {
		// Already known (or older): only note that it is still there.
		old.seq = s.seq
		return false
	}
	st := s.classify(e.Value, now)
	r := &row{store: store, entry: e, status: st, seq: s.seq}
	r.text = textFlagsOf(store, e.Key, r.holder())
	if !ok {
		s.count[store]++
	}
	if mark {
		r.changedAt = now.UnixNano()
	}
	s.rows[k] = r
	s.log(old, r)
	s.maxRev = max(s.maxRev, e.Revision)
	n := lease.UnixSeconds(now)
	s.nextTransition = min(s.nextTransition, s.transition(st, n))
	return true
}

// del removes key from store after a deletion at revision rev, unless the
// row holds a newer revision (rev 0: unknown, as after a watch that lost
// track, always delete). It reports whether a row was removed.
func (s *rowSet) del(store, key string, rev uint64) bool {
	k := rowKey{store, key}
	r, ok := s.rows[k]
	if !ok || (rev != 0 && rev < r.entry.Revision) {
		return false
	}
	s.remove(r)
	return true
}

// delStale removes key from store after an action found it absent, unless
// the row may be newer than that absence: it is removed only when it holds
// no later revision than seen (what the operator saw before the action) or
// has not changed since sequence since (when the action was dispatched). A
// row that fails both came from a watch event or a listing after the action
// started, which may postdate the action's read. It reports whether a row
// was removed.
func (s *rowSet) delStale(store, key string, since, seen uint64) bool {
	r, ok := s.rows[rowKey{store, key}]
	if !ok || (r.entry.Revision > seen && r.seq > since) {
		return false
	}
	s.remove(r)
	return true
}

func (s *rowSet) remove(r *row) {
	delete(s.rows, r.id())
	s.count[r.store]--
	s.seq++
	s.log(r, nil)
}

// log records a change; old is nil for a new key, new nil for a removal.
func (s *rowSet) log(old, new *row) {
	if s.overflow {
		return
	}
	if len(s.changes) >= maxChanges {
		s.changes, s.overflow = nil, true
		return
	}
	s.changes = append(s.changes, rowChange{old, new})
}

// takeChanges returns the change log and empties it; all is set when the
// log overflowed and the consumer must start from every row.
func (s *rowSet) takeChanges() (changes []rowChange, all bool) {
	changes, all = s.changes, s.overflow
	s.changes, s.overflow = nil, false
	return changes, all
}

// dropStore removes every row of store (a watch reset).
func (s *rowSet) dropStore(store string) {
	if s.count[store] == 0 {
		return
	}
	for _, r := range s.rows {
		if r.store == store {
			s.remove(r)
		}
	}
}

// replace applies a full listing of store taken when the set was at
// sequence since: every listed entry is put, and every row of store that is
// not listed and has not changed since the listing was requested is removed
// (a row changed since, by a watch event or an action, is newer than the
// listing and kept).
func (s *rowSet) replace(store string, entries []stores.Entry, since uint64, now time.Time, mark bool) {
	listed := make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Key] = true
		s.put(store, e, now, mark)
	}
	for _, r := range s.rows {
		if r.store == store && !listed[r.entry.Key] && r.seq <= since {
			s.remove(r)
		}
	}
}

// sweep removes every row of store not touched since sequence since: after a
// new watch's snapshot, they are the keys deleted while nobody watched.
func (s *rowSet) sweep(store string, since uint64) {
	for _, r := range s.rows {
		if r.store == store && r.seq <= since {
			s.remove(r)
		}
	}
}

// classify classifies a value for a row. The holder and the reason are
// interned (unique.Make): a fleet's many leases are held by its few nodes
// and fail for a few reasons, and a row holding its own copy of each took a
// fifth of the memory the console holds per lease.
func (s *rowSet) classify(value []byte, now time.Time) lease.Status {
	st := lease.Classify(value, now, s.th)
	if st.Record.HolderID != "" {
		st.Record.HolderID = unique.Make(st.Record.HolderID).Value()
	}
	if st.Reason != "" {
		st.Reason = unique.Make(st.Reason).Value()
	}
	return st
}

// transition returns the first second later than after at which Classify
// may judge the value behind st otherwise than st, by the clock alone
// (math.MaxUint64: none). Three terms of the classification
// (docs/design.md §4) depend on the clock: a held lease expires at its
// expires_at, an expired one turns overdue a period later
// (lease.OverdueAt), and a record acquired in the viewer's future is
// skewed until acquired_at comes within the skew tolerance. Rows are
// classified again only when one of these moments passes, not at every
// frame.
func (s *rowSet) transition(st lease.Status, after uint64) uint64 {
	next := uint64(math.MaxUint64)
	switch {
	case st.State == lease.Held && st.Record.ExpiresAtUnix > after:
		next = st.Record.ExpiresAtUnix
	case st.State == lease.Expired && !st.Flags.Has(lease.Overdue):
		if at := lease.OverdueAt(st.Record, s.th); at > after {
			next = at
		}
	}
	if st.Flags.Has(lease.Skewed) {
		tol := uint64(s.th.SkewTolerance / time.Second)
		if at := st.Record.AcquiredAtUnix - min(tol, st.Record.AcquiredAtUnix); at > after {
			next = min(next, at)
		}
	}
	return next
}

// tick classifies again the rows whose classification may have changed
// since the last tick (see transition), when any may have; after a clock
// that went back, every row whose state depends on the clock. It costs one
// comparison per call until the earliest transition passes, then one pass
// over the rows; it reports whether a row changed.
func (s *rowSet) tick(now time.Time) bool {
	n := lease.UnixSeconds(now)
	prev, back := s.lastTick, n < s.lastTick
	s.lastTick = n
	if n < s.nextTransition && !back {
		return false
	}
	next := uint64(math.MaxUint64)
	changed := false
	for k, r := range s.rows {
		if r.status.State != lease.Held && r.status.State != lease.Expired {
			continue
		}
		if !back && s.transition(r.status, prev) > n {
			next = min(next, s.transition(r.status, n))
			continue
		}
		st := s.classify(r.entry.Value, now)
		next = min(next, s.transition(st, n))
		if st.State == r.status.State && st.Flags == r.status.Flags {
			continue
		}
		// A new row, not a change in place: the index still sorts by the
		// old one.
		nr := *r
		nr.status = st
		s.rows[k] = &nr
		s.log(r, &nr)
		changed = true
	}
	s.nextTransition = next
	return changed
}

// len returns the number of rows.
func (s *rowSet) len() int { return len(s.rows) }

// flagNames are the flags' names in bit order (lease.AllFlags), held once:
// the filter and the table go through them for every row.
var flagNames = lease.AllFlags()
