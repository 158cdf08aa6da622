package safetext

import (
	"strconv"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "exports/orders", "exports/orders"},
		{"plain with single spaces", "exports/nightly run", "exports/nightly run"},
		{"plain cjk", "exports/東京", "exports/東京"},
		{"plain backslash", `exports/a\xff`, `exports/a\xff`},
		{"plain quote inside", `exports/"x"`, `exports/"x"`},
		{"not utf-8", "exports/\xff", `"exports/\xff"`},
		{"not utf-8, cut rune", "exports/\xe2\x80", `"exports/\xe2\x80"`},
		{"replacement character", "exports/\ufffd", `"exports/\ufffd"`},
		{"escape sequence", "exports/\x1b[2J", `"exports/\x1b[2J"`},
		{"control picture", "exports/␛[2J", `"exports/\u241b[2J"`},
		{"tab and newline", "a\tb\n", `"a\tb\n"`},
		{"del", "a\x7f", `"a\x7f"`},
		{"c1", "a\u0085", `"a\u0085"`},
		{"bidi override", "admin\u202egnp", `"admin\u202egnp"`},
		{"only spaces", "exports/   ", `"exports/   "`},
		{"leading space", " exports/x", `" exports/x"`},
		{"trailing space", "exports/x ", `"exports/x "`},
		{"repeated spaces", "exports/a  b", `"exports/a  b"`},
		{"no-break space", "exports/a\u00a0b", `"exports/a\u00a0b"`},
		{"ideographic space", "exports/a\u3000b", `"exports/a\u3000b"`},
		{"hangul filler", "exports/\u3164", `"exports/\u3164"`},
		{"leading quote", `"exports/x"`, `"\"exports/x\""`},
		{"backslash when quoted", "a\\\xff", `"a\\\xff"`},
		{"emoji", "exports/😀", `"exports/\U0001f600"`},
		{"zwj family", "exports/👩‍👩‍👧‍👦", `"exports/\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"`},
		{"vs16", "exports/❤️", `"exports/❤\ufe0f"`},
		{"combining accent", "exports/cafe\u0301", `"exports/cafe\u0301"`},
		{"precomposed accent", "exports/café", "exports/café"},
		{"zero width space", "exports/a\u200bb", `"exports/a\u200bb"`},
		{"ellipsis", "exports/a…", `"exports/a\u2026"`},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Key(tt.in)
			if got != tt.want {
				t.Errorf("Key(%q) = %s, want %s", tt.in, got, tt.want)
			}
			checkKey(t, tt.in)
		})
	}
}

// checkKey checks what Key promises of key: clean as it is, and either the
// key itself or a quoted form that unquotes to its exact bytes.
func checkKey(t *testing.T, key string) {
	t.Helper()
	got := Key(key)
	if Clean(got) != got {
		t.Fatalf("Key(%q) = %q is not clean: Clean makes it %q", key, got, Clean(got))
	}
	if got == key {
		if strings.HasPrefix(key, `"`) {
			t.Fatalf("Key(%q) is plain but starts with a quote", key)
		}
		return
	}
	back, err := strconv.Unquote(got)
	if err != nil || back != key {
		t.Fatalf("Key(%q) = %s unquotes to %q (%v), want the key", key, got, back, err)
	}
}

// FuzzKey checks that two different keys never look the same, and that the
// quoted form gives the key back.
func FuzzKey(f *testing.F) {
	f.Add("exports/\xff", "exports/\ufffd")
	f.Add("exports/   ", "exports/")
	f.Add(`"exports/\xff"`, "exports/\xff")
	f.Add("a\u00a0b", "a b")
	f.Add("exports/😀", `exports/\U0001f600`)
	f.Fuzz(func(t *testing.T, a, b string) {
		checkKey(t, a)
		checkKey(t, b)
		if a != b && Key(a) == Key(b) {
			t.Fatalf("Key(%q) = Key(%q) = %s", a, b, Key(a))
		}
	})
}
