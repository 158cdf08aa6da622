package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// FuzzAppend holds Append to encoding/json's bytes, whatever the string.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<a&b>", "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "日本\u202e", "a\x80b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, ascii := Append([]byte("x"), s)
		if string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got[1:], want)
		}
		wantASCII := true
		for i := range len(s) {
			wantASCII = wantASCII && s[i] < 0x7f
		}
		if ascii != wantASCII {
			t.Errorf("Append(%q) ascii = %v, want %v", s, ascii, wantASCII)
		}
	})
}

// TestAppendRandom runs random strings of every byte through FuzzAppend's
// check, so that go test alone covers more than the seeds.
func TestAppendRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		s := string(b)
		want, _ := json.Marshal(s)
		if got, _ := Append(nil, s); string(got) != string(want) {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
	}
}
