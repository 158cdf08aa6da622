package tui

import (
	"math"
	"strings"
	"time"

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
	// status is the classification at the time of the last change or state
	// transition; the table re-classifies visible rows at render time.
	status lease.Status
	// search is the lower-cased text the filter matches against.
	search string
	// changedAt is when the row's revision last changed after its store's
	// initial snapshot; zero when it has not.
	changedAt time.Time
	// seq is the rowSet's sequence number of the row's last change.
	seq uint64
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
	// nextTransition is the earliest expiry of a held row: until then no
	// row changes state by the clock alone.
	nextTransition uint64
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
	st := lease.Classify(e.Value, now, s.th)
	r := &row{store: store, entry: e, status: st, seq: s.seq}
	r.search = strings.ToLower(store + "\x00" + e.Key + "\x00" + r.holder() + shownText(e.Key, r.holder()))
	if !ok {
		s.count[store]++
	}
	if mark {
		r.changedAt = now
	}
	s.rows[k] = r
	s.log(old, r)
	s.maxRev = max(s.maxRev, e.Revision)
	if st.State == lease.Held {
		s.nextTransition = min(s.nextTransition, st.Record.ExpiresAtUnix)
	}
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

// tick re-classifies the rows whose lease expired by now, when any has. It
// costs one comparison per call until the earliest expiry passes, then one
// pass over the rows; it reports whether a row changed state.
func (s *rowSet) tick(now time.Time) bool {
	n := lease.UnixSeconds(now)
	if n < s.nextTransition {
		return false
	}
	next := uint64(math.MaxUint64)
	changed := false
	for k, r := range s.rows {
		if r.status.State != lease.Held {
			continue
		}
		if r.status.Record.LiveAt(n) {
			next = min(next, r.status.Record.ExpiresAtUnix)
			continue
		}
		// A new row, not a change in place: the index still sorts by the
		// old one.
		nr := *r
		nr.status = lease.Classify(r.entry.Value, now, s.th)
		s.rows[k] = &nr
		s.log(r, &nr)
		changed = true
	}
	s.nextTransition = next
	return changed
}

// len returns the number of rows.
func (s *rowSet) len() int { return len(s.rows) }
