// Package safetext makes untrusted text from a store safe to print on a
// terminal. Lease keys and holder ids come from whoever can write the store;
// an escape sequence in a holder id could clear the operator's screen, retitle
// the window or hide a row. Clean replaces every control character with a
// visible stand-in, so nothing is interpreted and the operator can still see
// that something odd is there.
package safetext

import (
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Ellipsis marks text cut by Truncate.
const Ellipsis = "…"

// Clean returns s with every byte that a terminal could interpret made inert:
// C0 controls (including ESC, CR, LF and TAB) become their Unicode "control
// picture" (␛, ␍, ␊, ␉…), DEL becomes ␡, C1 controls and bidirectional
// overrides become U+FFFD, and invalid UTF-8 becomes U+FFFD. Printable text,
// including non-ASCII, is kept as is.
func Clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune('\u2421')
		case unsafeRune(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return isCleanSlow(s)
		}
	}
	return true
}

func isCleanSlow(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune reports C1 controls and the Unicode bidi controls that can
// reorder what the operator sees ("Trojan Source").
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) ||
		(r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// Truncate cleans s and cuts it to at most width terminal cells, ending in
// Ellipsis when cut. Wide characters are never split.
func Truncate(s string, width int) string {
	s = Clean(s)
	if width <= 0 {
		return ""
	}
	if cleanWidth(s) <= width {
		return s
	}
	if isPrintableASCII(s) {
		return s[:width-1] + Ellipsis
	}
	return ansi.Truncate(s, width, Ellipsis)
}

// Width returns the number of terminal cells s takes once cleaned.
func Width(s string) int { return cleanWidth(Clean(s)) }

// cleanWidth is the width of s, already clean: one cell a byte for
// printable ASCII (the common case, and much cheaper than measuring
// grapheme clusters).
func cleanWidth(s string) int {
	if isPrintableASCII(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

// isPrintableASCII reports whether s is nothing but printable ASCII.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Elide cleans s and fits it into width terminal cells by cutting out its
// middle: the first cells, Ellipsis, then the last tail cells (fewer when
// width leaves no room for them and one cell of head). Use it for names whose
// end tells them apart, such as keys that differ only in their last segment.
func Elide(s string, width, tail int) string {
	s = Clean(s)
	if width <= 0 {
		return ""
	}
	w := cleanWidth(s)
	if w <= width {
		return s
	}
	if width == 1 {
		return Ellipsis
	}
	tail = max(0, min(tail, width-2)) // leave a cell of head and the ellipsis
	head := width - 1 - tail
	if isPrintableASCII(s) {
		return s[:head] + Ellipsis + s[len(s)-tail:]
	}
	return ansi.Truncate(s, head, "") + Ellipsis + ansi.TruncateLeft(s, w-tail, "")
}

// JSON returns the encoded JSON document doc made safe to print on a
// terminal without changing what it decodes to: every rune that Clean would
// replace — C0 and C1 controls, DEL, bidirectional controls — is written as
// a \uXXXX escape inside strings, where it means the same rune (encoding/json
// escapes C0 controls but writes DEL, C1 controls and U+202E raw). Invalid
// UTF-8 inside a string becomes \ufffd, as encoding/json would decode it.
// Outside strings a valid document holds only ASCII punctuation, literals
// and whitespace; anything else there is escaped the same way, which leaves
// an invalid document invalid but inert.
func JSON(doc []byte) []byte {
	if jsonIsSafe(doc) {
		return doc
	}
	out := make([]byte, 0, len(doc)+32)
	inString := false
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case inString && c == '\\' && i+1 < len(doc) && doc[i+1] > 0x20 && doc[i+1] < 0x7f:
			// An escape: its next byte is ASCII and never ends the string.
			out = append(out, c, doc[i+1])
			i += 2
			continue
		case c == '"':
			inString = !inString
		case !inString && (c == '\t' || c == '\n' || c == '\r'):
		case c < 0x20 || c == 0x7f:
			out = appendJSONEscape(out, rune(c))
			i++
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(doc[i:])
			if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
				out = appendJSONEscape(out, r)
			} else {
				out = append(out, doc[i:i+size]...)
			}
			i += size
			continue
		}
		out = append(out, c)
		i++
	}
	return out
}

// jsonIsSafe reports whether doc has nothing JSON would escape: no control
// bytes but whitespace, and no non-ASCII rune that a terminal interprets.
func jsonIsSafe(doc []byte) bool {
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == '\t' || c == '\n' || c == '\r':
		case c < 0x20 || c == 0x7f:
			return false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(doc[i:])
			if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
				return false
			}
			i += size
			continue
		}
		i++
	}
	return true
}

// appendJSONEscape appends r as a JSON \uXXXX escape; every rune escaped
// here lies in the Basic Multilingual Plane.
func appendJSONEscape(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// Writer writes everything through Clean to an underlying writer, keeping
// line breaks: a last line of defence for output streams such as stderr,
// so that nothing written there can be interpreted by the terminal however
// it was built. A rune split across two writes is joined, not mangled. A
// Writer is safe for concurrent use: a signal handler and a command may
// both write to stderr.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte // the start of a rune cut by the end of the last write
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write cleans p and writes it. It reports len(p) written unless the
// underlying writer fails.
func (sw *Writer) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	b := p
	if len(sw.pending) > 0 {
		b = append(sw.pending, p...)
		sw.pending = nil
	}
	// Hold back an incomplete rune at the end for the next write.
	if cut := incompleteTail(b); cut > 0 {
		sw.pending = append([]byte(nil), b[len(b)-cut:]...)
		b = b[:len(b)-cut]
	}
	if _, err := sw.w.Write(cleanLines(b)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out what is held of an incomplete rune, as U+FFFD.
func (sw *Writer) Flush() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if len(sw.pending) == 0 {
		return nil
	}
	b := sw.pending
	sw.pending = nil
	_, err := sw.w.Write([]byte(Clean(string(b))))
	return err
}

// incompleteTail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet.
func incompleteTail(b []byte) int {
	for n := 1; n <= utf8.UTFMax-1 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-n:]) {
				return 0
			}
			return n
		}
	}
	return 0
}

// cleanLines is Clean applied to each line of b, line breaks kept.
func cleanLines(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = Clean(l)
	}
	return []byte(strings.Join(lines, "\n"))
}
