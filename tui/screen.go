package tui

// screen is what the console shows and what the keyboard drives, as one
// value: a view (the table, the table with the filter being typed, the
// details of a lease, or the audit log) and, over any of them, at most one
// layer (an action's dialog or the full help). Combinations that cannot happen —
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
	// screenAudit is the audit log (auditView: its list, its filter being
	// typed, or one entry).
	screenAudit
	// screenAuditDialog is a revert's dialog over the audit log.
	screenAuditDialog
	// screenAuditHelp is the full help, opened from the audit log.
	screenAuditHelp
)

// base returns the view beneath the layer: screenDetail for the details and
// what lies over them, screenAudit for the audit log and what lies over it,
// screenTable for the table, the table being filtered and what lies over
// the table, and screenQuitting for itself.
func (s screen) base() screen {
	switch s {
	case screenDetail, screenDetailDialog, screenDetailHelp:
		return screenDetail
	case screenAudit, screenAuditDialog, screenAuditHelp:
		return screenAudit
	case screenQuitting:
		return screenQuitting
	}
	return screenTable
}

// detail reports whether the details of a lease are open, shown or beneath
// a layer.
func (s screen) detail() bool { return s.base() == screenDetail }

// dialog reports whether an action's dialog is open.
func (s screen) dialog() bool {
	return s == screenTableDialog || s == screenDetailDialog || s == screenAuditDialog
}

// help reports whether the full help is open.
func (s screen) help() bool {
	return s == screenTableHelp || s == screenDetailHelp || s == screenAuditHelp
}

// audit reports whether the audit log is open, shown or beneath a layer.
func (s screen) audit() bool { return s.base() == screenAudit }

// withDialog returns s with an action's dialog over its view.
func (s screen) withDialog() screen {
	switch {
	case s.detail():
		return screenDetailDialog
	case s.audit():
		return screenAuditDialog
	}
	return screenTableDialog
}

// withHelp returns s with the full help over its view.
func (s screen) withHelp() screen {
	switch {
	case s.detail():
		return screenDetailHelp
	case s.audit():
		return screenAuditHelp
	}
	return screenTableHelp
}
