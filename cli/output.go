package cli

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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
// do not apply are omitted; flags is always an array.
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

// statusJSON converts a classification; raw adds the stored bytes.
func statusJSON(st lease.Status, raw []byte, withRaw bool) leaseJSON {
	v := leaseJSON{State: st.State.String(), Flags: st.Flags.Strings()}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
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
	return v
}

// observationJSON converts what an operator is shown about one key.
func observationJSON(o lease.Observation, withRaw bool) leaseJSON {
	v := statusJSON(o.Status, o.Entry.Value, withRaw)
	v.Store, v.Key = o.Store, o.Key
	if !utf8.ValidString(o.Key) {
		v.KeyB64 = base64.StdEncoding.EncodeToString([]byte(o.Key))
	}
	if o.Found {
		v.Revision = o.Entry.Revision
	}
	return v
}

// writeJSON writes v as indented JSON made terminal-safe (safetext.JSON):
// the data decodes exactly as stored, with nothing a terminal interprets.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(safetext.JSON(b), '\n'))
	return err
}

// tableColumns are ls's table columns: title, the width a column may be
// cut down to in a terminal, and how reluctantly it gives up cells (keys
// least: they must stay distinguishable).
var tableColumns = []struct {
	title    string
	min      int
	firmness int
}{
	{"STORE", 5, 2}, {"KEY", 16, 1}, {"STATE", 5, 4}, {"HOLDER", 8, 2}, {"EXPIRES", 9, 2}, {"FLAGS", 5, 2}, {"REV", 3, 4},
}

// keyColumn is the index of KEY in tableColumns.
const keyColumn = 1

// columnGap is the space between two columns.
const columnGap = 2

// tableCells returns the cells of one observation in tableColumns' order,
// uncut.
func tableCells(o lease.Observation, now uint64) []string {
	holder, expires, flags := "-", "-", strings.Join(o.Status.Flags.Strings(), ",")
	switch o.Status.State {
	case lease.Held, lease.Expired:
		holder = o.Status.Record.HolderID
		expires = timetext.Countdown(now, o.Status.Record.ExpiresAtUnix)
	case lease.Corrupt:
		holder = "(" + o.Status.Reason + ")"
	}
	if flags == "" {
		flags = "-"
	}
	rev := "-"
	if o.Found {
		rev = strconv.FormatUint(o.Entry.Revision, 10)
	}
	return []string{o.Store, safetext.Key(o.Key), o.Status.State.String(), holder, expires, flags, rev}
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
	n := lease.UnixSeconds(now)
	titles := make([]string, len(tableColumns))
	for i, c := range tableColumns {
		titles[i] = c.title
	}
	rows := make([][]string, len(obs))
	widths := make([]int, len(tableColumns))
	for i, t := range titles {
		widths[i] = safetext.Width(t)
	}
	for r, o := range obs {
		rows[r] = tableCells(o, n)
		for i, c := range rows[r] {
			c = safetext.Clean(c)
			rows[r][i] = c
			widths[i] = max(widths[i], safetext.Width(c))
		}
	}
	if width > 0 {
		fitColumns(widths, width)
	}
	bw := bufio.NewWriter(w)
	line := make([]byte, 0, max(width, 80)+16)
	writeRow := func(cells []string) {
		line = line[:0]
		for i, c := range cells {
			cw := safetext.Width(c)
			if cw > widths[i] {
				if i == keyColumn {
					c = elideKey(c, widths[i])
				} else {
					c = safetext.Truncate(c, widths[i])
				}
				cw = safetext.Width(c)
			}
			line = append(line, c...)
			if i < len(cells)-1 {
				for range widths[i] - cw + columnGap {
					line = append(line, ' ')
				}
			}
		}
		s := strings.TrimRight(string(line), " ")
		if width > 0 && safetext.Width(s) > width { // a terminal narrower than every column's minimum
			s = safetext.Truncate(s, width)
		}
		bw.WriteString(s)
		bw.WriteByte('\n')
	}
	writeRow(titles)
	for _, r := range rows {
		writeRow(r)
	}
	return bw.Flush()
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
