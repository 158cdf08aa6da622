package tui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/timetext"
)

// column is a column of the lease table.
type column int

const (
	colStore column = iota
	colKey
	colState
	colHolder
	colAcquired
	colExpires
	colCompleted
	colRev
	colFlags
)

// sortCycle is the order in which `s` cycles the sort column.
var sortCycle = []column{colKey, colStore, colState, colHolder, colAcquired, colExpires, colCompleted, colRev}

// title returns the column's header.
func (c column) title() string {
	return [...]string{"STORE", "KEY", "STATE", "HOLDER", "ACQUIRED", "EXPIRES IN", "COMPLETED", "REV", "FLAGS"}[c]
}

// name returns the column's name in messages.
func (c column) name() string { return strings.ToLower(c.title()) }

// changeMark is how long a changed row keeps its marker.
const changeMark = 2 * time.Second

// minKeyWidth and minHolderWidth are the narrowest the two free-text columns
// get before less important columns are dropped to make room.
const (
	minKeyWidth    = 20
	minHolderWidth = 14
)

// table is the lease table: a viewport over the sorted, filtered index of
// every row (index.go keeps the index). The index changes only when the
// rows, the filter or the sort do, and View renders only the visible rows,
// so a frame costs the same with 100,000 leases as with 100.
type table struct {
	styles *Styles
	inks   inks
	// inksGen numbers the inks, for the cache.
	inksGen uint64
	keys    KeyMap
	th      lease.Thresholds
	now     time.Time

	width, height int
	storeWidth    int

	index []*row
	built bool
	total int
	// maxRev is the rowSet's largest revision, sizing the revision column.
	maxRev uint64

	filter string
	sortBy column
	desc   bool

	// marks are the stores' marks (colour, staleness), by store name.
	marks map[string]storeMark

	cursor, offset int
	selected       rowKey
	hasSelected    bool

	// cache keeps rendered rows and the column header from frame to
	// frame; the copies of the table share it.
	cache *tableCache
}

func newTable(s *Styles, k KeyMap, th lease.Thresholds) table {
	t := table{keys: k, th: th, sortBy: colKey, cache: &tableCache{}}
	t.SetStyles(s)
	return t
}

// SetStyles restyles the table after a change of s.
func (t *table) SetStyles(s *Styles) {
	t.styles = s
	t.inks = newInks(s, t.marks)
	t.inksGen = nextGen()
}

// SetMarks sets the stores' marks. A change of colour repaints every row; a
// change of staleness only the rows of that store, which the cache keeps
// for their store's staleness.
func (t *table) SetMarks(marks map[string]storeMark) {
	recolor := len(marks) != len(t.marks)
	for name, mk := range marks {
		if old, ok := t.marks[name]; !ok || old.color != mk.color {
			recolor = true
		}
	}
	t.marks = marks
	if recolor && t.styles != nil {
		t.SetStyles(t.styles)
	}
}

// SetSize sets the table's size, header included.
func (t *table) SetSize(w, h int) {
	t.width, t.height = w, max(h, 1)
	t.clamp()
}

// SetNow sets the clock the countdowns are rendered against.
func (t *table) SetNow(now time.Time) { t.now = now }

// pageSize is the number of visible rows.
func (t table) pageSize() int { return max(t.height-1, 1) }

// Selected returns the selected row.
func (t table) Selected() (*row, bool) {
	if t.cursor < 0 || t.cursor >= len(t.index) {
		return nil, false
	}
	return t.index[t.cursor], true
}

// Update moves the selection.
func (t table) Update(msg tea.Msg) (table, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return t, nil
	}
	switch {
	case key.Matches(k, t.keys.Up):
		t.cursor--
	case key.Matches(k, t.keys.Down):
		t.cursor++
	case key.Matches(k, t.keys.PageUp):
		t.cursor -= t.pageSize()
		t.offset -= t.pageSize()
	case key.Matches(k, t.keys.PageDown):
		t.cursor += t.pageSize()
		t.offset += t.pageSize()
	case key.Matches(k, t.keys.Top):
		t.cursor = 0
	case key.Matches(k, t.keys.Bottom):
		t.cursor = len(t.index) - 1
	default:
		return t, nil
	}
	t.clamp()
	return t, nil
}

// clamp keeps the cursor on a row and the row in view, and records which
// lease is selected.
func (t *table) clamp() {
	n := len(t.index)
	t.cursor = min(max(t.cursor, 0), max(n-1, 0))
	page := t.pageSize()
	t.offset = min(max(t.offset, 0), max(n-page, 0))
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+page {
		t.offset = t.cursor - page + 1
	}
	if r, ok := t.Selected(); ok {
		t.selected, t.hasSelected = r.id(), true
	}
}

// colSpec is one laid-out column.
type colSpec struct {
	col   column
	width int
	right bool
}

// layout sizes the columns for the table's width. Key and holder share
// what the fixed columns leave; when that is too little, the least useful
// columns (acquired, completed, flags) give way — the detail view still
// shows them.
func (t table) layout() []colSpec {
	// The flags column keeps its width whatever the rows hold, so columns
	// do not jump as a live fleet completes rounds.
	flagsW := len("overdue unfinished")
	revW := revWidth(t.maxRev)
	fixed := []colSpec{
		{col: colStore, width: t.storeWidth},
		{col: colState, width: len("tombstone")},
		{col: colAcquired, width: len("23h ago") + 1},
		{col: colExpires, width: len("expired 23h ago")},
		{col: colCompleted, width: 14},
		{col: colRev, width: revW, right: true},
		{col: colFlags, width: flagsW},
	}
	avail := func() int {
		w := t.width - 2 // the cursor and change markers
		for _, c := range fixed {
			w -= c.width + 1
		}
		return w - 2 // the gaps after key and holder
	}
	for _, drop := range []column{colAcquired, colCompleted, colFlags} {
		if avail() >= minKeyWidth+minHolderWidth {
			break
		}
		fixed = slices.DeleteFunc(fixed, func(c colSpec) bool { return c.col == drop })
	}
	free := max(avail(), minKeyWidth+minHolderWidth)
	keyW := free * 3 / 5
	specs := []colSpec{fixed[0], {col: colKey, width: keyW}, fixed[1], {col: colHolder, width: free - keyW}}
	return append(specs, fixed[2:]...)
}

// View renders the header and the visible rows only; a table one line high
// shows the selected row without the header. Bubble Tea renders after every
// message, a watch event or a tick, and most of them change none of the
// visible rows: the rows and the header are kept as rendered (tableCache)
// and rendered again only when what they show changed.
func (t table) View() string {
	c := t.cache
	if c == nil {
		c = &tableCache{}
	}
	specs := c.begin(t)
	var b strings.Builder
	if t.height > 1 {
		b.WriteString(c.header(t, specs))
	}
	if len(t.index) == 0 {
		if t.height > 1 {
			b.WriteByte('\n')
		}
		msg := "no leases yet"
		if t.total > 0 {
			msg = "no lease matches the filter " + quote(t.filter) + " — esc clears it"
		}
		b.WriteString(t.styles.Dim.Render("  " + msg))
		return b.String()
	}
	width := 2
	for _, c := range specs {
		width += c.width + 1
	}
	fits := width <= t.width
	end := min(t.offset+t.pageSize(), len(t.index))
	lines := c.lines[:0]
	size := b.Len()
	for i := t.offset; i < end; i++ {
		l := c.row(t, t.index[i], i == t.cursor, specs, fits)
		lines = append(lines, l)
		size += len(l) + 1
	}
	b.Grow(size)
	for _, l := range lines {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	clear(lines)
	c.lines = lines
	c.end(t.pageSize())
	return b.String()
}

// tableCache is what a table rendered, for the inputs it was rendered from.
// Rows are never changed once in the row set, so a row is known by its
// pointer; what else its line depends on is the layout (the columns and
// their widths, the inks), whether it is selected, whether it carries the
// change mark, and the second of the clock its countdowns are shown at.
type tableCache struct {
	layout layoutKey
	specs  []colSpec
	// head is the column header, for the sort it shows.
	head     string
	headSort [2]int // sortBy, desc
	headOK   bool
	rows     map[*row]cachedRow
	// frame numbers the frames, to forget the rows that left the screen.
	frame uint64
	// lines is the lines of a frame being put together.
	lines []string
}

// layoutKey is what the columns are laid out and painted from.
type layoutKey struct {
	width, storeWidth, revWidth int
	inks                        uint64
}

// cachedRow is one rendered row and what it was rendered for; stale is
// since when its store's rows are stale (Unix nanoseconds, 0: current).
type cachedRow struct {
	sec       int64
	stale     int64
	sel, mark bool
	frame     uint64
	text      string
}

// begin starts a frame of t and returns its columns.
func (c *tableCache) begin(t table) []colSpec {
	k := layoutKey{width: t.width, storeWidth: t.storeWidth, revWidth: revWidth(t.maxRev), inks: t.inksGen}
	if c.specs == nil || c.layout != k {
		c.layout, c.specs, c.headOK = k, t.layout(), false
		clear(c.rows)
	}
	c.frame++
	return c.specs
}

// end ends a frame that showed page rows, forgetting the rows it did not
// show once there are many of them.
func (c *tableCache) end(page int) {
	if len(c.rows) <= 4*page+16 {
		return
	}
	for r, cr := range c.rows {
		if cr.frame != c.frame {
			delete(c.rows, r)
		}
	}
}

// header returns the column header.
func (c *tableCache) header(t table, specs []colSpec) string {
	sort := [2]int{int(t.sortBy), 0}
	if t.desc {
		sort[1] = 1
	}
	if !c.headOK || c.headSort != sort {
		c.head, c.headSort, c.headOK = t.header(specs), sort, true
	}
	return c.head
}

// row returns the line of r.
func (c *tableCache) row(t table, r *row, selected bool, specs []colSpec, fits bool) string {
	sec := t.now.Unix()
	mark := t.marked(r)
	mk := t.marks[r.store]
	var stale int64
	if !mk.stale.IsZero() {
		stale = mk.stale.UnixNano()
	}
	if cr, ok := c.rows[r]; ok && cr.sec == sec && cr.sel == selected && cr.mark == mark && cr.stale == stale {
		cr.frame = c.frame
		c.rows[r] = cr
		return cr.text
	}
	text := t.renderRow(r, selected, specs, fits, mk)
	if c.rows == nil {
		c.rows = make(map[*row]cachedRow)
	}
	c.rows[r] = cachedRow{sec: sec, stale: stale, sel: selected, mark: mark, frame: c.frame, text: text}
	return text
}

// revWidth is the width of the revision column when the largest revision
// is maxRev.
func revWidth(maxRev uint64) int { return max(3, len(strconv.FormatUint(maxRev, 10))) }

func (t table) header(specs []colSpec) string {
	var b strings.Builder
	b.WriteString("  ")
	for _, c := range specs {
		title := c.col.title()
		st := t.styles.Header
		if c.col == t.sortBy {
			arrow := " ▲"
			if t.desc {
				arrow = " ▼"
			}
			title += arrow
			st = t.styles.HeaderSorted
		}
		cell := pad(title, c.width)
		if c.right {
			cell = padLeft(title, c.width)
		}
		b.WriteString(st.Render(cell))
		b.WriteByte(' ')
	}
	return ansi.Truncate(b.String(), t.width, "")
}

// marked reports whether r carries the change mark: it changed in the last
// changeMark.
func (t table) marked(r *row) bool {
	return r.changedAt != 0 && t.now.Sub(r.changed()) < changeMark
}

// staleMark is the change-column mark of a stale row, which shows even
// where the flags column, and the "stale 2m" in it, gave way.
const staleMark = "~"

// renderRow renders one row: its classification is the row set's, kept
// current at the clock (rowSet.tick), and its countdowns are shown at the
// table's clock. The row of a store in error (mk) is dimmed, marked in the
// change column and tagged with the age of its data ("stale 2m") at the
// head of its flags; its store cell keeps the store's colour, faint.
func (t table) renderRow(r *row, selected bool, specs []colSpec, fits bool, mk storeMark) string {
	st := r.status
	now := lease.UnixSeconds(t.now)
	sel := 0
	if selected {
		sel = 1
	}
	base := t.inks.cell[sel]
	switch st.State {
	case lease.Expired:
		base = t.inks.expired[sel]
	case lease.Corrupt:
		base = t.inks.corrupt[sel]
	}
	staleTag := mk.staleText(t.now)
	stale := staleTag != ""
	if stale {
		base = t.inks.stale[sel]
		// The tag may push the flags past their column: the line is cut
		// at the screen's edge.
		fits = false
	}
	storeInk := base
	if k, ok := t.inks.store[r.store]; ok {
		storeInk = k[0][sel]
		if stale {
			storeInk = k[1][sel]
		}
	}
	var b strings.Builder
	b.Grow(t.width * 2)
	marker, changed := " ", " "
	if selected {
		marker = "▶"
	}
	changedInk := t.inks.changed[sel]
	switch {
	case stale:
		changed, changedInk = staleMark, t.inks.staleTag[sel]
	case t.marked(r):
		changed = "•"
	}
	b.WriteString(base.paint(marker))
	b.WriteString(changedInk.paint(changed))
	rec := st.Record
	for _, c := range specs {
		var text string
		cs := base
		switch c.col {
		case colStore:
			text, cs = safetext.Clean(r.store), storeInk
		case colKey:
			text = elideKey(safetext.Key(r.entry.Key), c.width)
		case colState:
			text = st.State.String()
			if !stale {
				cs = t.inks.state[st.State][sel]
			}
		case colHolder:
			switch st.State {
			case lease.Held, lease.Expired:
				text = safetext.Truncate(rec.HolderID, c.width)
			case lease.Corrupt:
				text = safetext.Truncate(st.Reason, c.width)
			case lease.Tombstone:
				text = "— (released)"
				if !stale {
					cs = t.inks.dim[sel]
				}
			}
		case colAcquired:
			if st.State == lease.Held || st.State == lease.Expired {
				text = timetext.Ago(now, rec.AcquiredAtUnix)
			}
		case colExpires:
			if st.State == lease.Held || st.State == lease.Expired {
				text = timetext.Countdown(now, rec.ExpiresAtUnix)
			}
		case colCompleted:
			if rec.Completed() {
				text = safetext.Truncate(shortCursor(rec.CompletedCursorHex), 6)
				if rec.CompletedAtUnix != nil {
					text += " " + timetext.Ago(now, *rec.CompletedAtUnix)
				}
			}
		case colRev:
			text = strconv.FormatUint(r.entry.Revision, 10)
		case colFlags:
			w := c.width
			if stale {
				b.WriteString(t.inks.staleTag[sel].paint(staleTag))
				b.WriteString(base.paint(" "))
				w -= len(staleTag) + 1
			}
			t.flags(&b, st.Flags, w, sel)
			continue
		}
		cell := pad(text, c.width)
		if c.right {
			cell = padLeft(text, c.width)
		}
		b.WriteString(cs.paint(cell + " "))
	}
	if fits {
		return b.String()
	}
	return ansi.Truncate(b.String(), t.width, "")
}

// elideKey fits a key, as the screen shows it (safetext.Key), into width
// cells by cutting out its middle, as ls -o table does: the end keeps at
// least half the cells, and the whole last segment (from the last '/' or
// '.') when it fits, so that keys that differ only at their end — the
// leases of one folder — stay apart.
func elideKey(key string, width int) string {
	if safetext.Width(key) <= width {
		return key
	}
	tail := (width - 1) / 2
	if i := strings.LastIndexAny(key, "/."); i >= 0 {
		tail = max(tail, safetext.Width(key[i:]))
	}
	return safetext.Elide(key, width, tail)
}

// flags writes the flag tags in a cell of width w, in lease.Flags.Strings
// order; a tag that does not fit is left out and the cell ends with "+", so
// that the detail view is known to say more.
func (t table) flags(b *strings.Builder, f lease.Flags, w, sel int) {
	used := 0
	for i, name := range flagNames {
		if !f.Has(lease.Flags(1) << i) {
			continue
		}
		sep := min(used, 1)
		if used+sep+len(name) > w || (used+sep+len(name) == w && f>>(i+1) != 0) {
			b.WriteString(t.inks.cell[sel].paint(strings.Repeat(" ", sep) + "+"))
			used += sep + 1
			break
		}
		if sep > 0 {
			b.WriteString(t.inks.cell[sel].paint(" "))
		}
		b.WriteString(t.inks.flag[i][sel].paint(name))
		used += sep + len(name)
	}
	b.WriteString(t.inks.cell[sel].paint(strings.Repeat(" ", max(w-used, 0)+1)))
}

// shortCursor shows a completion cursor in a table cell: the hex without its
// leading zero bytes (cursor 42 is 000000000000002a on NATS, shown 2a).
func shortCursor(hex string) string {
	t := hex
	for len(t) > 2 && strings.HasPrefix(t, "00") {
		t = t[2:]
	}
	return t
}
