// Package jsonstr appends strings to JSON exactly as encoding/json writes
// them, without its reflection: for the hand-written encoders of fixed
// shapes (leasectl ls -o json, the gateway's listings and events) whose
// output must stay byte for byte what encoding/json would write.
package jsonstr

import "unicode/utf8"

const hex = "0123456789abcdef"

// plain marks the ASCII bytes encoding/json copies into a string as they
// are (with its default HTML escaping): printable ASCII but '"', '\\', '<',
// '>' and '&'; and DEL.
var plain = func() (p [utf8.RuneSelf]bool) {
	for c := byte(0x20); c <= 0x7f; c++ {
		p[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return p
}()

// Append appends s as a JSON string exactly as encoding/json writes it:
// '"', '\\' and control characters escaped (\b \f \n \r \t by name), so
// are '<', '>', '&', U+2028 and U+2029, and each invalid UTF-8 byte becomes
// \ufffd. ascii reports whether s held only ASCII below DEL, which a
// caller that cleans what it writes for a terminal can skip.
func Append(b []byte, s string) (out []byte, ascii bool) {
	b = append(b, '"')
	ascii = true
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				ascii = ascii && c != 0x7f
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
		ascii = false
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
	return append(b, '"'), ascii
}
