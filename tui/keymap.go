package tui

import "charm.land/bubbles/v2/key"

// KeyMap holds every key binding of the console (docs/design.md §8). The
// root model enables exactly the bindings that apply in the current view and
// to the selected lease, so the help it renders never offers a key that does
// nothing. Components match keys with key.Matches against the KeyMap they
// are handed; none keeps a global one.
type KeyMap struct {
	// Table and detail navigation.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding

	// Filter opens the filter; ApplyFilter leaves it keeping the text.
	Filter, ApplyFilter key.Binding
	// Sort cycles the sort column; SortReverse reverses the order.
	Sort, SortReverse key.Binding
	// Detail opens the selected lease.
	Detail key.Binding
	// Refresh re-lists every store now.
	Refresh key.Binding

	// Operator actions. Dangerous ones are capital letters.
	Acquire, Takeover, Release key.Binding

	// Audit opens the audit log; Revert reverts the selected entry there.
	Audit, Revert key.Binding

	// Dialog fields.
	NextField, PrevField, Submit key.Binding

	// Help toggles the full help.
	Help key.Binding
	// Back closes a view, cancels a dialog or clears the filter (esc).
	Back key.Binding
	// Quit quits, after closing an open view first.
	Quit key.Binding
	// Interrupt quits from anywhere, even a dialog.
	Interrupt key.Binding
}

// DefaultKeyMap returns the keys of docs/design.md §8.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),

		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ApplyFilter: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		SortReverse: key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse")),
		Detail:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Refresh:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "re-list")),

		Acquire:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acquire")),
		Takeover: key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "takeover")),
		Release:  key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "release")),

		Audit:  key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "audit log")),
		Revert: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "revert")),

		NextField: key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next field")),
		PrevField: key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "previous field")),
		Submit:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm")),

		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit now")),
	}
}

// ShortHelp implements help.KeyMap: the one-line help. Disabled bindings are
// skipped by the help component, so only keys that apply now are shown.
func (k KeyMap) ShortHelp() []key.Binding {
	// One entry for both directions keeps the line short.
	desc := "move"
	if k.Up.Help().Desc != "up" {
		desc = "scroll"
	}
	move := key.NewBinding(key.WithKeys(k.Up.Keys()...), key.WithHelp("↑/↓", desc))
	move.SetEnabled(k.Up.Enabled() && k.Down.Enabled())
	// Sort, reverse and, in the table, the arrows are in the full help only:
	// the line must keep room for "? help" and "q quit" at 100 columns.
	if desc == "move" {
		move.SetEnabled(false)
	}
	// "L log" rather than the full help's "L audit log": the table's line
	// keeps "q quit" at 100 columns.
	audit := k.Audit
	audit.SetHelp("L", "log")
	return []key.Binding{
		k.Submit, k.NextField, k.ApplyFilter,
		move, k.Detail, k.Filter,
		k.Acquire, k.Takeover, k.Release, k.Revert, k.Refresh, audit,
		k.Back, k.Help, k.Quit,
	}
}

// FullHelp implements help.KeyMap: the full help, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Detail, k.Filter, k.ApplyFilter, k.Sort, k.SortReverse, k.Refresh, k.Audit},
		{k.Acquire, k.Takeover, k.Release, k.Revert, k.NextField, k.PrevField, k.Submit},
		{k.Back, k.Help, k.Quit, k.Interrupt},
	}
}

// actionKeys returns the write bindings.
func (k *KeyMap) actionKeys() []*key.Binding {
	return []*key.Binding{&k.Acquire, &k.Takeover, &k.Release}
}

// all returns every binding, for switching them off before a view enables
// its own.
func (k *KeyMap) all() []*key.Binding {
	return []*key.Binding{
		&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Top, &k.Bottom,
		&k.Filter, &k.ApplyFilter, &k.Sort, &k.SortReverse, &k.Detail, &k.Refresh,
		&k.Acquire, &k.Takeover, &k.Release, &k.Audit, &k.Revert,
		&k.NextField, &k.PrevField, &k.Submit,
		&k.Help, &k.Back, &k.Quit, &k.Interrupt,
	}
}

// enabled returns b switched on, to recognise a key the current view
// disables (e.g. an action on a read-only store) and say why it is refused.
func enabled(b key.Binding) key.Binding {
	b.SetEnabled(true)
	return b
}
