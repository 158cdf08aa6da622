package safetext

// Widths in terminal cells. Terminals disagree about much of Unicode: tmux
// asks the C library's wcwidth(3) code point by code point, xterm.js 6 uses
// a Unicode 6 table in which emoji take one cell, and terminals that cluster
// graphemes draw an emoji sequence (👩‍👩‍👧‍👦, 👍🏽, 🇯🇵, ❤️, 1️⃣) in two cells
// where the others take four, eight or one. Text that terminals measure
// differently pushes every later column of a table out of line, and a
// renderer that believes the wrong width leaves characters behind or
// overwrites them.
//
// So leasectl prints only what they all agree on. widthTable (generated
// by TestWidthTable from glibc 2.36, xterm.js 6 and the console renderer's
// own two width methods) gives each code point below U+40000 the width all
// of them give it, when they agree and it is printable; a grapheme cluster
// is printed as it is when it is one such code point of at least one cell
// followed only by zero-width ones (accents), and every other cluster is
// escaped (escapeCluster).

// attr is what widthTable knows of a code point.
type attr uint8

const (
	// attrWidth masks the cells every terminal gives the code point.
	attrWidth attr = 3
	// attrAgreed: every terminal gives it that width, and it is printable.
	attrAgreed attr = 1 << 2
	// attrBase: agreed, at least one cell wide, and it starts a grapheme
	// cluster whatever comes before or after it (it is not an extending or
	// spacing mark, nor a prepended one): printed alone or followed by
	// agreed zero-width code points, it takes its width everywhere.
	attrBase attr = 1 << 3
	// attrSimple: a base that never joins its neighbours into a grapheme
	// cluster (no Hangul leading jamo): a string of simple code points is
	// one cluster per code point, and needs no segmentation.
	attrSimple attr = 1 << 4
)

// lookup returns widthTable's entry for r; nothing is agreed beyond it.
func lookup(r rune) attr {
	if r < 0 || r >= widthTableEnd {
		return 0
	}
	return attr(widthBlocks[int(widthIndex[r>>widthBlockBits])<<widthBlockBits|int(r&(1<<widthBlockBits-1))])
}
