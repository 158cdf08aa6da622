package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// maxUnixDisplay is the last second time.Format renders with a four-digit
// year (9999-12-31T23:59:59Z); later lease times are shown as raw numbers.
const maxUnixDisplay = 253402300799

// secs returns b-a in seconds as a signed value, saturating instead of
// wrapping for the absurd values a skewed or hostile record may carry.
func secs(a, b uint64) (d uint64, future bool) {
	if b >= a {
		return b - a, true
	}
	return a - b, false
}

// coarse renders a number of seconds in its largest unit: 12s, 3m, 5h, 2d,
// 3y.
func coarse(s uint64) string {
	switch {
	case s < 60:
		return strconv.FormatUint(s, 10) + "s"
	case s < 3600:
		return strconv.FormatUint(s/60, 10) + "m"
	case s < 86400:
		return strconv.FormatUint(s/3600, 10) + "h"
	case s < 365*86400:
		return strconv.FormatUint(s/86400, 10) + "d"
	}
	return strconv.FormatUint(s/(365*86400), 10) + "y"
}

// precise renders a number of seconds in its two largest units: 12s, 4m12s,
// 3h4m, 2d3h.
func precise(s uint64) string {
	switch {
	case s < 60:
		return strconv.FormatUint(s, 10) + "s"
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s < 365*86400:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	}
	return coarse(s)
}

// ago renders when a past (or, for a skewed record, future) instant lies
// relative to now: "3m ago", "just now", "in 5m".
func ago(now, at uint64) string {
	d, future := secs(now, at)
	switch {
	case d == 0:
		return "just now"
	case future:
		return "in " + coarse(d)
	}
	return coarse(d) + " ago"
}

// countdown renders an expiry relative to now: "in 4m12s" while live,
// "expired 12s ago" after (SPEC §2.2: expired iff now >= expires).
func countdown(now, expires uint64) string {
	d, future := secs(now, expires)
	if future && d > 0 {
		return "in " + precise(d)
	}
	if d == 0 {
		return "expired just now"
	}
	return "expired " + coarse(d) + " ago"
}

// unixTime converts whole lease seconds to a time, clamped to what time.Time
// can hold.
func unixTime(u uint64) time.Time {
	if u > math.MaxInt64 {
		u = math.MaxInt64
	}
	return time.Unix(int64(u), 0)
}

// absolute renders lease seconds in UTC and in loc, or as a bare number when
// they lie beyond year 9999.
func absolute(u uint64, loc *time.Location) string {
	if u > maxUnixDisplay {
		return fmt.Sprintf("unix %d (beyond year 9999)", u)
	}
	t := unixTime(u)
	utc, local := t.UTC(), t.In(loc)
	if name, off := local.Zone(); off == 0 && (name == "UTC" || name == "GMT") {
		return utc.Format("2006-01-02 15:04:05 MST")
	}
	layout := "15:04:05 MST"
	if local.Format(time.DateOnly) != utc.Format(time.DateOnly) {
		layout = "2006-01-02 15:04:05 MST"
	}
	return utc.Format("2006-01-02 15:04:05 MST") + " · local " + local.Format(layout)
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

// lastSegment is what the operator types to confirm a takeover or a release:
// the part of the key after the last '/' or '.', or the whole key. It is the
// CLI's rule, so the muscle memory carries over.
func lastSegment(key string) string {
	if i := strings.LastIndexAny(key, "/."); i >= 0 && i < len(key)-1 {
		return key[i+1:]
	}
	return key
}

// cellWidth returns the cells s takes, at once for plain ASCII.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// pad cuts s (already clean) to w cells and pads it with spaces to exactly w.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, safetext.Ellipsis)
		sw = cellWidth(s)
	}
	return s + strings.Repeat(" ", w-sw)
}

// padLeft is pad, right-aligned.
func padLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, safetext.Ellipsis)
	}
	return strings.Repeat(" ", w-sw) + s
}

// maxRawDisplay bounds how much of a value the detail view renders: a lease
// record is ~150 bytes; anything far larger is shown in part.
const maxRawDisplay = 16 << 10

// rawLines renders a stored value for the detail view: pretty, coloured JSON
// when it is valid UTF-8 JSON, the cleaned text when it is other UTF-8, and a
// hex dump when it is not UTF-8. Everything that reaches the terminal goes
// through safetext.
func rawLines(s *Styles, value []byte, width int) []string {
	switch {
	case len(value) == 0:
		return []string{s.Dim.Render("(zero-length value: a tombstone)")}
	case !utf8.Valid(value):
		return hexDump(value, s)
	}
	cut := value
	var more []string
	if len(cut) > maxRawDisplay {
		more = []string{s.Dim.Render(fmt.Sprintf("… %d more bytes not shown", len(value)-maxRawDisplay))}
		cut = cut[:maxRawDisplay]
		// Never cut inside a UTF-8 sequence.
		for len(cut) > 0 && !utf8.Valid(cut) {
			cut = cut[:len(cut)-1]
		}
	}
	if json.Valid(cut) {
		var b bytes.Buffer
		if err := json.Indent(&b, cut, "", "  "); err == nil {
			return append(colourJSON(s, b.String()), more...)
		}
	}
	text := safetext.Clean(string(cut))
	return append(strings.Split(ansi.Hardwrap(text, max(width, 16), true), "\n"), more...)
}

// colourJSON colours indented JSON token by token: keys, strings, numbers,
// literals and punctuation. String contents are cleaned (a JSON string may
// legally hold bidi overrides, which safetext neutralises).
func colourJSON(s *Styles, indented string) []string {
	lines := strings.Split(indented, "\n")
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		var b strings.Builder
		for i := 0; i < len(line); {
			c := line[i]
			switch {
			case c == ' ':
				j := i
				for j < len(line) && line[j] == ' ' {
					j++
				}
				b.WriteString(line[i:j])
				i = j
			case c == '"':
				j := i + 1
				for j < len(line) && line[j] != '"' {
					if line[j] == '\\' {
						j++
					}
					j++
				}
				j = min(j+1, len(line))
				tok := safetext.Clean(line[i:j])
				if j < len(line) && line[j] == ':' {
					b.WriteString(s.JSONKey.Render(tok))
				} else {
					b.WriteString(s.JSONString.Render(tok))
				}
				i = j
			case c == '-' || (c >= '0' && c <= '9'):
				j := i + 1
				for j < len(line) && strings.IndexByte("0123456789.eE+-", line[j]) >= 0 {
					j++
				}
				b.WriteString(s.JSONNumber.Render(line[i:j]))
				i = j
			case c == 't' || c == 'f' || c == 'n':
				j := i
				for j < len(line) && line[j] >= 'a' && line[j] <= 'z' {
					j++
				}
				b.WriteString(s.JSONLiteral.Render(line[i:j]))
				i = max(j, i+1)
			default:
				b.WriteString(s.JSONPunct.Render(safetext.Clean(line[i : i+1])))
				i++
			}
		}
		out = append(out, b.String())
	}
	return out
}

// hexDump renders bytes as offset, hex and printable ASCII, 16 per line.
func hexDump(value []byte, s *Styles) []string {
	var out []string
	cut := value
	if len(cut) > maxRawDisplay {
		cut = cut[:maxRawDisplay]
	}
	for off := 0; off < len(cut); off += 16 {
		chunk := cut[off:min(off+16, len(cut))]
		var hx, asc strings.Builder
		for i := range 16 {
			if i == 8 {
				hx.WriteByte(' ')
			}
			if i < len(chunk) {
				fmt.Fprintf(&hx, "%02x ", chunk[i])
				if c := chunk[i]; c >= 0x20 && c < 0x7f {
					asc.WriteByte(c)
				} else {
					asc.WriteByte('.')
				}
			} else {
				hx.WriteString("   ")
			}
		}
		out = append(out, s.Dim.Render(fmt.Sprintf("%08x", off))+"  "+hx.String()+" |"+asc.String()+"|")
	}
	if len(value) > len(cut) {
		out = append(out, s.Dim.Render(fmt.Sprintf("… %d more bytes not shown", len(value)-len(cut))))
	}
	return out
}

// compactRaw renders a value on one line for the history and the takeover
// preview: the cleaned bytes, or a note for a tombstone or non-UTF-8 bytes.
func compactRaw(value []byte) string {
	switch {
	case len(value) == 0:
		return "(tombstone: empty value)"
	case !utf8.Valid(value):
		return fmt.Sprintf("(%d bytes, not UTF-8)", len(value))
	}
	return safetext.Clean(string(value))
}

// describe summarises a status in words: "held by node-a", "corrupt: missing
// field …". The holder and reason are cleaned.
func describe(st lease.Status) string {
	switch st.State {
	case lease.Held, lease.Expired:
		return st.State.String() + " by " + safetext.Clean(st.Record.HolderID)
	case lease.Corrupt:
		return "corrupt: " + safetext.Clean(st.Reason)
	}
	return st.State.String()
}
