package lease_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// vector is one line of the record test vectors (testdata/README.md).
type vector struct {
	Name     string   `json:"name"`
	Value    *string  `json:"value"`
	ValueB64 *string  `json:"value_b64"`
	Now      int64    `json:"now"`
	State    string   `json:"state"`
	Flags    []string `json:"flags"`

	raw []byte
}

// loadVectors reads testdata/records.jsonl, the record test vectors every
// checkout carries (the format is in testdata/README.md).
func loadVectors(t testing.TB) []vector {
	t.Helper()
	vs := readVectors(t, filepath.Join("testdata", "records.jsonl"))
	if len(vs) == 0 {
		t.Fatal("no test vectors")
	}
	return vs
}

func readVectors(t testing.TB, path string) []vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v vector
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		switch {
		case v.Value != nil && v.ValueB64 == nil:
			v.raw = []byte(*v.Value)
		case v.ValueB64 != nil && v.Value == nil:
			if v.raw, err = base64.StdEncoding.DecodeString(*v.ValueB64); err != nil {
				t.Fatalf("%s:%d: value_b64: %v", path, line, err)
			}
		default:
			t.Fatalf("%s:%d: want exactly one of value and value_b64", path, line)
		}
		if v.Flags == nil {
			v.Flags = []string{}
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return vs
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			st := lease.Classify(v.raw, time.Unix(v.Now, 0), lease.DefaultThresholds())
			if got := st.State.String(); got != v.State {
				t.Errorf("Classify(%q, now %d).State = %s (reason %q), want %s", v.raw, v.Now, got, st.Reason, v.State)
			}
			// The vectors speak of the record format's two flags; the
			// round-health flags (overdue, unfinished) are leasectl's
			// and tested in health_test.go.
			if got := (st.Flags & (lease.Completed | lease.Skewed)).Strings(); !slices.Equal(got, v.Flags) {
				t.Errorf("Classify(%q, now %d).Flags = %q, want %q", v.raw, v.Now, got, v.Flags)
			}
			_, err := lease.Decode(v.raw)
			switch v.State {
			case "corrupt":
				if st.Reason == "" {
					t.Errorf("Classify(%q).Reason is empty for a corrupt value", v.raw)
				}
				if !errors.Is(err, lease.ErrCorrupt) {
					t.Errorf("Decode(%q) = %v, want ErrCorrupt", v.raw, err)
				}
			case "held", "expired":
				if err != nil {
					t.Errorf("Decode(%q) = %v, want a record", v.raw, err)
				}
				if st.Reason != "" {
					t.Errorf("Classify(%q).Reason = %q, want none", v.raw, st.Reason)
				}
			}
		})
	}
}

// FuzzDecode holds Decode to its contract on arbitrary bytes: it never
// panics; every rejection is a *CorruptError with a reason and the raw bytes;
// whatever it accepts is valid JSON, reads the same through encoding/json,
// and survives Encode → Decode unchanged; Encode's output always decodes.
func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw)
	}
	for _, c := range decodeCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := lease.Decode(b)
		if err != nil {
			ce, ok := errors.AsType[*lease.CorruptError](err)
			if !ok || !errors.Is(err, lease.ErrCorrupt) {
				t.Fatalf("Decode(%q) = %v, want a *CorruptError", b, err)
			}
			if ce.Reason == "" || !bytes.Equal(ce.Raw, b) {
				t.Fatalf("Decode(%q) = %#v, want a reason and the raw bytes", b, ce)
			}
			if st := lease.Classify(b, time.Unix(0, 0), lease.DefaultThresholds()); st.State != lease.Corrupt && !(len(b) == 0 && st.State == lease.Tombstone) {
				t.Fatalf("Classify(%q).State = %v, Decode failed with %v", b, st.State, err)
			}
			return
		}
		if stdlibCanRead(b) {
			if !json.Valid(b) {
				t.Fatalf("Decode(%q) accepted invalid JSON as %+v", b, r)
			}
			checkAgainstStdlib(t, b, r)
		}
		enc := r.Encode()
		r2, err := lease.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %v (encoded %q)", r, err, enc)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("Decode(Encode(r)) = %+v, want %+v (encoded %q)", r2, r, enc)
		}
		if enc2 := r2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("Encode is not stable: %q then %q", enc, enc2)
		}
	})
}

// FuzzEncode checks that any record, whatever its strings hold, encodes to
// bytes that decode back to it (invalid UTF-8 becoming U+FFFD, byte by
// byte).
func FuzzEncode(f *testing.F) {
	f.Add("node-a", uint64(1718000000), uint64(1718000300), "000000000000002a", uint64(1718000042), true)
	f.Add("\x00\"\\\u2028<>&\xff", uint64(0), uint64(1<<64-1), "", uint64(0), false)
	f.Fuzz(func(t *testing.T, holder string, acquired, expires uint64, cursor string, at uint64, hasAt bool) {
		r := lease.Record{HolderID: holder, AcquiredAtUnix: acquired, ExpiresAtUnix: expires, CompletedCursorHex: cursor}
		if hasAt {
			r.CompletedAtUnix = &at
		}
		enc := r.Encode()
		got, err := lease.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %v (encoded %q)", r, err, enc)
		}
		want := r
		want.HolderID = string([]rune(holder))
		want.CompletedCursorHex = string([]rune(cursor))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(Encode(r)) = %+v, want %+v (encoded %q)", got, want, enc)
		}
	})
}
