package safetext

import (
	"strings"
	"testing"
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
	})
}
