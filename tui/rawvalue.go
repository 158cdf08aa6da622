package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/safetext"
)

// A stored value as the console shows it: in full in the detail view (JSON,
// text or a hex dump), or on one line in a history or a preview. Every byte
// that reaches the terminal goes through safetext.

// maxRawDisplay bounds how much of a value the detail view renders: a lease
// record is ~150 bytes; anything far larger is shown in part.
const maxRawDisplay = 16 << 10

// valueKind names what a stored value is, as the detail view labels it:
// "empty", "binary (hex)" when it is not UTF-8 (shown as a hex dump),
// "JSON" when it is valid JSON, whatever a lease record would need, and
// "text" for any other UTF-8.
func valueKind(value []byte) string {
	switch {
	case len(value) == 0:
		return "empty"
	case !utf8.Valid(value):
		return "binary (hex)"
	case json.Valid(value):
		return "JSON"
	}
	return "text"
}

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
