package tui

// screen is what the console shows and what the keyboard drives, as one
// value: a view (the table, the table with the filter being typed, or the
// details of a lease) and, over the table or the details, at most one layer
// (an action's dialog or the full help). Combinations that cannot happen —
// a dialog over the help, the filter typed under the details — cannot be
// represented.
type screen uint8

const (
	// screenTable is the lease table.
	screenTable screen = iota
	// screenFilter is the table with the filter being typed.
	screenFilter
	// screenDetail is the details of one lease.
	screenDetail
	// screenTableDialog is an action's dialog over the table.
	screenTableDialog
	// screenDetailDialog is an action's dialog over the details.
	screenDetailDialog
	// screenTableHelp is the full help, opened from the table.
	screenTableHelp
	// screenDetailHelp is the full help, opened from the details.
	screenDetailHelp
	// screenQuitting is the end: the program is quitting and draws nothing.
	screenQuitting
)

// base returns the view beneath the layer: screenDetail for the details and
// what lies over them, screenTable for the table, the table being filtered
// and what lies over the table, and screenQuitting for itself.
func (s screen) base() screen {
	switch s {
	case screenDetail, screenDetailDialog, screenDetailHelp:
		return screenDetail
	case screenQuitting:
		return screenQuitting
	}
	return screenTable
}

// detail reports whether the details of a lease are open, shown or beneath
// a layer.
func (s screen) detail() bool { return s.base() == screenDetail }

// dialog reports whether an action's dialog is open.
func (s screen) dialog() bool { return s == screenTableDialog || s == screenDetailDialog }

// help reports whether the full help is open.
func (s screen) help() bool { return s == screenTableHelp || s == screenDetailHelp }

// withDialog returns s with an action's dialog over its view.
func (s screen) withDialog() screen {
	if s.detail() {
		return screenDetailDialog
	}
	return screenTableDialog
}

// withHelp returns s with the full help over its view.
func (s screen) withHelp() screen {
	if s.detail() {
		return screenDetailHelp
	}
	return screenTableHelp
}
