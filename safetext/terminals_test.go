package safetext

import (
	"testing"

	"github.com/leasectl/leasectl/internal/termwidth"
)

// hostile holds the text issue 8 found misaligning the console: emoji
// sequences that terminals measure differently, and clusters whose width as
// a grapheme differs from the sum of their code points' widths.
var hostile = []struct{ name, in string }{
	{"grinning face", "😀"},
	{"thumbs up, skin tone", "👍🏽"},
	{"flag", "🇯🇵"},
	{"three in a row", "😀👍🏽🇯🇵"},
	{"zwj family", "👩‍👩‍👧‍👦"},
	{"heart with vs16", "❤️"},
	{"keycap", "1️⃣"},
	{"hot beverage (wide since unicode 9)", "☕"},
	{"devanagari with a spacing mark", "का"},
	{"indic conjunct", "क्ष"},
	{"hangul jamo run", "ᄀ가"},
	{"halfwidth voiced mark", "ｶﾞ"},
	{"lone combining mark", "\u0301x"},
	{"zero width space", "a\u200bb"},
	{"unassigned", "a\u0378b"},
	{"private use", "a\ue000b"},
	{"holder", "node-😀👍🏽🇯🇵-7"},
	{"key", "exports/👩‍👩‍👧‍👦/orders"},
}

// TestWidthAcrossTerminals checks the rule of issue 8: whatever Clean
// leaves takes the same cells in tmux, xterm.js and a grapheme-clustering
// terminal, and Width says how many.
func TestWidthAcrossTerminals(t *testing.T) {
	agreed := []struct{ name, in string }{
		{"ascii", "node-a"},
		{"cjk", "東京-ノード"},
		{"latin with accents", "nœud-ä-é"},
		{"combining accent", "e\u0301"},
		{"hangul syllables", "서울"},
		{"box and arrows", "▶•●○◐✗▲▼—…·"},
		{"control pictures", "␛␇"},
	}
	for _, tt := range append(agreed, hostile...) {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			w := Width(tt.in)
			for _, term := range termwidth.All {
				if tw := term.Width(got); tw != w {
					t.Errorf("Clean(%q) = %q: %d cells in %s, Width says %d", tt.in, got, tw, term, w)
				}
			}
		})
	}
	for _, tt := range agreed {
		if got := Clean(tt.in); got != tt.in {
			t.Errorf("Clean(%q) = %q, want it kept: every terminal agrees on its width", tt.in, got)
		}
	}
}
