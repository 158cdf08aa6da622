package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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

// flagNames holds lease.Flags.Strings of every combination of the two
// flags, so that a listing shares them instead of allocating per lease.
var flagNames = func() (names [4][]string) {
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

// jsonPlain marks the ASCII bytes encoding/json copies into a string as
// they are (with its default HTML escaping): printable ASCII but '"', '\\',
// '<', '>' and '&'. DEL is copied too; safetext.JSON escapes it.
var jsonPlain = func() (plain [utf8.RuneSelf]bool) {
	for c := byte(0x20); c <= 0x7f; c++ {
		plain[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return plain
}()

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it (HTML characters, U+2028 and U+2029 escaped, invalid UTF-8 as
// \ufffd), then made terminal-safe by safetext.JSON, which sees only what
// holds DEL or non-ASCII: the rule of what a terminal must not see stays
// there.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := len(b)
	b = append(b, '"')
	other := false // s has DEL or non-ASCII bytes
	done := 0      // s[:done] is in b
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				other = other || c == 0x7f
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			done = i
			continue
		}
		other = true
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
			done = i + size
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			done = i + size
		}
		i += size
	}
	b = append(b, s[done:]...)
	b = append(b, '"')
	if other {
		// safetext.JSON returns its input when it has nothing to escape.
		if safe := safetext.JSON(b[start:]); &safe[0] != &b[start] {
			b = append(b[:start], safe...)
		}
	}
	return b
}

// jsonList writes an ls listing as one JSON array (json.MarshalIndent's
// bytes, as appendLeaseJSON), each store's leases encoded as they are
// classified, while the stores are still being listed. The stores are
// listed at once, each by its own goroutine into its own section; the
// sections are written out in the configured order: the first as it comes,
// the others, held as encoded chunks, once the ones before them are done.
//
// Listing never waits on the output: a chunk that the output cannot take
// yet (a pager, a slow pipe) is queued, so that the time a store call is
// given never includes a reader's pace, and a store is closed as soon as it
// is listed.
type jsonList struct {
	w      io.Writer
	cancel context.CancelFunc // stops the listings when the output fails

	mu       sync.Mutex
	wake     *sync.Cond // a section got a chunk or was closed
	sections []jsonSection
	free     [][]byte // written chunks, for reuse
	err      error    // the output's failure
}

// jsonChunk is how many bytes a section encodes before handing them over:
// large enough that handing over costs nothing next to encoding, small
// enough to stay in the CPU's cache.
const jsonChunk = 64 << 10

// maxFreeChunks bounds the chunks kept for reuse.
const maxFreeChunks = 8

// jsonSection is one store's part of the listing: chunks waiting to be
// written, and whether the store is done.
type jsonSection struct {
	chunks [][]byte
	closed bool
}

// errOutput stops a listing whose output failed; the output's own error is
// what the command reports.
var errOutput = errors.New("the output failed")

func newJSONList(w io.Writer, sections int, cancel context.CancelFunc) *jsonList {
	l := &jsonList{w: w, cancel: cancel, sections: make([]jsonSection, sections)}
	l.wake = sync.NewCond(&l.mu)
	return l
}

// section returns the encoder of the i-th store's leases. It must be
// closed, whether the store was listed or not.
func (l *jsonList) section(i int) *jsonEncoder {
	return &jsonEncoder{list: l, index: i}
}

// chunk returns an empty buffer for a section.
func (l *jsonList) chunk() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		c := l.free[n-1]
		l.free = l.free[:n-1]
		return c
	}
	return make([]byte, 0, jsonChunk+4<<10)
}

// put queues chunk as section i's next one; it fails once the output did.
func (l *jsonList) put(i int, chunk []byte, closed bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(chunk) > 0 {
		l.sections[i].chunks = append(l.sections[i].chunks, chunk)
	}
	l.sections[i].closed = l.sections[i].closed || closed
	l.wake.Broadcast()
	if l.err != nil {
		return errOutput
	}
	return nil
}

// take waits until section i has chunks or is closed, and takes its chunks.
func (l *jsonList) take(i int) (chunks [][]byte, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.sections[i]
	for len(s.chunks) == 0 && !s.closed {
		l.wake.Wait()
	}
	chunks, s.chunks = s.chunks, nil
	return chunks, s.closed
}

// recycle keeps written chunks for reuse.
func (l *jsonList) recycle(chunks [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range chunks {
		if len(l.free) < maxFreeChunks {
			l.free = append(l.free, c[:0])
		}
	}
}

// fail records the output's failure and stops the listings.
func (l *jsonList) fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	l.cancel()
}

// write writes the sections in order as they come, until every section is
// closed, and returns the output's failure. Each lease comes encoded with
// the comma that separates it from the one before; the first has none.
func (l *jsonList) write() error {
	empty := true
	out := func(b []byte) bool {
		if _, err := l.w.Write(b); err != nil {
			l.fail(err)
			return false
		}
		return true
	}
	for i := range l.sections {
		for {
			chunks, closed := l.take(i)
			for _, c := range chunks {
				if empty {
					c[0] = '[' // the first lease's comma
					empty = false
				}
				if !out(c) {
					return l.err
				}
			}
			l.recycle(chunks)
			if closed && len(chunks) == 0 {
				break
			}
		}
	}
	if empty {
		out([]byte("[]\n"))
	} else {
		out([]byte("\n]\n"))
	}
	return l.err
}

// jsonEncoder encodes one store's leases into chunks of a jsonList. It is
// used by one goroutine.
type jsonEncoder struct {
	list  *jsonList
	index int
	buf   []byte
	view  leaseJSON
}

// add encodes one lease; it fails once the output did.
func (e *jsonEncoder) add(o *lease.Observation) error {
	if e.buf == nil {
		e.buf = e.list.chunk()
	}
	e.view = leaseJSON{}
	e.view.setObservation(o, false)
	e.buf = append(e.buf, ',')
	e.buf = appendIndent(e.buf, 1)
	e.buf = appendLeaseJSON(e.buf, &e.view, 1)
	e.view = leaseJSON{} // o may go
	if len(e.buf) < jsonChunk {
		return nil
	}
	err := e.list.put(e.index, e.buf, false)
	e.buf = nil
	return err
}

// close hands over what is left: the store is done.
func (e *jsonEncoder) close() {
	e.list.put(e.index, e.buf, true)
	e.buf = nil
}

// writeListJSON writes observations as ls -o json does.
func writeListJSON(w io.Writer, obs []lease.Observation) error {
	l := newJSONList(w, 1, func() {})
	go func() {
		e := l.section(0)
		defer e.close()
		for i := range obs {
			if e.add(&obs[i]) != nil {
				return
			}
		}
	}()
	return l.write()
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

// table gathers ls's table: every row must be seen before the first is
// written, since the columns are as wide as their widest cell. It holds
// the rows in sections, one per store, each filled by its own goroutine.
type table struct {
	sections []*tableSection
}

func newTable(now time.Time, sections int) *table {
	t := &table{sections: make([]*tableSection, sections)}
	for i := range t.sections {
		t.sections[i] = &tableSection{now: lease.UnixSeconds(now)}
	}
	return t
}

// tableBlock is how many rows a section allocates at once: rows are kept
// in blocks rather than one slice, which would be copied as it grows.
const tableBlock = 4096

// maxCountdowns bounds the countdown cells a section remembers.
const maxCountdowns = 4096

// tableSection is one store's rows, and the width of their widest cells.
type tableSection struct {
	now    uint64
	blocks [][]tableRow
	widths [columns]int
	// store is the last store name cleaned, as it came and as it is shown,
	// and the width shown.
	store, storeCell string
	storeWidth       uint32
	// countdowns are the EXPIRES cells made so far, by the seconds they
	// count: a fleet's leases expire within minutes of each other.
	countdowns map[uint64]string
}

// add adds one lease.
func (s *tableSection) add(o *lease.Observation) error {
	if o.Store != s.store || s.storeCell == "" {
		s.store, s.storeCell = o.Store, safetext.Clean(o.Store)
		s.storeWidth = uint32(safetext.Width(s.storeCell))
		s.widths[0] = max(s.widths[0], int(s.storeWidth))
	}
	r := tableRow{store: s.storeCell, storeWidth: s.storeWidth, key: safetext.Clean(safetext.Key(o.Key)), holder: "-", expires: "-",
		rev: o.Entry.Revision, found: o.Found, state: o.Status.State, flags: o.Status.Flags}
	switch o.Status.State {
	case lease.Held, lease.Expired:
		r.holder = safetext.Clean(o.Status.Record.HolderID)
		r.expires = s.countdown(o.Status.Record.ExpiresAtUnix)
	case lease.Corrupt:
		r.holder = safetext.Clean("(" + o.Status.Reason + ")")
	}
	r.keyWidth, r.holderWidth = uint32(safetext.Width(r.key)), uint32(safetext.Width(r.holder))
	s.widths[keyColumn] = max(s.widths[keyColumn], int(r.keyWidth))
	s.widths[2] = max(s.widths[2], len(r.state.String()))
	s.widths[3] = max(s.widths[3], int(r.holderWidth))
	s.widths[4] = max(s.widths[4], len(r.expires)) // ASCII
	s.widths[5] = max(s.widths[5], len(flagsCell(r.flags)))
	s.widths[6] = max(s.widths[6], revWidth(r.found, r.rev))
	if n := len(s.blocks); n == 0 || len(s.blocks[n-1]) == tableBlock {
		s.blocks = append(s.blocks, make([]tableRow, 0, tableBlock))
	}
	b := &s.blocks[len(s.blocks)-1]
	*b = append(*b, r)
	return nil
}

// countdown returns the EXPIRES cell of a lease expiring at expires.
func (s *tableSection) countdown(expires uint64) string {
	if c, ok := s.countdowns[expires]; ok {
		return c
	}
	c := safetext.Clean(timetext.Countdown(s.now, expires))
	if s.countdowns == nil {
		s.countdowns = make(map[uint64]string)
	}
	if len(s.countdowns) < maxCountdowns {
		s.countdowns[expires] = c
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

// write prints the table's rows, section by section: see writeTable.
func (t *table) write(w io.Writer, width int) error {
	var widths [columns]int
	var titles [columns]cell
	for i, c := range tableColumns {
		titles[i] = cell{c.title, safetext.Width(c.title)}
		widths[i] = titles[i].width
	}
	for _, s := range t.sections {
		for i, cw := range s.widths {
			widths[i] = max(widths[i], cw)
		}
	}
	if width > 0 {
		fitColumns(widths[:], width)
	}
	tw := tableWriter{bw: bufio.NewWriterSize(w, 64<<10), widths: widths, width: width, line: make([]byte, 0, 256)}
	tw.row(&titles)
	var cells [columns]cell
	var rev [20]byte
	for _, s := range t.sections {
		for _, b := range s.blocks {
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
	t := newTable(now, 1)
	for i := range obs {
		t.sections[0].add(&obs[i])
	}
	return t.write(w, width)
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
