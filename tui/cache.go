package tui

import (
	"strings"
	"sync/atomic"

	"github.com/charmbracelet/x/ansi"
)

// Bubble Tea renders the model after every message, so a frame must cost
// little when little changed: a key typed into a dialog changes one field,
// and must not re-render the dialog, the screen behind it or the stores
// pane. Those parts are cached. Model and its components are values, copied
// by every Update, so a cache lives behind a pointer shared by the copies,
// and the value says which version of the part it shows: a generation
// number, taken from one counter so that no two versions share one. A part
// whose state changes takes a new number (explicit invalidation); a View
// whose number differs from the cached one renders the part again.

// lastGen is the last generation handed out.
var lastGen atomic.Uint64

// nextGen returns a generation number no other version of any part has.
func nextGen() uint64 { return lastGen.Add(1) }

// frameCache holds what the root renders with a dialog open: the screen
// behind the dialog, for the inputs it was rendered from, and the pieces of
// its lines to the left and right of the dialog's box.
type frameCache struct {
	base     baseKey
	baseOK   bool
	lines    []string
	geometry [4]int // x, y, width and height of the box the pieces were cut for
	left     []string
	right    []string
	// out is the last frame drawn, of the dialog parts' generations box.
	out   string
	box   dialogGens
	outOK bool
}

// baseKey is everything the screen behind a dialog depends on: when none of
// it changed, the cached screen is still right.
type baseKey struct {
	width, height int
	styles        uint64
	// The header.
	leases int
	sortBy column
	desc   bool
	// The stores pane, the status line and the key help.
	pane       uint64
	statusKind statusKind
	status     string
	keys       uint64
	// The filter line.
	filter        string
	shown, total  int
	filterVisible bool
}

// splice draws box over base at column x, row y: each line under the box
// keeps base's text left and right of it (cut from base once per base and
// geometry, and cached), so a frame costs a few concatenations per line.
func (c *frameCache) splice(box []string, x, y, boxW, width int) string {
	g := [4]int{x, y, boxW, len(box)}
	if c.geometry != g || c.left == nil {
		c.geometry = g
		c.left, c.right = make([]string, len(box)), make([]string, len(box))
		for i := range box {
			if y+i >= len(c.lines) {
				break
			}
			l := c.lines[y+i]
			left := ansi.Truncate(l, x, "")
			if lw := ansi.StringWidth(left); lw < x {
				left += strings.Repeat(" ", x-lw)
			}
			if strings.Contains(left, "\x1b") {
				left += "\x1b[m" // the box starts unstyled
			}
			c.left[i] = left
			if x+boxW < width && ansi.StringWidth(l) > x+boxW {
				// TruncateLeft keeps the escape sequences of what it
				// cuts, so the piece keeps its style.
				c.right[i] = ansi.TruncateLeft(l, x+boxW, "")
			}
		}
	}
	var b strings.Builder
	b.Grow(len(c.lines) * (width + 16))
	for i, l := range c.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		j := i - y
		if j < 0 || j >= len(box) {
			b.WriteString(l)
			continue
		}
		b.WriteString(c.left[j])
		if x+boxW > width {
			b.WriteString(ansi.Truncate(box[j], max(width-x, 0), ""))
		} else {
			b.WriteString(box[j])
		}
		b.WriteString(c.right[j])
	}
	// A box taller than the screen is cut at its bottom edge.
	return b.String()
}

// chromeCache holds the lines around the body as last rendered — the title,
// the filter line, the status line and the key help — each for the inputs
// it was rendered from: most messages change none of them.
type chromeCache struct {
	title  cachedLine[titleKey]
	filter cachedLine[filterKey]
	status cachedLine[statusKey]
	help   cachedLine[helpKey]
}

// cachedLine is one line and the inputs it was rendered from.
type cachedLine[K comparable] struct {
	key  K
	ok   bool
	text string
}

// get returns the line for k, rendered again only when k changed.
func (c *cachedLine[K]) get(k K, render func() string) string {
	if !c.ok || c.key != k {
		c.key, c.ok, c.text = k, true, render()
	}
	return c.text
}

// The inputs of each line, besides the options, which do not change.
type (
	titleKey struct {
		width  int
		styles uint64
		leases int
		sortBy column
		desc   bool
	}
	filterKey struct {
		width        int
		styles       uint64
		filter       string
		shown, total int
	}
	statusKey struct {
		width  int
		styles uint64
		kind   statusKind
		text   string
	}
	helpKey struct {
		width        int
		styles, keys uint64
	}
)
