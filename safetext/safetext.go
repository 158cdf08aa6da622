// Package safetext makes untrusted text from a store safe to print on a
// terminal. Lease keys and holder ids come from whoever can write the store;
// an escape sequence in a holder id could clear the operator's screen, retitle
// the window or hide a row. Clean replaces every control character with a
// visible stand-in, so nothing is interpreted and the operator can still see
// that something odd is there.
package safetext

import (
	"strings"
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
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, Ellipsis)
}

// Width returns the number of terminal cells s takes once cleaned.
func Width(s string) int { return ansi.StringWidth(Clean(s)) }
