package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"

	"github.com/leasectl/leasectl/lease"
)

// Styles is every style the console renders with, built once for a dark or a
// light background and handed to each component. No component keeps a style
// of its own, so a background change (tea.BackgroundColorMsg) restyles the
// whole screen.
type Styles struct {
	// Title is "leasectl" in the header; DemoBadge and ReadOnlyBadge are the
	// badges beside it.
	Title, DemoBadge, ReadOnlyBadge lipgloss.Style
	// Dim is secondary text (labels, hints, the operator's name).
	Dim lipgloss.Style

	// StoreName, StoreKind and the connection states of the stores pane.
	StoreName, StoreKind                             lipgloss.Style
	ConnLive, ConnSyncing, ConnConnecting, ConnError lipgloss.Style

	// Header is the table's column header; HeaderSorted the sorted column.
	Header, HeaderSorted lipgloss.Style
	// Cell is an ordinary cell; Selected is laid over every cell of the
	// selected row.
	Cell, Selected lipgloss.Style
	// RowExpired and RowCorrupt colour the whole row of an expired or a
	// corrupt lease, so they stand out without reading the state column.
	RowExpired, RowCorrupt lipgloss.Style
	// State styles the state word, one per state. The word is always
	// written: colour is never the only signal.
	StateHeld, StateExpired, StateCorrupt, StateTombstone, StateAbsent lipgloss.Style
	// Changed is the marker of a row whose revision just changed.
	Changed lipgloss.Style
	// RowStale dims every row of a store in error: the rows are as last
	// seen. StaleTag is their mark ("stale 2m"), which says so in words.
	RowStale, StaleTag lipgloss.Style
	// Production is the badge of a production store in the stores pane;
	// ProductionBanner the banner of every action dialog on one.
	Production, ProductionBanner lipgloss.Style
	// FlagCompleted, FlagSkewed, FlagOverdue and FlagUnfinished are the
	// flag tags.
	FlagCompleted, FlagSkewed, FlagOverdue, FlagUnfinished lipgloss.Style

	// Status line, one style per kind of message.
	StatusInfo, StatusOK, StatusWarn, StatusError lipgloss.Style

	// Dialog is the modal's frame; DialogTitle its title, DialogDanger the
	// title of a dangerous action; Label a field label.
	Dialog, DialogTitle, DialogDanger, Label, Panel lipgloss.Style

	// JSON syntax colouring in the detail view.
	JSONKey, JSONString, JSONNumber, JSONLiteral, JSONPunct lipgloss.Style

	// Help styles the short and full help.
	Help help.Styles
	// Input styles text inputs (filter, dialog fields).
	Input textinput.Styles

	// plain is set for styles that render no attribute at all (tests).
	plain bool
}

// NewStyles returns the styles for a dark (isDark) or light background.
func NewStyles(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }

	var (
		green  = c("#1B7F3B", "#5FD787")
		yellow = c("#8A6100", "#E5C07B")
		red    = c("#B3261E", "#FF6B6B")
		grey   = c("#6B6B6B", "#8A8A8A")
		blue   = c("#1F5FAF", "#7AA2F7")
		violet = c("#7B2FBE", "#C678DD")
		cyan   = c("#00727A", "#56B6C2")
		fg     = c("#1A1A1A", "#DADADA")
		selBg  = c("#D8E4F8", "#2E3A55")
	)
	s := Styles{
		Title:         lipgloss.NewStyle().Bold(true).Foreground(blue),
		DemoBadge:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#C2185B")).Padding(0, 1),
		ReadOnlyBadge: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#1A1A1A")).Background(lipgloss.Color("#E5C07B")).Padding(0, 1),
		Dim:           lipgloss.NewStyle().Foreground(grey),

		StoreName:      lipgloss.NewStyle().Bold(true).Foreground(fg),
		StoreKind:      lipgloss.NewStyle().Foreground(grey),
		ConnLive:       lipgloss.NewStyle().Foreground(green),
		ConnSyncing:    lipgloss.NewStyle().Foreground(cyan),
		ConnConnecting: lipgloss.NewStyle().Foreground(yellow),
		ConnError:      lipgloss.NewStyle().Foreground(red),

		Header:       lipgloss.NewStyle().Bold(true).Foreground(grey),
		HeaderSorted: lipgloss.NewStyle().Bold(true).Underline(true).Foreground(fg),
		Cell:         lipgloss.NewStyle().Foreground(fg),
		Selected:     lipgloss.NewStyle().Background(selBg).Bold(true),
		RowExpired:   lipgloss.NewStyle().Foreground(yellow),
		RowCorrupt:   lipgloss.NewStyle().Foreground(red),

		StateHeld:        lipgloss.NewStyle().Bold(true).Foreground(green),
		StateExpired:     lipgloss.NewStyle().Bold(true).Foreground(yellow),
		StateCorrupt:     lipgloss.NewStyle().Bold(true).Foreground(red),
		StateTombstone:   lipgloss.NewStyle().Foreground(grey),
		StateAbsent:      lipgloss.NewStyle().Foreground(grey).Italic(true),
		Changed:          lipgloss.NewStyle().Bold(true).Foreground(cyan),
		RowStale:         lipgloss.NewStyle().Foreground(grey),
		StaleTag:         lipgloss.NewStyle().Bold(true).Foreground(yellow),
		Production:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#B3261E")).Padding(0, 1),
		ProductionBanner: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(lipgloss.Color("#B3261E")),
		FlagCompleted:    lipgloss.NewStyle().Foreground(blue),
		FlagSkewed:       lipgloss.NewStyle().Bold(true).Foreground(violet),
		FlagOverdue:      lipgloss.NewStyle().Bold(true).Foreground(red),
		FlagUnfinished:   lipgloss.NewStyle().Foreground(yellow),

		StatusInfo:  lipgloss.NewStyle().Foreground(fg),
		StatusOK:    lipgloss.NewStyle().Foreground(green),
		StatusWarn:  lipgloss.NewStyle().Foreground(yellow),
		StatusError: lipgloss.NewStyle().Bold(true).Foreground(red),

		Dialog:       lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(blue).Padding(0, 1),
		DialogTitle:  lipgloss.NewStyle().Bold(true).Foreground(blue),
		DialogDanger: lipgloss.NewStyle().Bold(true).Foreground(red),
		Label:        lipgloss.NewStyle().Foreground(grey),
		Panel:        lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(grey).Padding(0, 1),

		JSONKey:     lipgloss.NewStyle().Foreground(blue),
		JSONString:  lipgloss.NewStyle().Foreground(green),
		JSONNumber:  lipgloss.NewStyle().Foreground(yellow),
		JSONLiteral: lipgloss.NewStyle().Foreground(violet),
		JSONPunct:   lipgloss.NewStyle().Foreground(grey),

		Help:  help.DefaultStyles(isDark),
		Input: textinput.DefaultStyles(isDark),
	}
	// A static cursor: a blinking one would wake the program twice a second
	// for nothing.
	s.Input.Cursor.Blink = false
	return s
}

// plainStyles renders no attribute at all: every style is empty, so the
// output holds no escape sequence. Tests use it to prove that nothing from a
// store reaches the terminal as an escape sequence.
func plainStyles() Styles {
	p := lipgloss.NewStyle()
	s := Styles{
		Title: p, DemoBadge: p, ReadOnlyBadge: p, Dim: p,
		StoreName: p, StoreKind: p, ConnLive: p, ConnSyncing: p, ConnConnecting: p, ConnError: p,
		Header: p, HeaderSorted: p, Cell: p, Selected: p, RowExpired: p, RowCorrupt: p,
		StateHeld: p, StateExpired: p, StateCorrupt: p, StateTombstone: p, StateAbsent: p,
		Changed: p, FlagCompleted: p, FlagSkewed: p, FlagOverdue: p, FlagUnfinished: p,
		RowStale: p, StaleTag: p, Production: p, ProductionBanner: p,
		StatusInfo: p, StatusOK: p, StatusWarn: p, StatusError: p,
		Dialog:       p.Border(lipgloss.RoundedBorder()).Padding(0, 1),
		DialogTitle:  p,
		DialogDanger: p,
		Label:        p,
		Panel:        p.Border(lipgloss.NormalBorder()).Padding(0, 1),
		JSONKey:      p, JSONString: p, JSONNumber: p, JSONLiteral: p, JSONPunct: p,
		Help:  help.Styles{Ellipsis: p, ShortKey: p, ShortDesc: p, ShortSeparator: p, FullKey: p, FullDesc: p, FullSeparator: p},
		plain: true,
	}
	s.Input = textinput.Styles{
		Focused: textinput.StyleState{Text: p, Placeholder: p, Suggestion: p, Prompt: p},
		Blurred: textinput.StyleState{Text: p, Placeholder: p, Suggestion: p, Prompt: p},
	}
	return s
}

// state returns the style of a state word.
func (s Styles) state(st lease.State) lipgloss.Style {
	switch st {
	case lease.Held:
		return s.StateHeld
	case lease.Expired:
		return s.StateExpired
	case lease.Corrupt:
		return s.StateCorrupt
	case lease.Tombstone:
		return s.StateTombstone
	}
	return s.StateAbsent
}

// storeStyle returns base in a store's colour c (a Lip Gloss colour, ""
// for none), faint for a stale row; plain styles stay plain.
func (s Styles) storeStyle(base lipgloss.Style, c string, stale bool) lipgloss.Style {
	if s.plain {
		return base
	}
	if c != "" {
		base = base.Foreground(lipgloss.Color(c))
	}
	if stale {
		base = base.Faint(true)
	}
	return base
}
