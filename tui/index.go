package tui

import (
	"cmp"
	"slices"
	"strings"

	"github.com/leasectl/leasectl/lease"
)

// The table's index: the rows that match the filter, in the sort order. It
// follows the row set's change log in place — one pass over the index per
// batch of changes, however many — and is rebuilt from every row only when
// the log overflowed or after a new filter or sort.

// refresh brings the index up to date with rs: it applies rs's changes in
// place or, when the change log overflowed, rebuilds it.
func (t *table) refresh(rs *rowSet) {
	changes, all := rs.takeChanges()
	t.total = rs.len()
	t.maxRev = rs.maxRev
	switch {
	case !t.built || all:
		t.rebuild(rs)
		return
	case len(changes) == 0:
		return
	}
	terms := splitTerms(t.filter)
	var gone, added []*row
	for _, c := range changes {
		oldIn := c.old != nil && matches(c.old, terms)
		newIn := c.new != nil && matches(c.new, terms)
		if oldIn && newIn && t.replace(c.old, c.new) {
			continue
		}
		if oldIn {
			gone = append(gone, c.old)
		}
		if newIn {
			added = append(added, c.new)
		}
	}
	gone, added = cancelTransient(gone, added)
	t.removeRows(gone)
	t.insertRows(added)
	t.reselect(rs)
}

// replace puts new in old's place in the index when that is new's place in
// the sort order too — the common change: a lease rewritten in place, its
// key and so its row's position unchanged — and reports whether it did.
func (t *table) replace(old, new *row) bool {
	i, found := slices.BinarySearchFunc(t.index, old, t.compare)
	if !found || t.index[i] != old {
		return false // not in the index yet: added in this batch
	}
	if (i > 0 && t.compare(t.index[i-1], new) >= 0) || (i+1 < len(t.index) && t.compare(new, t.index[i+1]) >= 0) {
		return false
	}
	t.index[i] = new
	return true
}

// cancelTransient drops the rows that came and went within one batch of
// changes: each was added by one change and replaced or removed by a later
// one, so the index never held it. A row is added at most once and removed
// at most once, after: rows are never changed once in the set.
func cancelTransient(gone, added []*row) ([]*row, []*row) {
	if len(gone) == 0 || len(added) == 0 {
		return gone, added
	}
	pending := make(map[*row]bool, len(added))
	for _, r := range added {
		pending[r] = true
	}
	kept := gone[:0]
	for _, r := range gone {
		if pending[r] {
			pending[r] = false
			continue
		}
		kept = append(kept, r)
	}
	added = slices.DeleteFunc(added, func(r *row) bool { return !pending[r] })
	return kept, added
}

// removeRows takes rows out of the index in one pass.
func (t *table) removeRows(rows []*row) {
	if len(rows) == 0 {
		return
	}
	at := make([]int, 0, len(rows))
	for _, r := range rows {
		i, found := slices.BinarySearchFunc(t.index, r, t.compare)
		if !found || t.index[i] != r {
			// Not where its values say: look for the pointer itself.
			if i = slices.Index(t.index, r); i < 0 {
				continue
			}
		}
		at = append(at, i)
	}
	slices.Sort(at)
	at = slices.Compact(at)
	// Close the gaps, moving each run between two removed rows once.
	w := 0
	for j, i := range at {
		end := len(t.index)
		if j+1 < len(at) {
			end = at[j+1]
		}
		if j == 0 {
			w = i
		}
		w += copy(t.index[w:], t.index[i+1:end])
	}
	clear(t.index[len(t.index)-len(at):])
	t.index = t.index[:len(t.index)-len(at)]
}

// insertRows puts rows into the index in one pass: sorted, each finds its
// place by a binary search, and the index's rows move once, from the end.
func (t *table) insertRows(rows []*row) {
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, t.compare)
	at := make([]int, len(rows))
	for j, r := range rows {
		at[j], _ = slices.BinarySearchFunc(t.index, r, t.compare)
	}
	n := len(t.index)
	t.index = slices.Grow(t.index, len(rows))[:n+len(rows)]
	// Fill from the end: the rows at or after at[j] move up by j+1.
	end := n
	for j := len(rows) - 1; j >= 0; j-- {
		copy(t.index[at[j]+j+1:], t.index[at[j]:end])
		t.index[at[j]+j] = rows[j]
		end = at[j]
	}
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
// the store, key, holder, state or one of the flags (or of what the screen
// shows of the key or holder), ignoring case.
func matches(r *row, terms []string) bool {
	for _, term := range terms {
		if !r.matches(term) {
			return false
		}
	}
	return true
}

// matches reports whether term, in lower case, is a substring of what
// matches reports on. The row keeps no lower-cased copy of its texts: most
// are their own lower-case form (row.text says which), and the others are
// lower-cased here, as they are matched.
func (r *row) matches(term string) bool {
	if strings.Contains(r.status.State.String(), term) {
		return true
	}
	if f := r.status.Flags; f != 0 {
		for i, name := range flagNames {
			if f.Has(lease.Flags(1)<<i) && strings.Contains(name, term) {
				return true
			}
		}
	}
	holder := r.holder()
	if strings.IndexByte(term, 0) >= 0 {
		// The texts are matched one by one, as if joined by NULs: a term
		// with a NUL in it may span two.
		return strings.Contains(strings.ToLower(r.store+"\x00"+r.entry.Key+"\x00"+holder+shownText(r.entry.Key, holder)), term)
	}
	return containsLower(r.entry.Key, term, r.text&keyLower != 0) ||
		containsLower(holder, term, r.text&holderLower != 0) ||
		containsLower(r.store, term, r.text&storeLower != 0) ||
		(r.text&shown != 0 && containsLower(shownText(r.entry.Key, holder), term, false))
}

// containsLower reports whether strings.ToLower(s) contains term; lower
// says that s is its own lower-case form (lowerASCII).
func containsLower(s, term string, lower bool) bool {
	switch {
	case lower:
		return strings.Contains(s, term)
	case isASCII(s):
		// Lower-casing ASCII changes only capital letters, one for one.
		return containsFoldASCII(s, term)
	}
	return strings.Contains(strings.ToLower(s), term)
}

// isASCII reports whether s is ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether term is a substring of s, ASCII, with
// s's capital letters taken as small ones: strings.ToLower(s) contains term.
func containsFoldASCII(s, term string) bool {
	if term == "" {
		return true
	}
	for i := 0; i+len(term) <= len(s); i++ {
		j := 0
		for j < len(term) && lowerByte(s[i+j]) == term[j] {
			j++
		}
		if j == len(term) {
			return true
		}
	}
	return false
}

// lowerByte lower-cases an ASCII letter.
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
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
