package lease_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/lease"
)

// The two records of docs/design.md §2, byte for byte.
const (
	specFresh     = `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`
	specCompleted = `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300,"completed_cursor_hex":"000000000000002a","completed_at_unix":1718000042}`
)

func u64(v uint64) *uint64 { return &v }

func TestEncodeSpecExamples(t *testing.T) {
	tests := []struct {
		name string
		rec  lease.Record
		want string
	}{
		{"fresh", lease.Record{HolderID: "node-a", AcquiredAtUnix: 1718000000, ExpiresAtUnix: 1718000300}, specFresh},
		{"completed", lease.Record{
			HolderID: "node-a", AcquiredAtUnix: 1718000000, ExpiresAtUnix: 1718000300,
			CompletedCursorHex: "000000000000002a", CompletedAtUnix: u64(1718000042),
		}, specCompleted},
		{"zero and max", lease.Record{HolderID: "", AcquiredAtUnix: 0, ExpiresAtUnix: 1<<64 - 1},
			`{"holder_id":"","acquired_at_unix":0,"expires_at_unix":18446744073709551615}`},
		{"completed at without cursor", lease.Record{HolderID: "n", AcquiredAtUnix: 1, ExpiresAtUnix: 2, CompletedAtUnix: u64(0)},
			`{"holder_id":"n","acquired_at_unix":1,"expires_at_unix":2,"completed_at_unix":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.rec.Encode()); got != tt.want {
				t.Errorf("Encode() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEncodeEscapesLikeSerde(t *testing.T) {
	tests := []struct {
		holder string
		want   string // the JSON string as serde_json writes it
	}{
		{`plain`, `"plain"`},
		{`quote"`, `"quote\""`},
		{`back\slash`, `"back\\slash"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x0b\x1b", `"\u000b\u001b"`},
		{"<a>&b", `"<a>&b"`},
		{"\x7f", "\"\x7f\""},
		{"/", `"/"`},
		{"nöde-✓-😀", `"nöde-✓-😀"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
		{"\xff\xfe", "\"\uFFFD\uFFFD\""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.holder), func(t *testing.T) {
			got := string(lease.Record{HolderID: tt.holder}.Encode())
			want := `{"holder_id":` + tt.want + `,"acquired_at_unix":0,"expires_at_unix":0}`
			if got != want {
				t.Errorf("Encode(holder %q) = %s, want %s", tt.holder, got, want)
			}
			if _, err := lease.Decode([]byte(got)); err != nil {
				t.Errorf("Decode(Encode(holder %q)) = %v, want no error", tt.holder, err)
			}
		})
	}
}

// TestDecodeSpecExamples checks the examples of docs/design.md §2 decode to
// what encodes them, and that the reasons named in docs/design.md §2.1 come
// out as written there.
func TestDecodeSpecExamples(t *testing.T) {
	for _, s := range []string{specFresh, specCompleted} {
		r, err := lease.Decode([]byte(s))
		if err != nil {
			t.Fatalf("Decode(%q) = %v, want no error", s, err)
		}
		if got := string(r.Encode()); got != s {
			t.Errorf("Encode(Decode(%q)) = %s", s, got)
		}
	}
}

// decodeCase is one input to Decode: want is the record it must decode to,
// or reason a substring of the CorruptError's reason.
type decodeCase struct {
	name   string
	in     string
	want   *lease.Record
	reason string
}

func rec(holder string, acquired, expires uint64) *lease.Record {
	return &lease.Record{HolderID: holder, AcquiredAtUnix: acquired, ExpiresAtUnix: expires}
}

// base builds a record object with the three required fields and extra
// members spliced in after them.
func base(extra string) string {
	return `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":2` + extra + `}`
}

var decodeCases = []decodeCase{
	// Valid records.
	{name: "spec fresh", in: specFresh, want: rec("node-a", 1718000000, 1718000300)},
	{name: "whitespace everywhere", in: " \t\r\n{ \"holder_id\" :\t\"a\" ,\n\"acquired_at_unix\"\r: 1 , \"expires_at_unix\" : 2 } \n\t\r ", want: rec("a", 1, 2)},
	{name: "fields in any order", in: `{"expires_at_unix":2,"acquired_at_unix":1,"holder_id":"a"}`, want: rec("a", 1, 2)},
	{name: "escaped field name is the field", in: `{"holder\u005fid":"a","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("a", 1, 2)},
	{name: "fully escaped field name", in: `{"\u0068\u006F\u006c\u0064\u0065\u0072\u005f\u0069\u0064":"a","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("a", 1, 2)},
	{name: "NUL escape in holder", in: `{"holder_id":"a\u0000b","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("a\x00b", 1, 2)},
	{name: "all simple escapes", in: `{"holder_id":"\"\\\/\b\f\n\r\t","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("\"\\/\b\f\n\r\t", 1, 2)},
	{name: "surrogate pair", in: `{"holder_id":"\ud83d\ude00","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("😀", 1, 2)},
	{name: "upper-case hex escape", in: `{"holder_id":"\u00E9\u00e9","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("éé", 1, 2)},
	{name: "raw non-ASCII and DEL", in: "{\"holder_id\":\"nöde-😀\x7f\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", want: rec("nöde-😀\x7f", 1, 2)},
	{name: "raw U+2028 in holder", in: "{\"holder_id\":\"a\u2028b\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", want: rec("a\u2028b", 1, 2)},
	{name: "empty holder", in: `{"holder_id":"","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("", 1, 2)},
	{name: "zero times", in: `{"holder_id":"a","acquired_at_unix":0,"expires_at_unix":0}`, want: rec("a", 0, 0)},
	{name: "max u64", in: `{"holder_id":"a","acquired_at_unix":18446744073709551615,"expires_at_unix":18446744073709551615}`, want: rec("a", 1<<64-1, 1<<64-1)},
	{name: "null optionals", in: base(`,"completed_cursor_hex":null,"completed_at_unix":null`), want: rec("a", 1, 2)},
	{name: "empty cursor is no cursor", in: base(`,"completed_cursor_hex":""`), want: rec("a", 1, 2)},
	{name: "completed", in: base(`,"completed_cursor_hex":"2a","completed_at_unix":7`), want: &lease.Record{HolderID: "a", AcquiredAtUnix: 1, ExpiresAtUnix: 2, CompletedCursorHex: "2a", CompletedAtUnix: u64(7)}},
	{name: "cursor is not checked for hex", in: base(`,"completed_cursor_hex":"not hex"`), want: &lease.Record{HolderID: "a", AcquiredAtUnix: 1, ExpiresAtUnix: 2, CompletedCursorHex: "not hex"}},
	{name: "unknown scalar fields", in: base(`,"s":"x","t":true,"f":false,"n":null,"i":-12,"z":0,"nz":-0`), want: rec("a", 1, 2)},
	{name: "unknown number forms", in: base(`,"a":1.5,"b":-0.0e+0,"c":1E400,"d":2e-9,"e":18446744073709551616,"f":123456789012345678901234567890`), want: rec("a", 1, 2)},
	{name: "unknown nested values", in: base(`,"x":{"a":[1,{"b":[[],{}]},"c",null],"d":{"e":{"f":[true,false]}}},"y":[ ]`), want: rec("a", 1, 2)},
	{name: "unknown field twice", in: base(`,"region":"eu","region":"us"`), want: rec("a", 1, 2)},
	{name: "wrong-case names are unknown", in: base(`,"Holder_ID":"b","ACQUIRED_AT_UNIX":"x"`), want: rec("a", 1, 2)},
	{name: "unknown string with lone surrogate", in: base(`,"x":"\ud800"`), want: rec("a", 1, 2)},
	{name: "unknown nested key with lone surrogate", in: base(`,"x":{"\udc00":1}`), want: rec("a", 1, 2)},
	{name: "unknown field before known", in: `{"x":[1,2],"holder_id":"a","acquired_at_unix":1,"expires_at_unix":2}`, want: rec("a", 1, 2)},
	{name: "deeply nested unknown", in: base(`,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000)), want: rec("a", 1, 2)},
	{name: "deeply nested unknown objects", in: base(`,"x":` + strings.Repeat(`{"k":`, 5000) + "0" + strings.Repeat("}", 5000)), want: rec("a", 1, 2)},

	// Not JSON objects.
	{name: "empty", in: "", reason: "empty value (tombstone)"},
	{name: "only whitespace", in: " \n\t\r", reason: "only whitespace"},
	{name: "null", in: "null", reason: "expected a JSON object, found null"},
	{name: "true", in: "true", reason: "expected a JSON object, found true"},
	{name: "number", in: "42", reason: "expected a JSON object, found 42"},
	{name: "string", in: `"node-a"`, reason: `expected a JSON object, found a string "node-a"`},
	{name: "array form", in: `["node-a",1718000000,1718000300]`, reason: "JSON array is not accepted (serde accepts it; leasectl does not)"},
	{name: "array form with optionals", in: `["node-a",1718000000,1718000300,"2a",5]`, reason: "JSON array is not accepted"},
	{name: "empty array", in: `[]`, reason: "JSON array is not accepted"},
	{name: "not json", in: "export-lock held by node-a", reason: "invalid JSON: expected a value at byte 0, found 'e'"},
	{name: "byte order mark", in: "\uFEFF" + specFresh, reason: "byte order mark"},
	{name: "single quotes", in: `{'holder_id':'a','acquired_at_unix':1,'expires_at_unix':2}`, reason: "expected a field name (a string) at byte 1"},
	{name: "comment", in: `/*x*/` + specFresh, reason: "invalid JSON"},
	{name: "two objects", in: specFresh + specFresh, reason: "trailing characters at byte 81"},
	{name: "trailing garbage", in: specFresh + "x", reason: "trailing characters at byte 81"},
	{name: "trailing garbage after whitespace", in: specFresh + " \n x", reason: "trailing characters at byte 84"},
	{name: "trailing NUL", in: specFresh + "\x00", reason: "trailing characters at byte 81"},
	{name: "form feed is not whitespace", in: "\f" + specFresh, reason: "invalid JSON"},
	{name: "vertical tab is not whitespace", in: specFresh + "\v", reason: "trailing characters"},
	{name: "NBSP is not whitespace", in: "{\u00a0\"holder_id\":\"a\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "expected a field name"},

	// Object grammar.
	{name: "empty object", in: `{}`, reason: "missing field holder_id"},
	{name: "empty object with space", in: `{ }`, reason: "missing field holder_id"},
	{name: "leading comma", in: `{,"holder_id":"a","acquired_at_unix":1,"expires_at_unix":2}`, reason: "expected a field name"},
	{name: "trailing comma", in: base(`,`), reason: "trailing comma"},
	{name: "double comma", in: `{"holder_id":"a",,"acquired_at_unix":1,"expires_at_unix":2}`, reason: "expected a field name"},
	{name: "missing comma", in: `{"holder_id":"a" "acquired_at_unix":1,"expires_at_unix":2}`, reason: "expected ',' or '}'"},
	{name: "missing colon", in: `{"holder_id" "a","acquired_at_unix":1,"expires_at_unix":2}`, reason: "expected ':'"},
	{name: "missing value", in: `{"holder_id":,"acquired_at_unix":1,"expires_at_unix":2}`, reason: "invalid JSON: expected a value at byte 13, found ','"},
	{name: "non-string key", in: `{1:2}`, reason: "expected a field name"},
	{name: "unclosed object", in: `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":2`, reason: "unexpected end of input"},
	{name: "unclosed string", in: `{"holder_id":"a`, reason: "unexpected end of input"},
	{name: "unknown value unbalanced", in: base(`,"x":[1,2}`), reason: "expected ',' or ']'"},
	{name: "unknown array trailing comma", in: base(`,"x":[1,]`), reason: "expected a value"},
	{name: "unknown object trailing comma", in: base(`,"x":{"a":1,}`), reason: "expected a field name"},
	{name: "unknown object non-string key", in: base(`,"x":{a:1}`), reason: "expected a field name"},
	{name: "unknown bad literal", in: base(`,"x":tru`), reason: `expected "true"`},
	{name: "unknown NaN", in: base(`,"x":NaN`), reason: "expected a value"},
	{name: "unknown Infinity", in: base(`,"x":-Infinity`), reason: "expected a digit"},
	{name: "unknown leading zero", in: base(`,"x":01`), reason: "leading zero"},
	{name: "unknown plus sign", in: base(`,"x":+1`), reason: "expected a value"},
	{name: "unknown bare fraction", in: base(`,"x":.5`), reason: "expected a value"},
	{name: "unknown dangling point", in: base(`,"x":1.`), reason: "expected a digit"},
	{name: "unknown dangling exponent", in: base(`,"x":1e`), reason: "expected a digit"},
	{name: "unknown dangling exponent sign", in: base(`,"x":1e+`), reason: "expected a digit"},
	{name: "unknown lone minus", in: base(`,"x":-`), reason: "expected a digit"},
	{name: "unknown string raw newline", in: base(",\"x\":\"a\nb\""), reason: "control character U+000A"},
	{name: "unknown string bad escape", in: base(`,"x":"\q"`), reason: `invalid escape \q`},
	{name: "unknown string short unicode escape", in: base(`,"x":"\u12"`), reason: `invalid \u escape`},
	{name: "unknown string truncated", in: `{"holder_id":"a","x":"abc`, reason: "unexpected end of input"},

	// Required fields.
	{name: "missing holder", in: `{"acquired_at_unix":1,"expires_at_unix":2}`, reason: "missing field holder_id"},
	{name: "missing acquired", in: `{"holder_id":"a","expires_at_unix":2}`, reason: "missing field acquired_at_unix"},
	{name: "missing expiry", in: `{"holder_id":"node-a","acquired_at_unix":1718000000}`, reason: "missing field expires_at_unix"},
	{name: "wrong case only", in: `{"Holder_ID":"a","acquired_at_unix":1,"expires_at_unix":2}`, reason: "missing field holder_id"},
	{name: "name with trailing space", in: `{"holder_id ":"a","acquired_at_unix":1,"expires_at_unix":2}`, reason: "missing field holder_id"},
	{name: "null holder", in: `{"holder_id":null,"acquired_at_unix":1,"expires_at_unix":2}`, reason: "field holder_id: expected a string, found null"},
	{name: "numeric holder", in: `{"holder_id":7,"acquired_at_unix":1,"expires_at_unix":2}`, reason: "field holder_id: expected a string, found 7"},
	{name: "array holder", in: `{"holder_id":["a"],"acquired_at_unix":1,"expires_at_unix":2}`, reason: "field holder_id: expected a string, found an array"},
	{name: "object holder", in: `{"holder_id":{},"acquired_at_unix":1,"expires_at_unix":2}`, reason: "field holder_id: expected a string, found an object"},
	{name: "bool holder", in: `{"holder_id":false,"acquired_at_unix":1,"expires_at_unix":2}`, reason: "field holder_id: expected a string, found false"},
	{name: "null acquired", in: `{"holder_id":"a","acquired_at_unix":null,"expires_at_unix":2}`, reason: "field acquired_at_unix: expected an unsigned integer, found null"},
	{name: "null expiry", in: `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":null}`, reason: "field expires_at_unix: expected an unsigned integer, found null"},

	// Integers.
	{name: "negative", in: `{"holder_id":"a","acquired_at_unix":-1,"expires_at_unix":2}`, reason: "field acquired_at_unix: expected an unsigned integer, found -1"},
	{name: "negative zero", in: `{"holder_id":"a","acquired_at_unix":-0,"expires_at_unix":2}`, reason: "field acquired_at_unix: expected an unsigned integer, found -0"},
	{name: "fraction", in: `{"holder_id":"a","acquired_at_unix":1.0,"expires_at_unix":2}`, reason: "field acquired_at_unix: expected an unsigned integer, found 1.0"},
	{name: "half", in: `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":1.5}`, reason: "field expires_at_unix: expected an unsigned integer, found 1.5"},
	{name: "exponent", in: `{"holder_id":"a","acquired_at_unix":1e3,"expires_at_unix":2}`, reason: "field acquired_at_unix: expected an unsigned integer, found 1e3"},
	{name: "upper exponent", in: `{"holder_id":"a","acquired_at_unix":1E3,"expires_at_unix":2}`, reason: "found 1E3"},
	{name: "exponent zero", in: `{"holder_id":"a","acquired_at_unix":1e0,"expires_at_unix":2}`, reason: "found 1e0"},
	{name: "leading zero", in: `{"holder_id":"a","acquired_at_unix":01,"expires_at_unix":2}`, reason: "leading zero"},
	{name: "double zero", in: `{"holder_id":"a","acquired_at_unix":00,"expires_at_unix":2}`, reason: "leading zero"},
	{name: "plus sign", in: `{"holder_id":"a","acquired_at_unix":+1,"expires_at_unix":2}`, reason: "expected a value at byte 36, found '+'"},
	{name: "hex", in: `{"holder_id":"a","acquired_at_unix":0x10,"expires_at_unix":2}`, reason: "expected ',' or '}'"},
	{name: "2^64 overflows", in: `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":18446744073709551616}`, reason: "field expires_at_unix: 18446744073709551616 does not fit in an unsigned 64-bit integer"},
	{name: "huge overflows", in: `{"holder_id":"a","acquired_at_unix":1,"expires_at_unix":999999999999999999999999999999999999999999999999}`, reason: "does not fit"},
	{name: "string timestamp", in: `{"holder_id":"a","acquired_at_unix":"1718000000","expires_at_unix":2}`, reason: `field acquired_at_unix: expected an unsigned integer, found a string "1718000000"`},
	{name: "bool timestamp", in: `{"holder_id":"a","acquired_at_unix":true,"expires_at_unix":2}`, reason: "found true"},

	// Optional fields.
	{name: "numeric cursor", in: base(`,"completed_cursor_hex":42`), reason: "field completed_cursor_hex: expected a string or null, found 42"},
	{name: "string completed at", in: base(`,"completed_at_unix":"5"`), reason: `field completed_at_unix: expected an unsigned integer or null, found a string "5"`},
	{name: "negative completed at", in: base(`,"completed_at_unix":-5`), reason: "field completed_at_unix: expected an unsigned integer, found -5"},
	{name: "fractional completed at", in: base(`,"completed_at_unix":5.5`), reason: "found 5.5"},
	{name: "overflowing completed at", in: base(`,"completed_at_unix":18446744073709551616`), reason: "does not fit"},
	{name: "bad null literal", in: base(`,"completed_at_unix":nul`), reason: `expected "null"`},

	// Duplicates.
	{name: "duplicate holder", in: `{"holder_id":"node-a","holder_id":"node-b","acquired_at_unix":1,"expires_at_unix":2}`, reason: "duplicate field holder_id"},
	{name: "duplicate acquired", in: base(`,"acquired_at_unix":1`), reason: "duplicate field acquired_at_unix"},
	{name: "duplicate expiry", in: base(`,"expires_at_unix":2`), reason: "duplicate field expires_at_unix"},
	{name: "duplicate null cursor", in: base(`,"completed_cursor_hex":null,"completed_cursor_hex":null`), reason: "duplicate field completed_cursor_hex"},
	{name: "duplicate completed at after null", in: base(`,"completed_at_unix":null,"completed_at_unix":5`), reason: "duplicate field completed_at_unix"},
	{name: "duplicate through escape", in: base(`,"holder\u005fid":"b"`), reason: "duplicate field holder_id"},

	// Strings.
	{name: "lone high surrogate", in: `{"holder_id":"\ud800","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate escape \ud800 at byte 14`},
	{name: "lone low surrogate", in: `{"holder_id":"\udc00","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate escape \udc00`},
	{name: "high then non-low", in: `{"holder_id":"\ud800\u0041","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate escape \ud800`},
	{name: "high then high", in: `{"holder_id":"\ud800\ud800","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate`},
	{name: "high then other escape", in: `{"holder_id":"\ud800\n","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate`},
	{name: "high then text", in: `{"holder_id":"\ud800x","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate`},
	{name: "low then low", in: `{"holder_id":"\udc00\udc00","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate escape \udc00 at byte 14`},
	{name: "low then high", in: `{"holder_id":"\udc00\ud800","acquired_at_unix":1,"expires_at_unix":2}`, reason: `unpaired UTF-16 surrogate`},
	{name: "lone surrogate in cursor", in: base(`,"completed_cursor_hex":"\udfff"`), reason: `unpaired UTF-16 surrogate`},
	{name: "lone surrogate in unknown name", in: base(`,"\ud800":1`), reason: `unpaired UTF-16 surrogate`},
	{name: "raw tab in holder", in: "{\"holder_id\":\"a\tb\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "control character U+0009 inside a string at byte 15"},
	{name: "raw NUL in holder", in: "{\"holder_id\":\"a\x00\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "control character U+0000"},
	{name: "raw control in name", in: "{\"holder\x01id\":\"a\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "control character U+0001"},
	{name: "invalid escape", in: `{"holder_id":"\x41","acquired_at_unix":1,"expires_at_unix":2}`, reason: `invalid escape \x at byte 14`},
	{name: "upper U escape", in: `{"holder_id":"\U0041","acquired_at_unix":1,"expires_at_unix":2}`, reason: `invalid escape \U`},
	{name: "non-hex unicode escape", in: `{"holder_id":"\u12G4","acquired_at_unix":1,"expires_at_unix":2}`, reason: `invalid \u escape at byte 14`},
	{name: "escape at end", in: `{"holder_id":"\`, reason: "unexpected end of input"},
	{name: "unicode escape at end", in: `{"holder_id":"\u00`, reason: "unexpected end of input"},

	// UTF-8.
	{name: "invalid byte", in: "{\"holder_id\":\"node-\xff\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "invalid UTF-8 at byte 19"},
	{name: "overlong encoding", in: "{\"holder_id\":\"\xc0\xaf\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "invalid UTF-8 at byte 14"},
	{name: "encoded surrogate", in: "{\"holder_id\":\"\xed\xa0\x80\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "invalid UTF-8 at byte 14"},
	{name: "truncated sequence at end", in: specFresh + "\xe2\x82", reason: "invalid UTF-8 at byte 81"},
	{name: "invalid byte in unknown value", in: base(",\"x\":\"\xfe\""), reason: "invalid UTF-8"},
	{name: "latin-1", in: "{\"holder_id\":\"n\xf6de\",\"acquired_at_unix\":1,\"expires_at_unix\":2}", reason: "invalid UTF-8 at byte 15"},
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lease.Decode([]byte(tt.in))
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want %+v", tt.in, err, *tt.want)
				}
				if !reflect.DeepEqual(got, *tt.want) {
					t.Fatalf("Decode(%q) = %+v, want %+v", tt.in, got, *tt.want)
				}
				if stdlibCanRead([]byte(tt.in)) && !json.Valid([]byte(tt.in)) {
					t.Errorf("json.Valid(%q) = false for an accepted record", tt.in)
				}
				return
			}
			ce, ok := errors.AsType[*lease.CorruptError](err)
			if !ok {
				t.Fatalf("Decode(%q) = %+v, %v; want a *CorruptError with reason %q", tt.in, got, err, tt.reason)
			}
			if !errors.Is(err, lease.ErrCorrupt) {
				t.Errorf("errors.Is(%v, ErrCorrupt) = false", err)
			}
			if !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("Decode(%q) reason = %q, want it to contain %q", tt.in, ce.Reason, tt.reason)
			}
			if !bytes.Equal(ce.Raw, []byte(tt.in)) {
				t.Errorf("Decode(%q) Raw = %q, want the input", tt.in, ce.Raw)
			}
			if !reflect.DeepEqual(got, lease.Record{}) {
				t.Errorf("Decode(%q) record = %+v, want the zero Record with an error", tt.in, got)
			}
		})
	}
}

// TestDecodeEveryPrefixIsCorrupt cuts the completed record of
// docs/design.md §2 at every byte: no proper prefix is a record.
func TestDecodeEveryPrefixIsCorrupt(t *testing.T) {
	for n := range len(specCompleted) {
		in := specCompleted[:n]
		if r, err := lease.Decode([]byte(in)); !errors.Is(err, lease.ErrCorrupt) {
			t.Errorf("Decode(%q) = %+v, %v; want ErrCorrupt", in, r, err)
		}
	}
}

// TestDecodeRawIsACopy checks the CorruptError does not alias the caller's
// buffer, which drivers may reuse.
func TestDecodeRawIsACopy(t *testing.T) {
	in := []byte("garbage")
	_, err := lease.Decode(in)
	ce, ok := errors.AsType[*lease.CorruptError](err)
	if !ok {
		t.Fatalf("Decode(%q) = %v, want *CorruptError", in, err)
	}
	in[0] = 'X'
	if string(ce.Raw) != "garbage" {
		t.Errorf("CorruptError.Raw = %q after the input changed, want %q", ce.Raw, "garbage")
	}
	if got, want := err.Error(), "lease: corrupt record: "; !strings.HasPrefix(got, want) {
		t.Errorf("Error() = %q, want prefix %q", got, want)
	}
}

// TestDecodeAgreesWithEncodingJSON cross-checks accepted records against the
// standard library reading the same bytes into a map (exact keys, no
// structure tricks): the values must agree.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, tt := range decodeCases {
		if tt.want == nil || !stdlibCanRead([]byte(tt.in)) {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			checkAgainstStdlib(t, []byte(tt.in), *tt.want)
		})
	}
}

// stdlibCanRead reports whether b nests shallowly enough for encoding/json,
// which stops at a depth of 10000 where serde's ignore_value (and Decode)
// has no limit.
func stdlibCanRead(b []byte) bool {
	return bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) < 9000
}

// checkAgainstStdlib compares r, decoded from b, with encoding/json's reading
// of b's known members.
func checkAgainstStdlib(t testing.TB, b []byte, r lease.Record) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("encoding/json cannot read accepted record %q: %v", b, err)
	}
	if got := m["holder_id"]; got != r.HolderID {
		t.Errorf("holder_id: encoding/json read %q, Decode(%q) read %q", got, b, r.HolderID)
	}
	for name, v := range map[string]uint64{"acquired_at_unix": r.AcquiredAtUnix, "expires_at_unix": r.ExpiresAtUnix} {
		if got := m[name]; got != json.Number(strconv.FormatUint(v, 10)) {
			t.Errorf("%s: encoding/json read %v, Decode(%q) read %d", name, got, b, v)
		}
	}
	switch got := m["completed_cursor_hex"].(type) {
	case nil:
		if r.CompletedCursorHex != "" {
			t.Errorf("completed_cursor_hex: encoding/json read none, Decode(%q) read %q", b, r.CompletedCursorHex)
		}
	case string:
		if got != r.CompletedCursorHex {
			t.Errorf("completed_cursor_hex: encoding/json read %q, Decode(%q) read %q", got, b, r.CompletedCursorHex)
		}
	}
	got, present := m["completed_at_unix"]
	switch {
	case got == nil && r.CompletedAtUnix != nil:
		t.Errorf("completed_at_unix: encoding/json read none (present %v), Decode(%q) read %d", present, b, *r.CompletedAtUnix)
	case got != nil && (r.CompletedAtUnix == nil || got != json.Number(strconv.FormatUint(*r.CompletedAtUnix, 10))):
		t.Errorf("completed_at_unix: encoding/json read %v, Decode(%q) read %v", got, b, r.CompletedAtUnix)
	}
}

func TestCursorFromRevision(t *testing.T) {
	tests := []struct {
		rev  uint64
		want string
	}{
		{0, "0000000000000000"},
		{42, "000000000000002a"},
		{1<<64 - 1, "ffffffffffffffff"},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%x", lease.CursorFromRevision(tt.rev)); got != tt.want {
			t.Errorf("CursorFromRevision(%d) = %s, want %s", tt.rev, got, tt.want)
		}
	}
}
