package tui

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/leasectl/leasectl/lease"
)

// ink is a style reduced to the escape sequences around its text: painting
// a cell is then a concatenation, not a Style.Render, which keeps a frame
// cheap. Only single-line styles without padding, margins or borders are
// reduced this way.
type ink struct{ pre, post string }

// inkMarker stands for the text while a style is reduced to an ink.
const inkMarker = "\uE000"

func inkOf(st lipgloss.Style) ink {
	r := st.Render(inkMarker)
	i := strings.Index(r, inkMarker)
	if i < 0 {
		return ink{}
	}
	return ink{pre: r[:i], post: r[i+len(inkMarker):]}
}

// paint wraps s, already cleaned, in the ink.
func (k ink) paint(s string) string { return k.pre + s + k.post }

// inks are the table's styles as inks, each plain and over the selection.
type inks struct {
	cell, expired, corrupt, dim, changed [2]ink
	// flag are the flags' tags, in lease.AllFlags order.
	flag  [4][2]ink
	state map[lease.State][2]ink
	// stale is the ink of every cell of a stale row, staleTag its mark.
	stale, staleTag [2]ink
	// store is the store cell of each store with a colour: [0] current,
	// [1] stale (faint), each plain and over the selection.
	store map[string][2][2]ink
}

func newInks(s *Styles, marks map[string]storeMark) inks {
	pair := func(st lipgloss.Style) [2]ink {
		return [2]ink{inkOf(st), inkOf(st.Inherit(s.Selected))}
	}
	k := inks{
		cell: pair(s.Cell), expired: pair(s.RowExpired), corrupt: pair(s.RowCorrupt), dim: pair(s.Dim),
		changed: pair(s.Changed),
		flag:    [4][2]ink{pair(s.FlagCompleted), pair(s.FlagSkewed), pair(s.FlagOverdue), pair(s.FlagUnfinished)},
		stale:   pair(s.RowStale), staleTag: pair(s.StaleTag),
		state: map[lease.State][2]ink{},
		store: map[string][2][2]ink{},
	}
	for _, st := range []lease.State{lease.Absent, lease.Tombstone, lease.Held, lease.Expired, lease.Corrupt} {
		k.state[st] = pair(s.state(st))
	}
	for name, mk := range marks {
		if mk.color != "" {
			k.store[name] = [2][2]ink{pair(s.storeStyle(s.Cell, mk.color, false)), pair(s.storeStyle(s.RowStale, mk.color, true))}
		}
	}
	return k
}
