package lease

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrCorrupt matches every *CorruptError: the stored bytes are not a valid
// lease record (docs/design.md §2.1). A corrupt lease is stealable.
var ErrCorrupt = errors.New("lease: corrupt record")

// Record is one lease record as stored under a lease key (docs/design.md §2).
type Record struct {
	// HolderID says who won the round: a node id, or "operator:<name>"
	// for an operator action.
	HolderID string
	// AcquiredAtUnix is when the round was won, in whole Unix seconds.
	AcquiredAtUnix uint64
	// ExpiresAtUnix is when the lease lapses, in whole Unix seconds.
	ExpiresAtUnix uint64
	// CompletedCursorHex is the lower-case hex of the exported cursor's
	// bytes; "" means no cursor.
	CompletedCursorHex string
	// CompletedAtUnix is when the round's artifact was published; nil means
	// not recorded.
	CompletedAtUnix *uint64
}

// Encode returns the record as compact JSON with the fields in the order of
// docs/design.md §2 and unset optional fields omitted, byte-identical to what
// serde_json writes for the same record on the Rust side.
func (r Record) Encode() []byte {
	b := make([]byte, 0, 128+len(r.HolderID)+len(r.CompletedCursorHex))
	b = append(b, `{"holder_id":`...)
	b = appendJSONString(b, r.HolderID)
	b = append(b, `,"acquired_at_unix":`...)
	b = strconv.AppendUint(b, r.AcquiredAtUnix, 10)
	b = append(b, `,"expires_at_unix":`...)
	b = strconv.AppendUint(b, r.ExpiresAtUnix, 10)
	if r.CompletedCursorHex != "" {
		b = append(b, `,"completed_cursor_hex":`...)
		b = appendJSONString(b, r.CompletedCursorHex)
	}
	if r.CompletedAtUnix != nil {
		b = append(b, `,"completed_at_unix":`...)
		b = strconv.AppendUint(b, *r.CompletedAtUnix, 10)
	}
	return append(b, '}')
}

// Completed reports whether the record carries a completion cursor.
func (r Record) Completed() bool { return r.CompletedCursorHex != "" }

// LiveAt reports whether the lease is live at now (whole Unix seconds):
// expires_at_unix > now, strictly (docs/design.md §2.2).
func (r Record) LiveAt(now uint64) bool { return r.ExpiresAtUnix > now }

// clone returns a copy of r that shares no memory with it.
func (r Record) clone() Record {
	if r.CompletedAtUnix != nil {
		at := *r.CompletedAtUnix
		r.CompletedAtUnix = &at
	}
	return r
}

// appendJSONString appends s as a JSON string escaped exactly as serde_json
// escapes it: '"', '\\' and the C0 controls only (\b \t \n \f \r by name, the
// rest as \u00xx with lower-case hex); '<', '>', '&', DEL and non-ASCII pass
// through. Invalid UTF-8 in s becomes U+FFFD, since a Rust String cannot hold
// it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// CorruptError says why stored bytes are not a valid lease record. It matches
// ErrCorrupt.
type CorruptError struct {
	// Reason is a human-readable explanation, e.g. "missing field
	// expires_at_unix" or "invalid UTF-8 at byte 17" (byte offsets count
	// from 0).
	Reason string
	// Raw is a copy of the bytes that failed to parse.
	Raw []byte
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("lease: corrupt record: %s", e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
