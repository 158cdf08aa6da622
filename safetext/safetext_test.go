package safetext

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/internal/termwidth"
)

func TestClean(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "node-a", "node-a"},
		{"unicode kept", "nœud-ä-東京", "nœud-ä-東京"},
		{"clear screen", "\x1b[2J\x1b[H", "␛[2J␛[H"},
		{"window title", "\x1b]0;pwned\x07", "␛]0;pwned␇"},
		{"newline and tab", "a\nb\tc\r", "a␊b␉c␍"},
		{"del", "a\x7f", "a␡"},
		{"c1 csi", "a\u009b2J", "a\uFFFD2J"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"bidi override", "admin\u202egnp.exe", "admin\uFFFDgnp.exe"},
		{"nul", "a\x00b", "a␀b"},
		{"cjk kept", "東京-ノード", "東京-ノード"},
		{"accent kept", "cafe\u0301", "cafe\u0301"},
		{"grinning face", "node-😀", `node-\U0001f600`},
		{"skin tone", "👍🏽", `\U0001f44d\U0001f3fd`},
		{"flag", "🇯🇵", `\U0001f1ef\U0001f1f5`},
		{"zwj family", "👩‍👩‍👧‍👦", `\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466`},
		{"vs16 keeps its base", "❤️", `❤\ufe0f`},
		{"keycap keeps its digit", "1️⃣", `1\ufe0f\u20e3`},
		{"wide since unicode 9", "☕", `\u2615`},
		{"spacing mark", "का", `क\u093e`},
		{"conjunct", "क्ष", `क\u094dष`},
		{"jamo run", "ᄀ가", `ᄀ\uac00`},
		{"lone mark", "\u0301x", `\u0301x`},
		{"zero width space", "a\u200bb", `a\u200bb`},
		{"private use", "a\ue000b", `a\ue000b`},
		{"control and emoji", "\x1b😀\u0301", `␛\U0001f600\u0301`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("Clean(%q) = %q still holds control %U", tt.in, got, r)
				}
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly-10", 10, "exactly-10"},
		{"exports/a-very-long-key", 10, "exports/a…"},
		{"東京東京東京", 7, "東京東…"},
		{"\x1b[2Jabc", 4, "␛[2…"},
		{"abc", 0, ""},
		{"cafe\u0301s", 5, "cafe\u0301s"},
		{"cafe\u0301s", 4, "caf…"},
		{"cafe\u0301s-x", 5, "cafe\u0301…"},
		{"node-😀", 8, `node-\U…`},
		{"東京東京", 4, "東…"},
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.width)
		if got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
		if w := Width(got); w > tt.width {
			t.Errorf("Truncate(%q, %d) is %d cells wide", tt.in, tt.width, w)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"node-a", "\x1b]0;t\x07", "a\xffb", "\u009b", strings.Repeat("é", 10)} {
		f.Add(s)
	}
	for _, h := range hostile {
		f.Add(h.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Clean(s)
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unsafeRune(r) {
				t.Fatalf("Clean(%q) = %q holds %U", s, got, r)
			}
		}
		if Clean(got) != got {
			t.Fatalf("Clean is not idempotent on %q", s)
		}
		// Every terminal gives what Clean returns the width Width says,
		// and so do the console renderer's two width methods.
		w := Width(s)
		for _, term := range termwidth.All {
			if tw := term.Width(got); tw != w {
				t.Fatalf("Clean(%q) = %q: %d cells in %s, Width says %d", s, got, tw, term, w)
			}
		}
		if ww := ansi.StringWidthWc(got); ww != w {
			t.Fatalf("Clean(%q) = %q: ansi.StringWidthWc = %d, Width says %d", s, got, ww, w)
		}
		// A cut never leaves a wider string or splits a cluster.
		for _, n := range []int{1, 2, 3, w / 2, w - 1} {
			cut := Truncate(s, n)
			if cw := Width(cut); cw > max(n, 0) || Clean(cut) != cut {
				t.Fatalf("Truncate(%q, %d) = %q is %d cells wide or not clean", s, n, cut, cw)
			}
			el := Elide(s, n, n/2)
			if ew := Width(el); ew > max(n, 0) || Clean(el) != el {
				t.Fatalf("Elide(%q, %d) = %q is %d cells wide or not clean", s, n, el, ew)
			}
		}
	})
}

// terminalSafe reports the first byte or rune of b that a terminal could
// interpret (other than a line break), or -1.
func terminalSafe(b []byte) rune {
	s := string(b)
	if !utf8.ValidString(s) {
		return utf8.RuneError
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || r == 0x7f || unsafeRune(r) {
			return r
		}
	}
	return -1
}

func TestJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", `{"holder_id":"node-a","n":1}`, `{"holder_id":"node-a","n":1}`},
		{"indented", "[\n  {\"a\": \"b\"}\n]\n", "[\n  {\"a\": \"b\"}\n]\n"},
		{"unicode kept", `{"h":"nœud-東京-…"}`, `{"h":"nœud-東京-…"}`},
		{"bidi override", "{\"h\":\"a\u202eb\"}", `{"h":"a\u202eb"}`},
		{"c1 csi", "{\"h\":\"\u009b2J\"}", `{"h":"\u009b2J"}`},
		{"del", "{\"h\":\"a\x7f\"}", `{"h":"a\u007f"}`},
		{"raw esc in a string", "{\"h\":\"\x1b]0;x\x07\"}", `{"h":"\u001b]0;x\u0007"}`},
		{"escapes kept", `{"h":"\u001b\"\\\n"}`, `{"h":"\u001b\"\\\n"}`},
		{"escaped quote then bidi", "{\"h\":\"\\\"\u2066\"}", `{"h":"\"\u2066"}`},
		{"invalid utf8", "{\"h\":\"a\xffb\"}", `{"h":"a\ufffdb"}`},
		{"key too", "{\"\u202e\":1}", `{"\u202e":1}`},
		{"control outside a string", "{\x1b[2J}", `{\u001b[2J}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JSON([]byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("JSON(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if r := terminalSafe(got); r != -1 {
				t.Errorf("JSON(%q) = %q still holds %U", tt.in, got, r)
			}
			var before, after any
			if json.Unmarshal([]byte(tt.in), &before) == nil {
				if err := json.Unmarshal(got, &after); err != nil || !reflect.DeepEqual(before, after) {
					t.Errorf("JSON(%q) decodes to %#v (%v), the input to %#v", tt.in, after, err, before)
				}
			}
		})
	}
}

// FuzzJSON checks that any string, encoded by encoding/json (as leasectl
// encodes its output), comes out of JSON terminal-safe and decoding to the
// same string; and that JSON leaves nothing interpretable in any input.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{"node-a", "\x1b]0;pwned\x07 \x1b[2J \u202e \u009b", "a\xffb", "\x7f\u2028\u061c", `"\`, strings.Repeat("é", 10), "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := json.Marshal(map[string]any{"k": s, s: []string{s}})
		if err != nil {
			t.Fatal(err)
		}
		safe := JSON(doc)
		if r := terminalSafe(safe); r != -1 {
			t.Fatalf("JSON(%q) = %q holds %U", doc, safe, r)
		}
		var before, after any
		if err := json.Unmarshal(doc, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(safe, &after); err != nil || !reflect.DeepEqual(before, after) {
			t.Fatalf("JSON(%q) = %q decodes to %#v (%v), want %#v", doc, safe, after, err, before)
		}
		if r := terminalSafe(JSON([]byte(s))); r != -1 {
			t.Fatalf("JSON(%q) holds %U", s, r)
		}
	})
}

func TestElide(t *testing.T) {
	tests := []struct {
		in          string
		width, tail int
		want        string
	}{
		{"exports/orders", 20, 8, "exports/orders"},
		{"exports/bulk/fold-001/export-000123", 24, 14, "exports/b…/export-000123"},
		{"exports/bulk/fold-001/export-000123", 12, 14, "e…ort-000123"},
		{"exports/a\x1b[2J-long-key/x", 12, 2, "exports/a…/x"},
		{"\x1b[2Jexports/long/x", 10, 2, "␛[2Jexp…/x"},
		{"東京東京東京/キー", 9, 4, "東京…キー"},
		{"東京東京東京/キー", 9, 5, "東…/キー"},
		{"abc", 1, 1, "…"},
		{"abc", 0, 1, ""},
		{"exports/cafe\u0301/orders", 12, 4, "exports…ders"},
		{"a/東京東京/x", 7, 3, "a/…/x"},
		{"a/東京東京/x", 8, 4, "a/…京/x"},
		{"a/x/cafe\u0301", 6, 3, "a/…afe\u0301"},
	}
	for _, tt := range tests {
		got := Elide(tt.in, tt.width, tt.tail)
		if w := Width(got); w > tt.width {
			t.Errorf("Elide(%q, %d, %d) = %q is %d cells wide", tt.in, tt.width, tt.tail, got, w)
		}
		if got != tt.want {
			t.Errorf("Elide(%q, %d, %d) = %q, want %q", tt.in, tt.width, tt.tail, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	in := "ok\nheld by \x1b]0;x\x07 \u202e é\n"
	// Byte by byte: every multi-byte rune is split across writes.
	for i := range len(in) {
		if n, err := w.Write([]byte{in[i]}); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.Write([]byte("\xe2\x80")) // a rune that never ends
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ok\nheld by ␛]0;x␇ \uFFFD é\n\uFFFD\uFFFD"
	if out.String() != want {
		t.Errorf("Writer wrote %q, want %q", out.String(), want)
	}
}

// FuzzWriter checks that where a write is split does not change what the
// Writer writes, and that what it writes is terminal-safe.
func FuzzWriter(f *testing.F) {
	f.Add("held by \x1b]0;x\x07 é\n東京\u202e", 9)
	f.Add("\xe2\x80\xae\n", 1)
	f.Fuzz(func(t *testing.T, s string, at int) {
		at = min(max(at, 0), len(s))
		var whole, split bytes.Buffer
		w := NewWriter(&whole)
		w.Write([]byte(s))
		w.Flush()
		w = NewWriter(&split)
		w.Write([]byte(s[:at]))
		w.Write([]byte(s[at:]))
		w.Flush()
		if whole.String() != split.String() {
			t.Fatalf("Writer(%q) = %q, split at %d = %q", s, whole.String(), at, split.String())
		}
		if r := terminalSafe(whole.Bytes()); r != -1 && r != '\t' && r != '\r' {
			t.Fatalf("Writer(%q) = %q holds %U", s, whole.String(), r)
		}
	})
}
