// Package safetext makes untrusted text from a store safe to print on a
// terminal. Lease keys and holder ids come from whoever can write the store;
// an escape sequence in a holder id could clear the operator's screen, retitle
// the window or hide a row, and an emoji sequence that terminals measure
// differently pushes every later column out of line. Clean replaces every
// control character with a visible stand-in and escapes every cluster that
// terminals disagree on, so nothing is interpreted, every column stays where
// Width says, and the operator can still see that something odd is there.
// Key shows a lease key so that two different keys never look the same.
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

// Clean returns s made safe to print and to measure:
//
//   - every byte a terminal could interpret is made inert: C0 controls
//     (including ESC, CR, LF and TAB) become their Unicode "control picture"
//     (␛, ␍, ␊, ␉…), DEL becomes ␡, C1 controls and bidirectional overrides
//     become U+FFFD, and invalid UTF-8 becomes U+FFFD;
//   - every grapheme cluster that terminals draw in different widths is
//     escaped code point by code point, Go style (\U0001f600, \u200d), keeping
//     its first code point when that one alone is safe: emoji sequences
//     (👩‍👩‍👧‍👦, 👍🏽, 🇯🇵, ❤️ becomes ❤\ufe0f, 1️⃣ becomes 1\ufe0f\u20e3), emoji
//     that old tables make narrow (😀, ☕), invisible format characters,
//     private-use and unassigned code points, and clusters whose grapheme
//     width is not the sum of their code points' widths (का, ｶﾞ).
//
// Everything else, including CJK, accents and box drawing, is kept as is.
// What Clean returns takes exactly Width cells in tmux, xterm.js and
// terminals that cluster graphemes alike (width.go says how).
func Clean(s string) string {
	if _, ok := simpleWidth(s); ok {
		return s
	}
	// b is started at the first change: text that needs segmenting but
	// is safe (accents) comes back as it is, without a copy.
	var b strings.Builder
	done := 0 // s[:done] is in b, once started
	change := func(at int) *strings.Builder {
		if b.Cap() == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[done:at])
		return &b
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && (i+1 == len(s) || s[i+1] < utf8.RuneSelf) {
			// Printable ASCII not followed by a mark: a cluster of its own.
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if stand, ok := standIn(r, size); ok {
			change(i).WriteRune(stand)
			i += size
			done = i
			continue
		}
		cluster, width := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
		// A cluster never holds a control, but be sure it ends before
		// anything that needs a stand-in.
		for j := size; j < len(cluster); {
			r, n := utf8.DecodeRuneInString(cluster[j:])
			if _, ok := standIn(r, n); ok {
				cluster, width = cluster[:j], -1
				break
			}
			j += n
		}
		if !keepCluster(cluster, width) {
			writeEscaped(change(i), cluster)
			done = i + len(cluster)
		}
		i += len(cluster)
	}
	if b.Cap() == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// standIn returns the visible stand-in of the rune r, size bytes long,
// when a terminal could interpret it.
func standIn(r rune, size int) (rune, bool) {
	switch {
	case r == utf8.RuneError && size <= 1:
		return utf8.RuneError, true
	case r < 0x20:
		return 0x2400 + r, true
	case r == 0x7f:
		return '\u2421', true
	case unsafeRune(r):
		return utf8.RuneError, true
	}
	return 0, false
}

// keepCluster reports whether a grapheme cluster, width cells wide as a
// grapheme, is printed as it is: one code point every terminal gives that
// width, which starts a cluster whatever surrounds it, followed only by
// code points every terminal gives no width.
func keepCluster(cluster string, width int) bool {
	first, n := utf8.DecodeRuneInString(cluster)
	a := runeAttr(first)
	if a&attrBase == 0 || int(a&attrWidth) != width {
		return false
	}
	for _, r := range cluster[n:] {
		if ra := lookup(r); ra&attrAgreed == 0 || ra&attrWidth != 0 {
			return false
		}
	}
	return true
}

// writeEscaped writes a cluster that keepCluster refused, escaped code
// point by code point. The first code point stays when it is safe on its
// own (an escape after it joins nothing), and so does a later one that
// never joins its neighbours, after an escape: क्ष becomes क\u094dष.
func writeEscaped(b *strings.Builder, cluster string) {
	first, n := utf8.DecodeRuneInString(cluster)
	escaped := runeAttr(first)&attrBase == 0
	if escaped {
		writeEscape(b, first)
	} else {
		b.WriteString(cluster[:n])
	}
	for _, r := range cluster[n:] {
		if escaped && runeAttr(r)&attrSimple != 0 {
			b.WriteRune(r)
			escaped = false
			continue
		}
		writeEscape(b, r)
		escaped = true
	}
}

// writeEscape writes r as a Go escape: \u followed by four hex digits, or
// \U and eight.
func writeEscape(b *strings.Builder, r rune) {
	const hex = "0123456789abcdef"
	if r < 0x10000 {
		b.WriteString(`\u`)
		for s := 12; s >= 0; s -= 4 {
			b.WriteByte(hex[r>>s&0xf])
		}
		return
	}
	b.WriteString(`\U`)
	for s := 28; s >= 0; s -= 4 {
		b.WriteByte(hex[r>>s&0xf])
	}
}

// runeAttr is lookup, with printable ASCII answered at once.
func runeAttr(r rune) attr {
	if r >= 0x20 && r < 0x7f {
		return 1 | attrAgreed | attrBase | attrSimple
	}
	return lookup(r)
}

// simpleWidth returns the width of s when s is nothing but printable ASCII
// and code points that are safe and never join their neighbours (CJK,
// accented letters, box drawing…): such a string is clean as it is, one
// cluster per code point.
func simpleWidth(s string) (int, bool) {
	w := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			w++
			continue
		}
		if c < utf8.RuneSelf {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		a := lookup(r)
		if a&attrSimple == 0 || size == 1 { // size 1: invalid UTF-8
			return 0, false
		}
		w += int(a & attrWidth)
		i += size - 1
	}
	return w, true
}

// unsafeRune reports C1 controls and the Unicode bidi controls that can
// reorder what the operator sees ("Trojan Source").
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) ||
		(r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// Width returns the number of terminal cells s takes once cleaned: the
// same in every terminal.
func Width(s string) int {
	if w, ok := simpleWidth(s); ok {
		return w
	}
	return cleanWidth(Clean(s))
}

// cleanWidth is the width of s, already clean: the sum of its code
// points' widths (a cluster Clean keeps is one code point of its width
// followed by zero-width ones).
func cleanWidth(s string) int {
	w := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf {
			w++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		w += int(lookup(r) & attrWidth)
		i += size - 1
	}
	return w
}

// prefix returns how many bytes of s, already clean, fit into width cells
// without splitting a cluster (a cluster of s starts at each code point
// that takes a cell), and how many cells they take.
func prefix(s string, width int) (n, cells int) {
	for i := 0; i < len(s); {
		c := s[i]
		w, size := 1, 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			w = int(lookup(r) & attrWidth)
		}
		if w > 0 && cells+w > width {
			return i, cells
		}
		cells += w
		i += size
	}
	return len(s), cells
}

// suffix returns the byte offset in s, already clean, of the longest end
// that fits into width cells without splitting a cluster.
func suffix(s string, width int) int {
	total := cleanWidth(s)
	skip := total - width
	if skip <= 0 {
		return 0
	}
	cells := 0
	for i := 0; i < len(s); {
		c := s[i]
		w, size := 1, 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			w = int(lookup(r) & attrWidth)
		}
		if w > 0 && cells >= skip {
			return i
		}
		cells += w
		i += size
	}
	return len(s)
}

// Truncate cleans s and cuts it to at most width terminal cells, ending in
// Ellipsis when cut. Clusters (a wide character, a letter and its accents)
// are never split.
func Truncate(s string, width int) string {
	s = Clean(s)
	if width <= 0 {
		return ""
	}
	if cleanWidth(s) <= width {
		return s
	}
	n, _ := prefix(s, width-1)
	return s[:n] + Ellipsis
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
	if cleanWidth(s) <= width {
		return s
	}
	if width == 1 {
		return Ellipsis
	}
	tail = max(0, min(tail, width-2)) // leave a cell of head and the ellipsis
	head, _ := prefix(s, width-1-tail)
	return s[:head] + Ellipsis + s[max(suffix(s, tail), head):]
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

// Writer writes everything through neutralize to an underlying writer, keeping
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
	_, err := sw.w.Write([]byte(neutralize(string(b))))
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

// cleanLines is neutralize applied to each line of b, line breaks kept.
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
		lines[i] = neutralize(l)
	}
	return []byte(strings.Join(lines, "\n"))
}

// neutralize is the first half of Clean: it replaces what a terminal could
// interpret with the same stand-ins, and leaves every other cluster alone.
// The Writer uses it: what passes through it may be JSON, whose strings
// must decode as they were, and any table in it was laid out with Clean
// already.
func neutralize(s string) string {
	ok := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if _, bad := standIn(r, size); bad {
			ok = false
			break
		}
		i += size
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if stand, bad := standIn(r, size); bad {
			r = stand
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}
