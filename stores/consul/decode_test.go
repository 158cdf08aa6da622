package consul

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
)

// decodeAll decodes a listing with pairScanner, reading r.
func decodeAll(r io.Reader) ([]stores.Entry, error) {
	sc := newPairScanner(r)
	var out []stores.Entry
	var p pair
	for {
		more, err := sc.next(&p)
		if err != nil {
			return out, err
		}
		if !more {
			return out, nil
		}
		e, err := p.entry()
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

// decodeJSON decodes a listing as the api client does (KV.List, which
// also ignores what follows the array: the scanner refuses it), and converts
// it as the driver always has (a nil value becomes empty).
func decodeJSON(data []byte) ([]stores.Entry, error) {
	var pairs []*api.KVPair
	if err := json.Unmarshal(data, &pairs); err != nil {
		return nil, err
	}
	out := []stores.Entry{}
	for _, p := range pairs {
		if p == nil {
			return nil, errors.New("null pair")
		}
		v := p.Value
		if v == nil {
			v = []byte{}
		}
		out = append(out, stores.Entry{Key: p.Key, Value: v, Revision: p.ModifyIndex})
	}
	return out, nil
}

func equalEntries(a, b []stores.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) || a[i].Revision != b[i].Revision || a[i].Value == nil {
			return false
		}
	}
	return true
}

// listing renders pairs as the agent does: indented like a -dev agent when
// indent is set.
func listing(t testing.TB, pairs []api.KVPair, indent bool) []byte {
	t.Helper()
	var data []byte
	var err error
	if indent {
		data, err = json.MarshalIndent(pairs, "", "    ")
	} else {
		data, err = json.Marshal(pairs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readers returns ways of reading data: whole, a byte at a time, in random
// chunks, and with the last read returning data together with io.EOF.
func readers(data []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(data) },
		"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"chunks":   func() io.Reader { return &chunkReader{data: data, rnd: rand.New(rand.NewPCG(1, 2))} },
		"data-eof": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	}
}

type chunkReader struct {
	data []byte
	rnd  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rnd.IntN(700))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestPairScanner(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*scanWindow/16) // larger than the window
	pairs := []api.KVPair{
		{Key: "a/1", Value: []byte("one"), CreateIndex: 3, ModifyIndex: 7, Flags: 42},
		{Key: "a/empty", Value: []byte{}, ModifyIndex: 8},
		{Key: "a/null", Value: nil, ModifyIndex: 9, LockIndex: 2, Session: "sess-\"quoted\""},
		{Key: `odd/"quoted"\back<>&`, Value: []byte{0, 0xff, '"', '\\'}, ModifyIndex: 10},
		{Key: "odd/ünï/cødé/🔒\u2028", Value: []byte("x"), ModifyIndex: 11},
		{Key: "odd/big", Value: big, ModifyIndex: 12},
		{Key: "odd/ctl\x01\t", Value: []byte("y"), ModifyIndex: 1<<64 - 1},
	}
	for _, indent := range []bool{false, true} {
		data := listing(t, pairs, indent)
		want, err := decodeJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range readers(data) {
			t.Run(fmt.Sprintf("indent=%v/%s", indent, name), func(t *testing.T) {
				got, err := decodeAll(r())
				if err != nil {
					t.Fatalf("decode = %v", err)
				}
				if !equalEntries(got, want) {
					t.Errorf("decode = %v\nwant %v", got, want)
				}
			})
		}
	}
}

func TestPairScannerShapes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []stores.Entry // nil with err set
		err      string
	}{
		{"empty-array", " [ ] \n", []stores.Entry{}, ""},
		{"null", "null", []stores.Entry{}, ""},
		{"escaped-names", `[{"K\u0065y":"k","Value":"dg==","Modify\u0049ndex":5}]`, []stores.Entry{{Key: "k", Value: []byte("v"), Revision: 5}}, ""},
		{"folded-names", `[{"key":"k","VALUE":"dg==","modifyindex":5}]`, []stores.Entry{{Key: "k", Value: []byte("v"), Revision: 5}}, ""},
		{"escaped-value", `[{"Key":"k","Value":"d\u0067\u003d\u003d","ModifyIndex":5}]`, []stores.Entry{{Key: "k", Value: []byte("v"), Revision: 5}}, ""},
		{"escaped-slash-value", `[{"Key":"k","Value":"\/w==","ModifyIndex":5}]`, []stores.Entry{{Key: "k", Value: []byte{0xff}, Revision: 5}}, ""},
		{"escaped-key", `[{"Key":"a\"b\\c\/d\u00e9\ud83d\udd12\n","ModifyIndex":5}]`, []stores.Entry{{Key: "a\"b\\c/dé🔒\n", Value: []byte{}, Revision: 5}}, ""},
		{"nested-unknown", `[{"X":{"a":[1,{"b":"]}\""}],"c":null},"Key":"k","Y":[true,false,-1.5e+3,"x"],"ModifyIndex":5,"Z":"}"}]`, []stores.Entry{{Key: "k", Value: []byte{}, Revision: 5}}, ""},
		{"duplicate-field", `[{"Key":"a","Key":"b","ModifyIndex":5}]`, []stores.Entry{{Key: "b", Value: []byte{}, Revision: 5}}, ""},
		{"truncated", `[{"Key":"k","ModifyIndex":5}`, nil, "ends"},
		{"truncated-string", `[{"Key":"k`, nil, "ends"},
		{"trailing", `[]x`, nil, "after the end"},
		{"no-array", `{"Key":"k"}`, nil, "a JSON array"},
		{"missing-key", `[{"ModifyIndex":5}]`, nil, "without a Key"},
		{"missing-index", `[{"Key":"k"}]`, nil, "without a ModifyIndex"},
		{"negative-index", `[{"Key":"k","ModifyIndex":-5}]`, nil, "unsigned integer"},
		{"float-index", `[{"Key":"k","ModifyIndex":5.0}]`, nil, "not an unsigned integer"},
		{"huge-index", `[{"Key":"k","ModifyIndex":18446744073709551616}]`, nil, "64 bits"},
		{"bad-base64", `[{"Key":"k","Value":"!!","ModifyIndex":5}]`, nil, "base64"},
		{"empty-pair", `[{}]`, nil, "empty KV pair"},
		{"missing-comma", `[{"Key":"k","ModifyIndex":5} {"Key":"l","ModifyIndex":6}]`, nil, `"," or "]"`},
		{"empty", ``, nil, "ends"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, r := range readers([]byte(tc.in)) {
				got, err := decodeAll(r())
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("%s: decode(%s) = %v, %v, want an error mentioning %q", name, tc.in, got, err, tc.err)
					}
					continue
				}
				if err != nil || !equalEntries(got, tc.want) {
					t.Errorf("%s: decode(%s) = %v, %v, want %v", name, tc.in, got, err, tc.want)
				}
			}
		})
	}
}

// TestPairScannerReadError checks that a failing read is reported as it is.
func TestPairScannerReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`[{"Key":"k","ModifyIndex":5},`), iotest.ErrReader(boom))
	if _, err := decodeAll(r); !errors.Is(err, boom) {
		t.Errorf("decode of a failing reader = %v, want %v", err, boom)
	}
}

func TestScanKeys(t *testing.T) {
	keys := []string{"a/1", `odd/"q"`, "odd/ü", strings.Repeat("k", scanWindow+10)}
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range readers(data) {
		sc := newPairScanner(r())
		var got []string
		for {
			raw, escaped, more, err := sc.nextKey()
			if err != nil {
				t.Fatalf("%s: nextKey = %v", name, err)
			}
			if !more {
				break
			}
			k, err := unquote(raw, escaped)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, k)
		}
		if strings.Join(got, "\n") != strings.Join(keys, "\n") {
			t.Errorf("%s: keys = %q, want %q", name, got, keys)
		}
	}
}

// FuzzPairScanner checks that whatever encoding/json decodes as a listing
// with keys and indexes, pairScanner decodes the same, at any read size.
func FuzzPairScanner(f *testing.F) {
	f.Add([]byte(`[{"LockIndex":0,"Key":"a/1","Flags":0,"Value":"b25l","CreateIndex":7,"ModifyIndex":7}]`), uint8(3))
	f.Add([]byte(`[{"Key":"a\u00e9","Value":null,"ModifyIndex":1},{"Key":"b","Value":"","Session":"x","ModifyIndex":2}]`), uint8(1))
	f.Add([]byte(`[{"X":[{"y":"]"}],"Key":"k","ModifyIndex":3}]`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		want, err := decodeJSON(data)
		if err != nil {
			return // encoding/json refuses it; the scanner may be laxer in skipped fields
		}
		for _, e := range want {
			if e.Revision == 0 {
				return // the scanner requires what the driver cannot do without
			}
		}
		var r io.Reader = bytes.NewReader(data)
		if chunk > 0 {
			r = &fixedReader{data: data, n: int(chunk)}
		}
		got, err := decodeAll(r)
		if err != nil {
			if strings.Contains(err.Error(), "without a Key") {
				return
			}
			t.Fatalf("decode(%q) = %v; encoding/json decodes %v", data, err, want)
		}
		if !equalEntries(got, want) {
			t.Fatalf("decode(%q) = %v, encoding/json decodes %v", data, got, want)
		}
	})
}

type fixedReader struct {
	data []byte
	n    int
}

func (f *fixedReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), f.n)], f.data)
	f.data = f.data[n:]
	return n, nil
}
