// Package termwidth models how far real terminals move the cursor over a
// line of text, so that tests can check that what leasectl prints lines up
// in every one of them, not only in the width function leasectl uses.
//
// The models are taken from the terminals' sources and checked against
// them (e2e/text8_test.go asks a real tmux; every code point safetext keeps
// was also checked by hand in a tmux pane and in @xterm/headless): tmux
// measures with the C library's wcwidth(3), code point by code point;
// xterm.js 6, without the Unicode 11 addon, with its own Unicode 6 table
// (src/common/input/UnicodeV6.ts); and a terminal that clusters graphemes
// (DEC mode 2027: Ghostty, WezTerm, kitty) one width per grapheme cluster,
// as github.com/charmbracelet/x/ansi measures it.
package termwidth

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Terminal is a way of measuring text.
type Terminal int

// The terminals modelled.
const (
	// Tmux is tmux 3.3a on glibc 2.36: wcwidth(3) per code point, a code
	// point wcwidth does not print takes no cell, and an emoji after a
	// ZWJ that follows a wide character joins it.
	Tmux Terminal = iota
	// XtermJS is xterm.js 6 with its default Unicode 6 provider: its
	// wcwidth per code point (zero-width code points join the cell before).
	XtermJS
	// Grapheme is a terminal that measures grapheme clusters (mode 2027),
	// as ansi.StringWidth does.
	Grapheme
)

// All is every terminal modelled.
var All = []Terminal{Tmux, XtermJS, Grapheme}

// String names the terminal.
func (t Terminal) String() string {
	return [...]string{"tmux", "xterm.js", "grapheme"}[t]
}

// Width returns the cells s takes on the terminal: s is plain text,
// without escape sequences or control characters.
func (t Terminal) Width(s string) int {
	switch t {
	case Grapheme:
		return ansi.StringWidth(s)
	case XtermJS:
		w := 0
		for _, r := range s {
			w += XtermV6(r)
		}
		return w
	}
	w, prev, zwj := 0, 0, false
	for _, r := range s {
		rw := max(Glibc(r), 0)
		switch {
		case r == 0x200d:
			zwj = prev == 2
			continue
		case zwj && rw == 2:
			rw = 0 // joins the emoji before the ZWJ
		}
		zwj = false
		w += rw
		if rw > 0 {
			prev = rw
		}
	}
	return w
}

//go:embed glibc-2.36.txt
var glibcData string

// glibcRange is a run of code points of one wcwidth.
type glibcRange struct {
	lo, hi rune
	width  int
}

var glibcRanges = func() []glibcRange {
	var out []glibcRange
	for _, l := range strings.Split(glibcData, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		lo, err1 := strconv.ParseUint(f[0], 16, 32)
		hi, err2 := strconv.ParseUint(f[1], 16, 32)
		w, err3 := strconv.Atoi(f[2])
		if len(f) != 3 || err1 != nil || err2 != nil || err3 != nil {
			panic(fmt.Sprintf("termwidth: bad line %q in glibc-2.36.txt", l))
		}
		out = append(out, glibcRange{rune(lo), rune(hi), w})
	}
	return out
}()

// Glibc returns wcwidth(r) of glibc 2.36 in a UTF-8 locale: -1 when it
// does not print r.
func Glibc(r rune) int {
	i := sort.Search(len(glibcRanges), func(i int) bool { return glibcRanges[i].hi >= r })
	if i < len(glibcRanges) && glibcRanges[i].lo <= r {
		return glibcRanges[i].width
	}
	return -1
}

// XtermV6 returns the width xterm.js 6 gives r with its default Unicode
// version 6 provider (UnicodeV6.wcwidth): Markus Kuhn's wcwidth, where
// nothing outside the BMP is wide except the CJK planes 2 and 3. Controls
// are 0.
func XtermV6(r rune) int {
	switch {
	case r < 32:
		return 0
	case r < 127:
		return 1
	case r < 0xa0:
		return 0
	case r < 0x10000:
		if inRanges(r, xtermBMPCombining) {
			return 0
		}
		switch {
		case r >= 0x1100 && r < 0x1160, r == 0x2329, r == 0x232a,
			r >= 0x2e80 && r < 0xa4d0 && r != 0x303f,
			r >= 0xac00 && r < 0xd7a4, r >= 0xf900 && r < 0xfb00,
			r >= 0xfe10 && r < 0xfe1a, r >= 0xfe30 && r < 0xfe70,
			r >= 0xff00 && r < 0xff61, r >= 0xffe0 && r < 0xffe7:
			return 2
		}
		return 1
	case inRanges(r, xtermHighCombining):
		return 0
	case r >= 0x20000 && r <= 0x2fffd, r >= 0x30000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

func inRanges(r rune, ranges [][2]rune) bool {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i][1] >= r })
	return i < len(ranges) && ranges[i][0] <= r
}

// xtermBMPCombining and xtermHighCombining are BMP_COMBINING and
// HIGH_COMBINING of xterm.js 6.0.0's src/common/input/UnicodeV6.ts.
var xtermBMPCombining = [][2]rune{
	{0x0300, 0x036F}, {0x0483, 0x0486}, {0x0488, 0x0489},
	{0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
	{0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0600, 0x0603},
	{0x0610, 0x0615}, {0x064B, 0x065E}, {0x0670, 0x0670},
	{0x06D6, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED},
	{0x070F, 0x070F}, {0x0711, 0x0711}, {0x0730, 0x074A},
	{0x07A6, 0x07B0}, {0x07EB, 0x07F3}, {0x0901, 0x0902},
	{0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D},
	{0x0951, 0x0954}, {0x0962, 0x0963}, {0x0981, 0x0981},
	{0x09BC, 0x09BC}, {0x09C1, 0x09C4}, {0x09CD, 0x09CD},
	{0x09E2, 0x09E3}, {0x0A01, 0x0A02}, {0x0A3C, 0x0A3C},
	{0x0A41, 0x0A42}, {0x0A47, 0x0A48}, {0x0A4B, 0x0A4D},
	{0x0A70, 0x0A71}, {0x0A81, 0x0A82}, {0x0ABC, 0x0ABC},
	{0x0AC1, 0x0AC5}, {0x0AC7, 0x0AC8}, {0x0ACD, 0x0ACD},
	{0x0AE2, 0x0AE3}, {0x0B01, 0x0B01}, {0x0B3C, 0x0B3C},
	{0x0B3F, 0x0B3F}, {0x0B41, 0x0B43}, {0x0B4D, 0x0B4D},
	{0x0B56, 0x0B56}, {0x0B82, 0x0B82}, {0x0BC0, 0x0BC0},
	{0x0BCD, 0x0BCD}, {0x0C3E, 0x0C40}, {0x0C46, 0x0C48},
	{0x0C4A, 0x0C4D}, {0x0C55, 0x0C56}, {0x0CBC, 0x0CBC},
	{0x0CBF, 0x0CBF}, {0x0CC6, 0x0CC6}, {0x0CCC, 0x0CCD},
	{0x0CE2, 0x0CE3}, {0x0D41, 0x0D43}, {0x0D4D, 0x0D4D},
	{0x0DCA, 0x0DCA}, {0x0DD2, 0x0DD4}, {0x0DD6, 0x0DD6},
	{0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E},
	{0x0EB1, 0x0EB1}, {0x0EB4, 0x0EB9}, {0x0EBB, 0x0EBC},
	{0x0EC8, 0x0ECD}, {0x0F18, 0x0F19}, {0x0F35, 0x0F35},
	{0x0F37, 0x0F37}, {0x0F39, 0x0F39}, {0x0F71, 0x0F7E},
	{0x0F80, 0x0F84}, {0x0F86, 0x0F87}, {0x0F90, 0x0F97},
	{0x0F99, 0x0FBC}, {0x0FC6, 0x0FC6}, {0x102D, 0x1030},
	{0x1032, 0x1032}, {0x1036, 0x1037}, {0x1039, 0x1039},
	{0x1058, 0x1059}, {0x1160, 0x11FF}, {0x135F, 0x135F},
	{0x1712, 0x1714}, {0x1732, 0x1734}, {0x1752, 0x1753},
	{0x1772, 0x1773}, {0x17B4, 0x17B5}, {0x17B7, 0x17BD},
	{0x17C6, 0x17C6}, {0x17C9, 0x17D3}, {0x17DD, 0x17DD},
	{0x180B, 0x180D}, {0x18A9, 0x18A9}, {0x1920, 0x1922},
	{0x1927, 0x1928}, {0x1932, 0x1932}, {0x1939, 0x193B},
	{0x1A17, 0x1A18}, {0x1B00, 0x1B03}, {0x1B34, 0x1B34},
	{0x1B36, 0x1B3A}, {0x1B3C, 0x1B3C}, {0x1B42, 0x1B42},
	{0x1B6B, 0x1B73}, {0x1DC0, 0x1DCA}, {0x1DFE, 0x1DFF},
	{0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2063},
	{0x206A, 0x206F}, {0x20D0, 0x20EF}, {0x302A, 0x302F},
	{0x3099, 0x309A}, {0xA806, 0xA806}, {0xA80B, 0xA80B},
	{0xA825, 0xA826}, {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F},
	{0xFE20, 0xFE23}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB},
}

var xtermHighCombining = [][2]rune{
	{0x10A01, 0x10A03}, {0x10A05, 0x10A06}, {0x10A0C, 0x10A0F},
	{0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F}, {0x1D167, 0x1D169},
	{0x1D173, 0x1D182}, {0x1D185, 0x1D18B}, {0x1D1AA, 0x1D1AD},
	{0x1D242, 0x1D244}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
	{0xE0100, 0xE01EF},
}
