package consul

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/leasectl/leasectl/stores"
)

// The KV endpoint answers a listing as one JSON array of pairs,
//
//	[{"LockIndex":0,"Key":"a/1","Flags":0,"Value":"b25l","CreateIndex":7,"ModifyIndex":7},…]
//
// (indented on a -dev agent), and a keys listing as an array of strings.
// At fleet scale the array is tens of megabytes. The api client reads all of
// it into json.Decoder's buffer, doubling it as it grows, before decoding a
// single pair by reflection; pairScanner reads it through a small window and
// hands over one pair at a time, so that a caller can pass each entry on, or
// compare it with what it holds, before the next one arrives.

// scanWindow is the scanner's initial buffer: large enough that a read
// system call moves a useful amount, small enough to stay in cache. It grows
// only for a single pair larger than itself (a value near Consul's 512 KiB
// limit).
const scanWindow = 64 << 10

// errSyntax wraps every complaint about the shape of an answer.
var errSyntax = errors.New("unexpected answer from the agent")

// pair is one decoded KV pair. Its byte slices point into the scanner's
// window and are valid until the next call of next.
type pair struct {
	key    []byte // the JSON string's contents, still escaped when keyEsc
	keyEsc bool
	value  []byte // the base64 text, still escaped when valueEsc; nil for null
	valEsc bool
	modify uint64 // ModifyIndex
}

// entryKey returns the pair's key as a string.
func (p *pair) entryKey() (string, error) {
	return unquote(p.key, p.keyEsc)
}

// decodeValue returns the pair's value, decoded from base64 into a new slice;
// null and "" give an empty, non-nil slice, as Get does.
func (p *pair) decodeValue() ([]byte, error) {
	raw := p.value
	if p.valEsc {
		s, err := unquote(raw, true)
		if err != nil {
			return nil, err
		}
		raw = []byte(s)
	}
	v := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(v, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: value of %q is not base64: %w", errSyntax, p.key, err)
	}
	return v[:n], nil
}

// entry returns the pair as a stores.Entry with its own copies of key and
// value.
func (p *pair) entry() (stores.Entry, error) {
	key, err := p.entryKey()
	if err != nil {
		return stores.Entry{}, err
	}
	value, err := p.decodeValue()
	if err != nil {
		return stores.Entry{}, err
	}
	return stores.Entry{Key: key, Value: value, Revision: p.modify}, nil
}

// unquote returns the contents of a JSON string as a string: the bytes as
// they are when they hold no escape, no control character and only valid
// UTF-8 (always, for what Consul's encoder writes), else what encoding/json
// makes of them, so that an odd answer decodes as the api client would
// decode it.
func unquote(raw []byte, escaped bool) (string, error) {
	if !escaped {
		plain := true
		for _, b := range raw {
			if b < 0x20 || b >= utf8.RuneSelf {
				plain = false
				break
			}
		}
		if plain || (utf8.Valid(raw) && bytes.IndexFunc(raw, func(r rune) bool { return r < 0x20 }) < 0) {
			return string(raw), nil
		}
	}
	lit := make([]byte, 0, len(raw)+2)
	lit = append(append(append(lit, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", fmt.Errorf("%w: string %s: %w", errSyntax, lit, err)
	}
	return s, nil
}

// pairScanner reads a JSON array of KV pairs (or, with keysOnly, of
// strings) from r. It checks the grammar of what it decodes and skips the
// fields it does not need (LockIndex, Flags, Session, CreateIndex, …)
// whatever their JSON type.
type pairScanner struct {
	r   io.Reader
	err error // sticky: the reader's error, io.EOF at the end

	buf  []byte
	pos  int // next byte to read
	end  int // end of the data in buf
	mark int // start of the element being decoded: kept across refills

	started bool // the '[' was read
	done    bool // the ']' was read
	n       int  // elements decoded
}

func newPairScanner(r io.Reader) *pairScanner {
	return &pairScanner{r: r, buf: make([]byte, scanWindow)}
}

// reset makes s read a new answer from r, keeping its window.
func (s *pairScanner) reset(r io.Reader) {
	*s = pairScanner{r: r, buf: s.buf}
}

// fill reads more data into the window, keeping what follows mark. It
// reports false when nothing more can be read (s.err says why).
func (s *pairScanner) fill() bool {
	if s.err != nil {
		return false
	}
	if s.mark > 0 {
		n := copy(s.buf, s.buf[s.mark:s.end])
		s.pos -= s.mark
		s.end = n
		s.mark = 0
	}
	if s.end == len(s.buf) {
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// peek returns the next byte without consuming it, skipping JSON
// whitespace; ok is false at the end of the input.
func (s *pairScanner) peek() (c byte, ok bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// readErr is the error for input that ends, or fails, where want was
// expected.
func (s *pairScanner) readErr(want string) error {
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return fmt.Errorf("%w: the answer ends where %s was expected (after %d elements)", errSyntax, want, s.n)
}

// expect consumes the byte c, after whitespace.
func (s *pairScanner) expect(c byte, want string) error {
	got, ok := s.peek()
	if !ok {
		return s.readErr(want)
	}
	if got != c {
		return fmt.Errorf("%w: found %q where %s was expected (after %d elements)", errSyntax, got, want, s.n)
	}
	s.pos++
	return nil
}

// str consumes a JSON string and returns the offsets of its contents
// relative to mark, and whether it holds an escape.
func (s *pairScanner) str(what string) (from, to int, escaped bool, err error) {
	if err := s.expect('"', what); err != nil {
		return 0, 0, false, err
	}
	start := s.pos
	i := start
	for {
		j := bytes.IndexByte(s.buf[i:s.end], '"')
		if j < 0 {
			// Read on, keeping the string: fill moves the window's data.
			fromMark, searched := start-s.mark, s.end-s.mark
			if !s.fill() {
				return 0, 0, false, s.readErr("the end of a string")
			}
			start, i = s.mark+fromMark, s.mark+searched
			continue
		}
		j += i
		if bytes.IndexByte(s.buf[start:j], '\\') < 0 {
			s.pos = j + 1
			return start - s.mark, j - s.mark, false, nil
		}
		// Escapes: an odd run of backslashes before the quote escapes it.
		k := j
		for k > start && s.buf[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			s.pos = j + 1
			return start - s.mark, j - s.mark, true, nil
		}
		i = j + 1
	}
}

// uint consumes a JSON number that must be a plain unsigned integer.
func (s *pairScanner) uint(what string) (uint64, error) {
	if _, ok := s.peek(); !ok {
		return 0, s.readErr(what)
	}
	var v uint64
	digits := 0
	for {
		if s.pos == s.end && !s.fill() {
			break
		}
		c := s.buf[s.pos]
		if c < '0' || c > '9' {
			break
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%w: %s does not fit in 64 bits", errSyntax, what)
		}
		v = v*10 + d
		digits++
		s.pos++
	}
	if digits == 0 {
		c, _ := s.peek()
		return 0, fmt.Errorf("%w: found %q where %s, an unsigned integer, was expected", errSyntax, c, what)
	}
	if s.pos < s.end {
		switch s.buf[s.pos] {
		case '.', 'e', 'E':
			return 0, fmt.Errorf("%w: %s is not an unsigned integer", errSyntax, what)
		}
	}
	return v, nil
}

// literal consumes the literal word (null, true, false).
func (s *pairScanner) literal(word string) error {
	for i := range len(word) {
		if s.pos == s.end && !s.fill() {
			return s.readErr(word)
		}
		if s.buf[s.pos] != word[i] {
			return fmt.Errorf("%w: found %q inside what should be %s", errSyntax, s.buf[s.pos], word)
		}
		s.pos++
	}
	return nil
}

// skip consumes one JSON value of any type. Nested values are checked only
// for balanced brackets and well-formed strings: they are never used.
func (s *pairScanner) skip(what string) error {
	c, ok := s.peek()
	if !ok {
		return s.readErr(what)
	}
	switch {
	case c == '"':
		_, _, _, err := s.str(what)
		return err
	case c == '{' || c == '[':
		depth := 0
		for {
			c, ok := s.peek()
			if !ok {
				return s.readErr("the end of " + what)
			}
			switch c {
			case '"':
				if _, _, _, err := s.str(what); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				return nil
			}
		}
	case c == 'n':
		return s.literal("null")
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		for {
			if s.pos == s.end && !s.fill() {
				return nil
			}
			switch c := s.buf[s.pos]; {
			case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				s.pos++
			default:
				return nil
			}
		}
	}
	return fmt.Errorf("%w: found %q where %s was expected", errSyntax, c, what)
}

// begin reads the array's '[' (or a null, which lists nothing).
func (s *pairScanner) begin() error {
	s.started = true
	c, ok := s.peek()
	if !ok {
		return s.readErr("a JSON array")
	}
	if c == 'n' {
		if err := s.literal("null"); err != nil {
			return err
		}
		s.done = true
		return s.finish()
	}
	if err := s.expect('[', "a JSON array"); err != nil {
		return err
	}
	if c, ok := s.peek(); ok && c == ']' {
		s.pos++
		s.done = true
		return s.finish()
	}
	return nil
}

// element moves to the next element of the array; more is false after the
// last one (and the rest of the input has been checked to be whitespace).
func (s *pairScanner) element() (more bool, err error) {
	if !s.started {
		if err := s.begin(); err != nil {
			return false, err
		}
		if s.done {
			return false, nil
		}
	} else if s.done {
		return false, nil
	} else {
		c, ok := s.peek()
		if !ok {
			return false, s.readErr(`"," or "]"`)
		}
		s.pos++
		switch c {
		case ',':
		case ']':
			s.done = true
			return false, s.finish()
		default:
			return false, fmt.Errorf(`%w: found %q where "," or "]" was expected (after %d elements)`, errSyntax, c, s.n)
		}
	}
	if _, ok := s.peek(); !ok {
		return false, s.readErr("an array element")
	}
	s.mark = s.pos
	return true, nil
}

// finish checks that only whitespace follows the array.
func (s *pairScanner) finish() error {
	if c, ok := s.peek(); ok {
		return fmt.Errorf("%w: %q after the end of the array", errSyntax, c)
	}
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return nil
}

// next decodes the next pair into p; it returns false after the last one.
func (s *pairScanner) next(p *pair) (bool, error) {
	more, err := s.element()
	if !more || err != nil {
		return false, err
	}
	if err := s.expect('{', "a KV pair"); err != nil {
		return false, err
	}
	var (
		keyFrom, keyTo, valFrom, valTo int
		haveKey, haveVal               bool
	)
	*p = pair{}
	if c, ok := s.peek(); ok && c == '}' {
		return false, fmt.Errorf("%w: an empty KV pair (after %d pairs)", errSyntax, s.n)
	}
	for {
		nameFrom, nameTo, nameEsc, err := s.str("a field name")
		if err != nil {
			return false, err
		}
		name := s.buf[s.mark+nameFrom : s.mark+nameTo]
		if nameEsc {
			n, err := unquote(name, true)
			if err != nil {
				return false, err
			}
			name = []byte(n)
		}
		f := field(name) // before reading on: name points into the window
		if err := s.expect(':', `":"`); err != nil {
			return false, err
		}
		if f != fieldOther {
			// A null leaves the field unset, as encoding/json does.
			c, ok := s.peek()
			if !ok {
				return false, s.readErr("a field's value")
			}
			if c == 'n' {
				if err := s.literal("null"); err != nil {
					return false, err
				}
				switch f {
				case fieldKey:
					haveKey = false
				case fieldValue:
					haveVal = false
				case fieldModifyIndex:
					p.modify = 0
				}
				f = -1
			}
		}
		switch f {
		case -1:
		case fieldKey:
			if keyFrom, keyTo, p.keyEsc, err = s.str("the Key string"); err != nil {
				return false, err
			}
			haveKey = true
		case fieldValue:
			if valFrom, valTo, p.valEsc, err = s.str("the Value string"); err != nil {
				return false, err
			}
			haveVal = true
		case fieldModifyIndex:
			if p.modify, err = s.uint("ModifyIndex"); err != nil {
				return false, err
			}
		default:
			if err := s.skip("a field's value"); err != nil {
				return false, err
			}
		}
		c, ok := s.peek()
		if !ok {
			return false, s.readErr(`"," or "}"`)
		}
		s.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return false, fmt.Errorf(`%w: found %q where "," or "}" was expected in a KV pair`, errSyntax, c)
		}
	}
	if !haveKey {
		return false, fmt.Errorf("%w: a KV pair without a Key (after %d pairs)", errSyntax, s.n)
	}
	p.key = s.buf[s.mark+keyFrom : s.mark+keyTo]
	if haveVal {
		p.value = s.buf[s.mark+valFrom : s.mark+valTo]
	}
	if p.modify == 0 {
		return false, fmt.Errorf("%w: KV pair %q without a ModifyIndex", errSyntax, p.key)
	}
	s.n++
	return true, nil
}

// nextKey decodes the next string of a keys listing; it returns false after
// the last one. The key's bytes are valid until the next call.
func (s *pairScanner) nextKey() (key []byte, escaped, more bool, err error) {
	if more, err = s.element(); !more || err != nil {
		return nil, false, false, err
	}
	from, to, escaped, err := s.str("a key")
	if err != nil {
		return nil, false, false, err
	}
	s.n++
	return s.buf[s.mark+from : s.mark+to], escaped, true, nil
}

// The fields of a KV pair the driver reads.
const (
	fieldOther = iota
	fieldKey
	fieldValue
	fieldModifyIndex
)

// field names a KV pair's field. Like encoding/json, which the api client
// decodes with, it prefers an exact match and else ignores case.
func field(name []byte) int {
	switch string(name) {
	case "Key":
		return fieldKey
	case "Value":
		return fieldValue
	case "ModifyIndex":
		return fieldModifyIndex
	case "LockIndex", "Flags", "CreateIndex", "Session", "Namespace", "Partition":
		return fieldOther
	}
	switch {
	case bytes.EqualFold(name, []byte("Key")):
		return fieldKey
	case bytes.EqualFold(name, []byte("Value")):
		return fieldValue
	case bytes.EqualFold(name, []byte("ModifyIndex")):
		return fieldModifyIndex
	}
	return fieldOther
}
