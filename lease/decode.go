package lease

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode parses b as a lease record, exactly as strictly as serde_json does on
// the Rust side (docs/design.md §2.1): valid UTF-8, one JSON object and
// nothing but whitespace after it; holder_id, acquired_at_unix and expires_at_unix
// present, non-null and of the right type; integers plain decimal in
// 0..2^64-1; completed_cursor_hex and completed_at_unix absent, null or of the
// right type; names matched case-sensitively after unescaping; a known name
// may not appear twice; unknown fields, whatever valid JSON they hold, are
// ignored (and may repeat, as with serde).
//
// Every rejection, including the zero-length tombstone, is a *CorruptError
// whose Reason says why. One deliberate divergence from serde: serde also
// accepts the record written as a JSON array in field order; Decode rejects
// it.
func Decode(b []byte) (Record, error) {
	p := parser{b: b}
	r, err := p.record()
	if err != nil {
		return Record{}, &CorruptError{Reason: err.Error(), Raw: bytes.Clone(b)}
	}
	return r, nil
}

// The fields of a record, in the order of docs/design.md §2.
const (
	fieldHolder = iota
	fieldAcquired
	fieldExpires
	fieldCursor
	fieldCompletedAt
	numFields
)

var fieldNames = [numFields]string{
	"holder_id",
	"acquired_at_unix",
	"expires_at_unix",
	"completed_cursor_hex",
	"completed_at_unix",
}

func fieldIndex(name []byte) int {
	for i, n := range fieldNames {
		if string(name) == n {
			return i
		}
	}
	return -1
}

// maxSnippet bounds how much of a value an error message quotes.
const maxSnippet = 40

// parser is a strict, non-recursive JSON reader over b. Offsets in its
// errors count bytes from 0.
type parser struct {
	b []byte
	i int
}

func (p *parser) record() (Record, error) {
	if len(p.b) == 0 {
		return Record{}, errors.New("empty value (tombstone)")
	}
	if i := invalidUTF8(p.b); i >= 0 {
		return Record{}, fmt.Errorf("invalid UTF-8 at byte %d", i)
	}
	if bytes.HasPrefix(p.b, []byte("\uFEFF")) {
		return Record{}, errors.New("invalid JSON: byte order mark (U+FEFF) at byte 0")
	}
	p.ws()
	if p.eof() {
		return Record{}, p.syntax("no value, only whitespace")
	}
	c := p.b[p.i]
	if c == '{' {
		r, err := p.object()
		if err != nil {
			return Record{}, err
		}
		if err := p.end(); err != nil {
			return Record{}, err
		}
		return r, nil
	}
	found, err := p.describeValue()
	if err != nil {
		return Record{}, err
	}
	if err := p.end(); err != nil {
		return Record{}, err
	}
	if c == '[' {
		return Record{}, errors.New("JSON array is not accepted (serde accepts it; leasectl does not)")
	}
	return Record{}, fmt.Errorf("expected a JSON object, found %s", found)
}

// end accepts trailing whitespace and nothing else.
func (p *parser) end() error {
	p.ws()
	if !p.eof() {
		return fmt.Errorf("trailing characters at byte %d", p.i)
	}
	return nil
}

// object reads the record object; p.i is at its '{'.
func (p *parser) object() (Record, error) {
	var (
		r    Record
		seen [numFields]bool
	)
	p.i++
	p.ws()
	if !p.eof() && p.b[p.i] == '}' {
		p.i++
		return r, missing(seen)
	}
	for {
		p.ws()
		if p.eof() || p.b[p.i] != '"' {
			return r, p.unexpected("a field name (a string)")
		}
		name, err := p.str(true)
		if err != nil {
			return r, err
		}
		if err := p.colon(); err != nil {
			return r, err
		}
		if f := fieldIndex(name); f >= 0 {
			if seen[f] {
				return r, fmt.Errorf("duplicate field %s", fieldNames[f])
			}
			seen[f] = true
			if err := p.field(f, &r); err != nil {
				return r, err
			}
		} else if err := p.skipValue(); err != nil {
			return r, err
		}
		p.ws()
		if p.eof() {
			return r, p.unexpected("',' or '}'")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
			if !p.eof() && p.b[p.i] == '}' {
				return r, p.syntax("trailing comma at byte %d", p.i)
			}
		case '}':
			p.i++
			return r, missing(seen)
		default:
			return r, p.unexpected("',' or '}'")
		}
	}
}

// missing reports the first required field not seen, in the order of
// docs/design.md §2.
func missing(seen [numFields]bool) error {
	for _, f := range []int{fieldHolder, fieldAcquired, fieldExpires} {
		if !seen[f] {
			return fmt.Errorf("missing field %s", fieldNames[f])
		}
	}
	return nil
}

// colon reads the ':' after a field name and the whitespace after it.
func (p *parser) colon() error {
	p.ws()
	if p.eof() || p.b[p.i] != ':' {
		return p.unexpected("':'")
	}
	p.i++
	p.ws()
	return nil
}

// field reads the value of known field f into r.
func (p *parser) field(f int, r *Record) error {
	name := fieldNames[f]
	if p.eof() {
		return p.unexpected("a value")
	}
	nullable := f == fieldCursor || f == fieldCompletedAt
	if nullable && p.b[p.i] == 'n' {
		return p.literal("null")
	}
	switch f {
	case fieldHolder, fieldCursor:
		if p.b[p.i] != '"' {
			return p.typeError(name, "a string", nullable)
		}
		s, err := p.str(true)
		if err != nil {
			return err
		}
		if f == fieldHolder {
			r.HolderID = string(s)
		} else {
			r.CompletedCursorHex = string(s)
		}
		return nil
	}
	c := p.b[p.i]
	if c != '-' && !isDigit(c) {
		return p.typeError(name, "an unsigned integer", nullable)
	}
	start := p.i
	if err := p.number(); err != nil {
		return err
	}
	lit := p.b[start:p.i]
	for _, d := range lit {
		if !isDigit(d) {
			return fmt.Errorf("field %s: expected an unsigned integer, found %s", name, snippet(lit))
		}
	}
	v, err := strconv.ParseUint(string(lit), 10, 64)
	if err != nil {
		return fmt.Errorf("field %s: %s does not fit in an unsigned 64-bit integer (max %d)", name, snippet(lit), uint64(1<<64-1))
	}
	switch f {
	case fieldAcquired:
		r.AcquiredAtUnix = v
	case fieldExpires:
		r.ExpiresAtUnix = v
	case fieldCompletedAt:
		r.CompletedAtUnix = &v
	}
	return nil
}

// typeError reads the value at p.i and reports that field name wanted
// something else. A value that is not even valid JSON reports its syntax
// error instead.
func (p *parser) typeError(name, want string, nullable bool) error {
	found, err := p.describeValue()
	if err != nil {
		return err
	}
	if nullable {
		want += " or null"
	}
	return fmt.Errorf("field %s: expected %s, found %s", name, want, found)
}

// describeValue reads the JSON value at p.i and describes it for an error
// message.
func (p *parser) describeValue() (string, error) {
	start := p.i
	if err := p.skipValue(); err != nil {
		return "", err
	}
	switch p.b[start] {
	case '"':
		return "a string " + snippet(p.b[start:p.i]), nil
	case '[':
		return "an array", nil
	case '{':
		return "an object", nil
	}
	return snippet(p.b[start:p.i]), nil
}

// skipValue reads one JSON value of any type without building it. Nesting is
// tracked on a heap stack, so depth costs no goroutine stack; like serde's
// ignore_value it has no depth limit and does not validate surrogate pairs in
// the strings it skips.
func (p *parser) skipValue() error {
	var stack []byte // open '{' and '['
	for {
		p.ws()
		if p.eof() {
			return p.unexpected("a value")
		}
		switch c := p.b[p.i]; {
		case c == '{' || c == '[':
			p.i++
			p.ws()
			if !p.eof() && p.b[p.i] == closer(c) {
				p.i++
				break // an empty container is a complete value
			}
			stack = append(stack, c)
			if c == '{' {
				if err := p.skipName(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, err := p.str(false); err != nil {
				return err
			}
		case c == 't':
			if err := p.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := p.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := p.literal("null"); err != nil {
				return err
			}
		case c == '-' || isDigit(c):
			if err := p.number(); err != nil {
				return err
			}
		default:
			return p.unexpected("a value")
		}
		// A value is complete: close what it completes, or step past the
		// ',' to the next element.
	next:
		for {
			if len(stack) == 0 {
				return nil
			}
			open := stack[len(stack)-1]
			p.ws()
			switch {
			case p.eof():
				return p.unexpected(fmt.Sprintf("',' or '%c'", closer(open)))
			case p.b[p.i] == ',':
				p.i++
				if open == '{' {
					if err := p.skipName(); err != nil {
						return err
					}
				}
				break next
			case p.b[p.i] == closer(open):
				p.i++
				stack = stack[:len(stack)-1]
			default:
				return p.unexpected(fmt.Sprintf("',' or '%c'", closer(open)))
			}
		}
	}
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// skipName reads a field name and its ':' inside a skipped object.
func (p *parser) skipName() error {
	p.ws()
	if p.eof() || p.b[p.i] != '"' {
		return p.unexpected("a field name (a string)")
	}
	if _, err := p.str(false); err != nil {
		return err
	}
	return p.colon()
}

// literal reads the keyword want (true, false or null) at p.i.
func (p *parser) literal(want string) error {
	for k := 0; k < len(want); k++ {
		if p.eof() || p.b[p.i] != want[k] {
			return p.unexpected(fmt.Sprintf("%q", want))
		}
		p.i++
	}
	return nil
}

// number reads a JSON number at p.i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.eof() || !isDigit(p.b[p.i]) {
		return p.unexpected("a digit")
	}
	if p.b[p.i] == '0' {
		p.i++
		if !p.eof() && isDigit(p.b[p.i]) {
			return p.syntax("number with a leading zero at byte %d", start)
		}
	} else {
		p.digits()
	}
	if !p.eof() && p.b[p.i] == '.' {
		p.i++
		if p.eof() || !isDigit(p.b[p.i]) {
			return p.unexpected("a digit")
		}
		p.digits()
	}
	if !p.eof() && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.eof() && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.eof() || !isDigit(p.b[p.i]) {
			return p.unexpected("a digit")
		}
		p.digits()
	}
	return nil
}

func (p *parser) digits() {
	for !p.eof() && isDigit(p.b[p.i]) {
		p.i++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// str reads the JSON string whose opening quote is at p.i. With decode it
// returns the unescaped value (aliasing p.b when there was nothing to
// unescape) and, like serde_json when it builds a String, rejects an escaped
// UTF-16 surrogate that is not part of a pair; without, it only checks the
// grammar, like serde_json skipping an ignored value.
func (p *parser) str(decode bool) ([]byte, error) {
	p.i++
	var (
		buf     []byte
		escaped bool
	)
	start := p.i
	for {
		if p.eof() {
			return nil, p.syntax("unexpected end of input at byte %d inside a string", p.i)
		}
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !decode {
				return nil, nil
			}
			if !escaped {
				return s, nil
			}
			return append(buf, s...), nil
		case c == '\\':
			if decode {
				buf = append(buf, p.b[start:p.i]...)
				escaped = true
			}
			var err error
			if buf, err = p.escape(buf, decode); err != nil {
				return nil, err
			}
			start = p.i
		case c < 0x20:
			return nil, p.syntax("control character %U inside a string at byte %d (it must be escaped)", c, p.i)
		default:
			p.i++
		}
	}
}

// escape reads the escape sequence whose backslash is at p.i, appending what
// it stands for to buf when decode is set.
func (p *parser) escape(buf []byte, decode bool) ([]byte, error) {
	at := p.i
	p.i++
	if p.eof() {
		return buf, p.syntax("unexpected end of input at byte %d inside a string", p.i)
	}
	c := p.b[p.i]
	p.i++
	var b byte
	switch c {
	case '"', '\\', '/':
		b = c
	case 'b':
		b = '\b'
	case 'f':
		b = '\f'
	case 'n':
		b = '\n'
	case 'r':
		b = '\r'
	case 't':
		b = '\t'
	case 'u':
		u, err := p.hex4(at)
		if err != nil || !decode {
			return buf, err
		}
		r := rune(u)
		switch {
		case utf16.IsSurrogate(r) && u >= 0xDC00:
			return buf, fmt.Errorf("invalid string: unpaired UTF-16 surrogate escape \\u%04x at byte %d", u, at)
		case utf16.IsSurrogate(r):
			if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
				return buf, fmt.Errorf("invalid string: unpaired UTF-16 surrogate escape \\u%04x at byte %d", u, at)
			}
			p.i += 2
			lo, err := p.hex4(p.i - 2)
			if err != nil {
				return buf, err
			}
			if lo < 0xDC00 || lo > 0xDFFF {
				return buf, fmt.Errorf("invalid string: unpaired UTF-16 surrogate escape \\u%04x at byte %d", u, at)
			}
			r = utf16.DecodeRune(r, rune(lo))
		}
		return utf8.AppendRune(buf, r), nil
	default:
		p.i--
		r, _ := utf8.DecodeRune(p.b[p.i:])
		return buf, p.syntax("invalid escape \\%c at byte %d", r, at)
	}
	if decode {
		buf = append(buf, b)
	}
	return buf, nil
}

// hex4 reads the four hex digits of a \u escape that starts at byte at.
func (p *parser) hex4(at int) (uint16, error) {
	if p.i+4 > len(p.b) {
		p.i = len(p.b)
		return 0, p.syntax("unexpected end of input at byte %d inside a string", p.i)
	}
	var u uint16
	for k := 0; k < 4; k++ {
		c := p.b[p.i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.syntax("invalid \\u escape at byte %d", at)
		}
		u = u<<4 | uint16(d)
		p.i++
	}
	return u, nil
}

// ws skips JSON whitespace: space, tab, line feed, carriage return.
func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eof() bool { return p.i >= len(p.b) }

func (p *parser) syntax(format string, args ...any) error {
	return fmt.Errorf("invalid JSON: "+format, args...)
}

// unexpected reports that want was expected at p.i.
func (p *parser) unexpected(want string) error {
	if p.eof() {
		return p.syntax("unexpected end of input at byte %d, expected %s", p.i, want)
	}
	r, _ := utf8.DecodeRune(p.b[p.i:])
	return p.syntax("expected %s at byte %d, found %q", want, p.i, r)
}

// invalidUTF8 returns the offset of the first byte of b that is not part of a
// valid UTF-8 sequence, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// snippet quotes at most maxSnippet bytes of b for an error message, cut on a
// rune boundary.
func snippet(b []byte) string {
	if len(b) <= maxSnippet {
		return string(b)
	}
	n := maxSnippet
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}
