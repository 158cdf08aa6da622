package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key returns how a lease key is shown: the key itself when it is plain,
// and otherwise the key quoted and escaped like a Go string literal, so
// that two different keys never look the same and strconv.Unquote gives
// the exact bytes back.
//
// A key is plain when it is not empty, does not start with a double quote,
// has no space at either end and no two spaces in a row, and holds nothing
// but printable ASCII and code points that Clean keeps as they are and that
// stand alone (CJK, accented letters). Anything else is quoted:
//
//	exports/orders        exports/orders
//	exports/<0xff>        "exports/\xff"        (not UTF-8)
//	exports/<ESC>[2J      "exports/\x1b[2J"
//	"exports/   "         "exports/   "         (the quotes show the spaces)
//	exports/a\xff         exports/a\xff         (a backslash: plain)
//	"quoted"              "\"quoted\""
//	exports/😀            "exports/\U0001f600"
//	exports/cafe+U+0301   "exports/cafe\u0301"  (a combining accent: the
//	                                             key differs from café)
//
// Inside the quotes a backslash and a double quote are escaped (\\, \"),
// and every byte or code point that is not plain is escaped: \xNN for a
// byte that is not UTF-8 and for C0 controls and DEL (\a \b \f \n \r \t
// \v for theirs), \uNNNN or \UNNNNNNNN for any other code point, including
// non-ASCII spaces, zero-width code points and the stand-ins Clean and
// Truncate print (␛, U+FFFD, …). Spaces stay: the quotes show where they
// are. The result is clean: Clean and Width take it as it is.
//
// Show keys with Key and act on the bytes of the key, never on what Key
// returned; Key is also the display function to hand lease.Confirmed.
func Key(key string) string {
	if plainKey(key) {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 8)
	b.WriteByte('"')
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			writeKeyByte(&b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(key[i:])
		switch {
		case size == 1: // not UTF-8
			writeHexByte(&b, c)
		case plainRune(r):
			b.WriteString(key[i : i+size])
		default:
			writeEscape(&b, r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// plainKey reports whether key is shown as it is.
func plainKey(key string) bool {
	if key == "" || key[0] == '"' || key[0] == ' ' || key[len(key)-1] == ' ' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == ' ' && key[i+1] == ' ': // not the last byte: checked above
			return false
		case c >= 0x20 && c < 0x7f:
		case c < utf8.RuneSelf:
			return false
		default:
			r, size := utf8.DecodeRuneInString(key[i:])
			if size == 1 || !plainRune(r) {
				return false
			}
			i += size - 1
		}
	}
	return true
}

// plainRune reports whether the non-ASCII code point r appears in a key as
// itself: it is safe on its own and never joins its neighbours, it is no
// space and draws no blank (a no-break space looks like a space), and it
// is none of the stand-ins this package prints.
func plainRune(r rune) bool {
	switch {
	case lookup(r)&attrSimple == 0, unicode.Is(unicode.Zs, r),
		r == 0x115f, r == 0x1160, r == 0x2800, r == 0x3164, r == 0xffa0, // fillers and blank braille
		r >= 0x2400 && r <= 0x2421, r == utf8.RuneError, r == '…':
		return false
	}
	return true
}

// writeKeyByte writes one ASCII byte of a quoted key.
func writeKeyByte(b *strings.Builder, c byte) {
	switch c {
	case '"', '\\':
		b.WriteByte('\\')
		b.WriteByte(c)
	case '\a':
		b.WriteString(`\a`)
	case '\b':
		b.WriteString(`\b`)
	case '\f':
		b.WriteString(`\f`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case '\v':
		b.WriteString(`\v`)
	default:
		if c < 0x20 || c == 0x7f {
			writeHexByte(b, c)
		} else {
			b.WriteByte(c)
		}
	}
}

// writeHexByte writes c as \xNN.
func writeHexByte(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}
