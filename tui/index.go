package tui

import (
	"cmp"
	"slices"
	"strings"

	"github.com/leasectl/leasectl/lease"
)

// The table's index: the rows that match the filter, in the sort order. It
// follows the row set's change log in place — a binary search and a move per
// change — and is rebuilt from every row only after many changes or a new
// filter or sort.

// refresh brings the index up to date with rs: it applies rs's changes in
// place (a binary search and a move per change) or, after many changes,
// rebuilds it.
func (t *table) refresh(rs *rowSet) {
	changes, all := rs.takeChanges()
	t.total = rs.len()
	t.maxRev = rs.maxRev
	switch {
	case !t.built || all || len(changes) > max(len(t.index)/16, 64):
		t.rebuild(rs)
		return
	case len(changes) == 0:
		return
	}
	terms := splitTerms(t.filter)
	for _, c := range changes {
		if c.old != nil && matches(c.old, terms) {
			t.remove(c.old)
		}
		if c.new != nil && matches(c.new, terms) {
			i, _ := slices.BinarySearchFunc(t.index, c.new, t.compare)
			t.index = slices.Insert(t.index, i, c.new)
		}
	}
	t.reselect(rs)
}

// remove takes r out of the index.
func (t *table) remove(r *row) {
	i, found := slices.BinarySearchFunc(t.index, r, t.compare)
	if !found || t.index[i] != r {
		// Not where its values say: look for the pointer itself.
		if i = slices.Index(t.index, r); i < 0 {
			return
		}
	}
	t.index = slices.Delete(t.index, i, i+1)
}

// rebuild filters and sorts every row, keeping the selection on the same
// lease when it is still there.
func (t *table) rebuild(rs *rowSet) {
	rs.takeChanges()
	t.built, t.total = true, rs.len()
	t.maxRev = rs.maxRev
	terms := splitTerms(t.filter)
	t.index = make([]*row, 0, rs.len())
	for _, r := range rs.rows {
		if matches(r, terms) {
			t.index = append(t.index, r)
		}
	}
	slices.SortFunc(t.index, t.compare)
	t.reselect(rs)
}

// reselect moves the cursor to the selected lease, wherever the index now
// holds it; when it is gone, the cursor stays at its position.
func (t *table) reselect(rs *rowSet) {
	if t.hasSelected {
		if r, ok := rs.rows[t.selected]; ok {
			if i, found := slices.BinarySearchFunc(t.index, r, t.compare); found && t.index[i] == r {
				t.cursor = i
			}
		}
	}
	t.clamp()
}

// splitTerms splits a filter into its lower-case terms.
func splitTerms(f string) []string { return strings.Fields(strings.ToLower(f)) }

// matches reports whether r matches every filter term, each a substring of
// the store, key, holder or state.
func matches(r *row, terms []string) bool {
	for _, term := range terms {
		if !strings.Contains(r.search, term) && !strings.Contains(r.status.State.String(), term) {
			return false
		}
	}
	return true
}

// compare orders rows by the sort column, then by store and key.
func (t *table) compare(a, b *row) int {
	c := 0
	switch t.sortBy {
	case colKey:
		c = strings.Compare(a.entry.Key, b.entry.Key)
	case colStore:
		c = strings.Compare(a.store, b.store)
	case colState:
		c = cmp.Compare(a.status.State, b.status.State)
	case colHolder:
		c = strings.Compare(a.holder(), b.holder())
	case colAcquired:
		c = cmp.Compare(a.status.Record.AcquiredAtUnix, b.status.Record.AcquiredAtUnix)
	case colExpires:
		c = cmp.Compare(a.status.Record.ExpiresAtUnix, b.status.Record.ExpiresAtUnix)
	case colCompleted:
		c = cmp.Compare(completedAt(a.status.Record), completedAt(b.status.Record))
	case colRev:
		c = cmp.Compare(a.entry.Revision, b.entry.Revision)
	}
	if t.desc {
		c = -c
	}
	if c != 0 {
		return c
	}
	if c = strings.Compare(a.store, b.store); c != 0 {
		return c
	}
	return strings.Compare(a.entry.Key, b.entry.Key)
}

func completedAt(r lease.Record) uint64 {
	if r.CompletedAtUnix == nil {
		return 0
	}
	return *r.CompletedAtUnix
}

// SetFilter filters the rows. A filter typed on, which only narrows the
// one before, narrows the index it has — already sorted, no larger than the
// rows that matched — so that each key typed costs the rows still shown,
// not a filter and a sort of every lease; any other filter rebuilds the
// index from rs.
func (t *table) SetFilter(f string, rs *rowSet) {
	if f == t.filter {
		return
	}
	narrows := t.built && strings.HasPrefix(strings.ToLower(f), strings.ToLower(t.filter))
	if narrows {
		t.refresh(rs) // the index must hold every row that matched before
	}
	t.filter = f
	t.cursor, t.offset = 0, 0
	if !narrows {
		t.rebuild(rs)
		return
	}
	// Every row that matches f matched the filter it extends: each of
	// that filter's terms is a prefix of one of f's.
	terms := splitTerms(f)
	index := make([]*row, 0, len(t.index))
	for _, r := range t.index {
		if matches(r, terms) {
			index = append(index, r)
		}
	}
	t.index = index
	t.reselect(rs)
}

// cycleSort moves to the next sort column.
func (t *table) cycleSort(rs *rowSet) {
	i := slices.Index(sortCycle, t.sortBy)
	t.sortBy = sortCycle[(i+1)%len(sortCycle)]
	t.rebuild(rs)
}

// reverse reverses the sort order.
func (t *table) reverse(rs *rowSet) {
	t.desc = !t.desc
	t.rebuild(rs)
}
