package cli

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/internal/jsonstr"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/timetext"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
)

func checkFormat(f string) error {
	if f != formatTable && f != formatJSON {
		return usageErrorf("-o %q: want table or json", f)
	}
	return nil
}

// leaseJSON is one lease in -o json output (docs/design.md §6). Fields that
// do not apply are omitted; flags is always an array. The struct defines the
// shape; appendLeaseJSON writes it by hand, byte for byte as
// json.MarshalIndent and safetext.JSON would.
type leaseJSON struct {
	Store string `json:"store,omitempty"`
	Key   string `json:"key,omitempty"`
	// KeyB64 is the key's exact bytes, base64, when the key is not valid
	// UTF-8: a JSON string cannot hold such bytes (key then has U+FFFD
	// in their place).
	KeyB64             string   `json:"key_b64,omitempty"`
	State              string   `json:"state"`
	Flags              []string `json:"flags"`
	HolderID           *string  `json:"holder_id,omitempty"`
	AcquiredAtUnix     *uint64  `json:"acquired_at_unix,omitempty"`
	ExpiresAtUnix      *uint64  `json:"expires_at_unix,omitempty"`
	CompletedCursorHex string   `json:"completed_cursor_hex,omitempty"`
	CompletedAtUnix    *uint64  `json:"completed_at_unix,omitempty"`
	Revision           uint64   `json:"revision,omitempty"`
	Error              string   `json:"error,omitempty"`
	// ValueB64 is the raw stored bytes, for get and decode.
	ValueB64 *string `json:"value_b64,omitempty"`
}

// flagNames holds lease.Flags.Strings of every combination of the four
// flags, so that a listing shares them instead of allocating per lease.
var flagNames = func() (names [16][]string) {
	for f := range names {
		names[f] = lease.Flags(f).Strings()
	}
	return names
}()

// flagStrings returns f.Strings(), shared: callers must not modify it.
func flagStrings(f lease.Flags) []string {
	if int(f) < len(flagNames) {
		return flagNames[f]
	}
	return f.Strings()
}

// setStatus fills v from a classification; withRaw adds the stored bytes.
// v points into st, which must outlive it.
func (v *leaseJSON) setStatus(st *lease.Status, raw []byte, withRaw bool) {
	v.State, v.Flags = st.State.String(), flagStrings(st.Flags)
	switch st.State {
	case lease.Held, lease.Expired:
		r := &st.Record
		v.HolderID = &r.HolderID
		v.AcquiredAtUnix = &r.AcquiredAtUnix
		v.ExpiresAtUnix = &r.ExpiresAtUnix
		v.CompletedCursorHex = r.CompletedCursorHex
		v.CompletedAtUnix = r.CompletedAtUnix
	case lease.Corrupt:
		v.Error = st.Reason
	}
	if withRaw && st.State != lease.Absent {
		s := base64.StdEncoding.EncodeToString(raw)
		v.ValueB64 = &s
	}
}

// setObservation fills v with what an operator is shown about one key. v
// points into o, which must outlive it.
func (v *leaseJSON) setObservation(o *lease.Observation, withRaw bool) {
	v.setStatus(&o.Status, o.Entry.Value, withRaw)
	v.Store, v.Key = o.Store, o.Key
	if !utf8.ValidString(o.Key) {
		v.KeyB64 = base64.StdEncoding.EncodeToString([]byte(o.Key))
	}
	if o.Found {
		v.Revision = o.Entry.Revision
	}
}

// statusJSON converts a classification; raw adds the stored bytes.
func statusJSON(st lease.Status, raw []byte, withRaw bool) leaseJSON {
	var v leaseJSON
	v.setStatus(&st, raw, withRaw)
	return v
}

// observationJSON converts what an operator is shown about one key.
func observationJSON(o lease.Observation, withRaw bool) leaseJSON {
	var v leaseJSON
	v.setObservation(&o, withRaw)
	return v
}

// writeJSON writes v as indented JSON made terminal-safe (safetext.JSON):
// the data decodes exactly as stored, with nothing a terminal interprets.
func writeJSON(w io.Writer, v leaseJSON) error {
	b := appendLeaseJSON(make([]byte, 0, 512), &v, 0)
	_, err := w.Write(append(b, '\n'))
	return err
}

// appendLeaseJSON appends v as json.MarshalIndent(v, "", "  ") writes it
// when it sits depth levels deep in a document, made terminal-safe as
// safetext.JSON makes it: the same bytes, without reflection or a second
// pass over a document (TestLeaseJSONBytes holds it to that).
func appendLeaseJSON(b []byte, v *leaseJSON, depth int) []byte {
	o := jsonObject{b: append(b, '{'), depth: depth}
	if v.Store != "" {
		o.string("store", v.Store)
	}
	if v.Key != "" {
		o.string("key", v.Key)
	}
	if v.KeyB64 != "" {
		o.string("key_b64", v.KeyB64)
	}
	o.string("state", v.State)
	o.key("flags")
	if len(v.Flags) == 0 {
		o.b = append(o.b, "[]"...)
	} else {
		o.b = append(o.b, '[')
		for i, f := range v.Flags {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendIndent(o.b, depth+2)
			o.b = appendJSONString(o.b, f)
		}
		o.b = appendIndent(o.b, depth+1)
		o.b = append(o.b, ']')
	}
	if v.HolderID != nil {
		o.string("holder_id", *v.HolderID)
	}
	if v.AcquiredAtUnix != nil {
		o.uint("acquired_at_unix", *v.AcquiredAtUnix)
	}
	if v.ExpiresAtUnix != nil {
		o.uint("expires_at_unix", *v.ExpiresAtUnix)
	}
	if v.CompletedCursorHex != "" {
		o.string("completed_cursor_hex", v.CompletedCursorHex)
	}
	if v.CompletedAtUnix != nil {
		o.uint("completed_at_unix", *v.CompletedAtUnix)
	}
	if v.Revision != 0 {
		o.uint("revision", v.Revision)
	}
	if v.Error != "" {
		o.string("error", v.Error)
	}
	if v.ValueB64 != nil {
		o.string("value_b64", *v.ValueB64)
	}
	o.b = appendIndent(o.b, depth) // state is always there: the object is never empty
	return append(o.b, '}')
}

// jsonObject appends the members of an indented JSON object.
type jsonObject struct {
	b       []byte
	depth   int
	members int
}

// key starts a member: the comma after the previous one, the line break
// and indentation, the name.
func (o *jsonObject) key(name string) {
	if o.members > 0 {
		o.b = append(o.b, ',')
	}
	o.members++
	o.b = appendIndent(o.b, o.depth+1)
	o.b = append(o.b, '"')
	o.b = append(o.b, name...) // names are plain ASCII
	o.b = append(o.b, `": `...)
}

func (o *jsonObject) string(name, s string) {
	o.key(name)
	o.b = appendJSONString(o.b, s)
}

func (o *jsonObject) uint(name string, n uint64) {
	o.key(name)
	o.b = strconv.AppendUint(o.b, n, 10)
}

// indentation is a line break followed by the indentation of the deepest
// line appendLeaseJSON writes.
const indentation = "\n        "

// appendIndent starts a new line indented depth levels of two spaces.
func appendIndent(b []byte, depth int) []byte {
	return append(b, indentation[:1+2*depth]...)
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it (jsonstr), then made terminal-safe by safetext.JSON, which
// sees only what holds DEL or non-ASCII: the rule of what a terminal must
// not see stays there.
func appendJSONString(b []byte, s string) []byte {
	start := len(b)
	b, ascii := jsonstr.Append(b, s)
	if !ascii {
		// safetext.JSON returns its input when it has nothing to escape.
		if safe := safetext.JSON(b[start:]); &safe[0] != &b[start] {
			b = append(b[:start], safe...)
		}
	}
	return b
}

// appendListElement appends one lease of ls -o json's array: the comma
// that separates it from the one before, then the lease on its own lines
// (the first lease's comma is the array's '[', see jsonList.write).
func appendListElement(b []byte, o *lease.Observation) []byte {
	var v leaseJSON
	v.setObservation(o, false)
	b = append(b, ',')
	b = appendIndent(b, 1)
	return appendLeaseJSON(b, &v, 1)
}

// tableColumns are ls's table columns: title, the width a column may be
// cut down to in a terminal, and how reluctantly it gives up cells (keys
// least: they must stay distinguishable).
var tableColumns = [...]struct {
	title    string
	min      int
	firmness int
}{
	{"STORE", 5, 2}, {"KEY", 16, 1}, {"STATE", 5, 4}, {"HOLDER", 8, 2}, {"EXPIRES", 9, 2}, {"FLAGS", 5, 2}, {"REV", 3, 4},
}

// columns is the number of columns of ls's table.
const columns = len(tableColumns)

// keyColumn is the index of KEY in tableColumns.
const keyColumn = 1

// columnGap is the space between two columns.
const columnGap = 2

// tableRow is one lease of the table: its cells that come from the store,
// cleaned, with their widths, and what the other cells are made from. It
// keeps nothing else of the lease (the value is gone once it is
// classified).
type tableRow struct {
	store, key, holder, expires       string
	rev                               uint64
	storeWidth, keyWidth, holderWidth uint32
	found                             bool
	state                             lease.State
	flags                             lease.Flags
}

// flagsCell returns the FLAGS cell: the flags' names joined by commas, or
// "-".
func flagsCell(f lease.Flags) string {
	switch f {
	case 0:
		return "-"
	case lease.Completed:
		return "completed"
	case lease.Skewed:
		return "skewed"
	case lease.Completed | lease.Skewed:
		return "completed,skewed"
	}
	return strings.Join(f.Strings(), ",")
}

// maxCountdowns bounds the EXPIRES cells a rowMaker remembers.
const maxCountdowns = 4096

// rowMaker makes table rows, remembering what many rows share: the cleaned
// store name, and the EXPIRES cells by the second they count to (a fleet's
// leases expire within minutes of each other). It is used by one
// goroutine.
type rowMaker struct {
	now uint64
	// store is the last store name cleaned, as it came and as it is shown,
	// and the width shown.
	store, storeCell string
	storeWidth       uint32
	countdowns       map[uint64]string
}

// row returns o's row, and widens widths to its cells.
func (m *rowMaker) row(o *lease.Observation, widths *[columns]int) tableRow {
	if o.Store != m.store || m.storeCell == "" {
		m.store, m.storeCell = o.Store, safetext.Clean(o.Store)
		m.storeWidth = uint32(safetext.Width(m.storeCell))
	}
	r := tableRow{store: m.storeCell, storeWidth: m.storeWidth, key: safetext.Clean(safetext.Key(o.Key)), holder: "-", expires: "-",
		rev: o.Entry.Revision, found: o.Found, state: o.Status.State, flags: o.Status.Flags}
	switch o.Status.State {
	case lease.Held, lease.Expired:
		r.holder = safetext.Clean(o.Status.Record.HolderID)
		r.expires = m.countdown(o.Status.Record.ExpiresAtUnix)
	case lease.Corrupt:
		r.holder = safetext.Clean("(" + o.Status.Reason + ")")
	}
	r.keyWidth, r.holderWidth = uint32(safetext.Width(r.key)), uint32(safetext.Width(r.holder))
	widths[0] = max(widths[0], int(r.storeWidth))
	widths[keyColumn] = max(widths[keyColumn], int(r.keyWidth))
	widths[2] = max(widths[2], len(r.state.String()))
	widths[3] = max(widths[3], int(r.holderWidth))
	widths[4] = max(widths[4], len(r.expires)) // ASCII
	widths[5] = max(widths[5], len(flagsCell(r.flags)))
	widths[6] = max(widths[6], revWidth(r.found, r.rev))
	return r
}

// countdown returns the EXPIRES cell of a lease expiring at expires.
func (m *rowMaker) countdown(expires uint64) string {
	if c, ok := m.countdowns[expires]; ok {
		return c
	}
	c := safetext.Clean(timetext.Countdown(m.now, expires))
	if m.countdowns == nil {
		m.countdowns = make(map[uint64]string)
	}
	if len(m.countdowns) < maxCountdowns {
		m.countdowns[expires] = c
	}
	return c
}

// revWidth is the width of the REV cell.
func revWidth(found bool, rev uint64) int {
	if !found {
		return 1 // "-"
	}
	n := 1
	for ; rev >= 10; rev /= 10 {
		n++
	}
	return n
}

// writeRows prints the table: the titles, then the rows of every block in
// order, the columns as wide as widths (the widest cells) or, in a terminal
// of width cells, cut down to fit it: see writeTable.
func writeRows(w io.Writer, widths [columns]int, blocks [][]tableRow, width int) error {
	var titles [columns]cell
	for i, c := range tableColumns {
		titles[i] = cell{c.title, safetext.Width(c.title)}
		widths[i] = max(widths[i], titles[i].width)
	}
	if width > 0 {
		fitColumns(widths[:], width)
	}
	tw := tableWriter{bw: bufio.NewWriterSize(w, 64<<10), widths: widths, width: width, line: make([]byte, 0, 256)}
	tw.row(&titles)
	var cells [columns]cell
	var rev [20]byte
	for _, b := range blocks {
		for i := range b {
			r := &b[i]
			cells = [columns]cell{
				{r.store, int(r.storeWidth)},
				{r.key, int(r.keyWidth)},
				{r.state.String(), len(r.state.String())},
				{r.holder, int(r.holderWidth)},
				{r.expires, len(r.expires)},
				{flagsCell(r.flags), len(flagsCell(r.flags))},
				{"-", 1},
			}
			if r.found {
				n := strconv.AppendUint(rev[:0], r.rev, 10)
				cells[6] = cell{string(n), len(n)}
			}
			tw.row(&cells)
		}
	}
	return tw.bw.Flush()
}

// cell is one cell of the table, cleaned, and its width.
type cell struct {
	text  string
	width int
}

// tableWriter lays out the table's lines.
type tableWriter struct {
	bw     *bufio.Writer
	widths [columns]int
	width  int // the terminal's; 0 for none
	line   []byte
}

// spaces pads cells; a longer padding is written in parts.
const spaces = "                                                                "

// row writes one line: each cell padded to its column's width (cut to it
// when wider, a key in its middle) and the gap, the line's trailing spaces
// trimmed, and the line cut to the terminal's width when every column at
// its minimum is still wider.
func (tw *tableWriter) row(cells *[columns]cell) {
	line := tw.line[:0]
	lineWidth := 0
	for i := range cells {
		c, cw := cells[i].text, cells[i].width
		if cw > tw.widths[i] {
			if i == keyColumn {
				c = elideKey(c, tw.widths[i])
			} else {
				c = safetext.Truncate(c, tw.widths[i])
			}
			cw = safetext.Width(c)
		}
		line = append(line, c...)
		lineWidth += cw
		if i < len(cells)-1 {
			pad := tw.widths[i] - cw + columnGap
			lineWidth += pad
			for ; pad > len(spaces); pad -= len(spaces) {
				line = append(line, spaces...)
			}
			line = append(line, spaces[:pad]...)
		}
	}
	trimmed := bytes.TrimRight(line, " ")
	lineWidth -= len(line) - len(trimmed)
	if tw.width > 0 && lineWidth > tw.width { // a terminal narrower than every column's minimum
		trimmed = []byte(safetext.Truncate(string(trimmed), tw.width))
	}
	tw.bw.Write(trimmed)
	tw.bw.WriteByte('\n')
	tw.line = line
}

// writeTable prints observations as an aligned table, every cell cleaned of
// control characters and keys shown with safetext.Key. width is the
// terminal's (0 when w is no terminal). Cells are measured with
// safetext.Width, the width every terminal agrees on, so the columns line
// up whatever the keys and holders hold.
//
// Into a pipe or a file (width 0) no cell is cut: every key is whole and
// greppable, one lease per line. In a terminal every line fits width: the
// columns share it, a long key loses its middle (its last segment, which
// tells keys apart, stays) and other long cells their end.
func writeTable(w io.Writer, obs []lease.Observation, now time.Time, width int) error {
	m := rowMaker{now: lease.UnixSeconds(now)}
	var widths [columns]int
	rows := make([]tableRow, len(obs))
	for i := range obs {
		rows[i] = m.row(&obs[i], &widths)
	}
	return writeRows(w, widths, [][]tableRow{rows}, width)
}

// fitColumns shrinks widths, the natural widths of the table's columns,
// until the table with its gaps fits into width cells, taking one cell at a
// time from the column with the most to give (weighted by firmness) and
// none below a column's minimum.
func fitColumns(widths []int, width int) {
	total := columnGap * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	for ; total > width; total-- {
		best, most := -1, 0
		for i, c := range tableColumns {
			if give := (widths[i] - c.min) * c.firmness; widths[i] > c.min && (best < 0 || give > most) {
				best, most = i, give
			}
		}
		if best < 0 {
			return // every column at its minimum: writeTable cuts the lines
		}
		widths[best]--
	}
}

// elideKey fits a key into width cells by cutting its middle: the end
// keeps at least half the cells, and the whole last segment (from the last
// '/' or '.') when it fits, so that keys that differ only at their end stay
// distinguishable.
func elideKey(key string, width int) string {
	tail := (width - 1) / 2
	if i := strings.LastIndexAny(key, "/."); i >= 0 {
		tail = max(tail, safetext.Width(key[i:]))
	}
	return safetext.Elide(key, width, tail)
}

// writeDetail prints one observation as "field: value" lines, for get and
// decode.
func writeDetail(w io.Writer, o lease.Observation, now time.Time) error {
	n := lease.UnixSeconds(now)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	if o.Store != "" {
		row("store", safetext.Clean(o.Store))
	}
	if o.Key != "" {
		row("key", safetext.Key(o.Key))
	}
	st := o.Status
	row("state", st.State.String())
	if f := st.Flags.Strings(); len(f) > 0 {
		row("flags", strings.Join(f, ", "))
	}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		row("holder", safetext.Clean(r.HolderID))
		row("acquired", fmt.Sprintf("%s (%s)", timetext.UTC(r.AcquiredAtUnix), timetext.Ago(n, r.AcquiredAtUnix)))
		row("expires", fmt.Sprintf("%s (%s)", timetext.UTC(r.ExpiresAtUnix), timetext.Countdown(n, r.ExpiresAtUnix)))
		if st.State == lease.Expired {
			// The command line judges with the default thresholds, as
			// the classification above did.
			h := lease.Assess(r, now, lease.DefaultThresholds())
			row("rounds", timetext.Overdue(uint64(h.ExpiredFor/time.Second), uint64(h.Period/time.Second)))
		}
		if r.CompletedCursorHex != "" {
			row("completed cursor", safetext.Clean(r.CompletedCursorHex))
		}
		if r.CompletedAtUnix != nil {
			row("completed", fmt.Sprintf("%s (%s)", timetext.UTC(*r.CompletedAtUnix), timetext.Ago(n, *r.CompletedAtUnix)))
		}
	case lease.Corrupt:
		row("reason", safetext.Clean(st.Reason))
	}
	if o.Found && o.Revision() != 0 { // decode has no revision
		row("revision", strconv.FormatUint(o.Revision(), 10))
	}
	if st.State != lease.Absent {
		row("raw", rawPreview(o.Entry.Value))
	}
	return tw.Flush()
}

// rawPreview shows stored bytes safely and exactly, in the form keys are
// shown in (safetext.Key): as text when they are plain printable UTF-8,
// else quoted and escaped, so that escape sequences are visible, not
// obeyed, and no byte is lost.
func rawPreview(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	const max = 400
	s := safetext.Key(string(b))
	if len(b) > max {
		return fmt.Sprintf("(%d bytes) %s", len(b), safetext.Truncate(s, max))
	}
	return s
}
