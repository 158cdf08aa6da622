package termwidth

import "testing"

// TestModels pins each model to what its terminal was seen to do: tmux
// 3.3a's cursor after printing the text in a real pane (#{cursor_x}), and
// xterm.js 6's UnicodeService.getStringCellWidth with its default provider.
func TestModels(t *testing.T) {
	tests := []struct {
		in                    string
		tmux, xterm, grapheme int
	}{
		{"node-a", 6, 6, 6},
		{"東京", 4, 4, 4},
		{"é", 1, 1, 1},
		{"e\u0301", 1, 1, 1},
		{"😀", 2, 1, 2},
		{"👍🏽", 4, 2, 2},
		{"🇯🇵", 2, 2, 2},
		{"👩‍👩‍👧‍👦", 2, 4, 2},
		{"❤️", 1, 1, 2},
		{"1️⃣", 1, 1, 2},
		{"☕", 2, 1, 2},
		{"a\u200db", 2, 2, 2},
		{"का", 2, 2, 1},
		{"ᄀ가", 4, 4, 2},
		{"a\u0378b", 2, 3, 3},
		{"\U0001FAE8", 0, 1, 2},
	}
	for _, tt := range tests {
		for term, want := range map[Terminal]int{Tmux: tt.tmux, XtermJS: tt.xterm, Grapheme: tt.grapheme} {
			if got := term.Width(tt.in); got != want {
				t.Errorf("%s.Width(%q) = %d, want %d", term, tt.in, got, want)
			}
		}
	}
}
