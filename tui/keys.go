package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
)

// onKey routes a key press to what the keyboard drives now.
func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, m.keys.Interrupt) {
		return m.quit()
	}
	switch s := m.screen; {
	case s.dialog():
		return m.dialogKey(k)
	case s.help():
		if key.Matches(k, m.keys.Back) {
			m.screen = s.base()
		}
		return nil
	case s == screenFilter:
		return m.filterKey(k)
	case s == screenAudit:
		return m.auditKey(k)
	case s == screenDetail:
		return m.detailKey(k)
	case s == screenTable:
		return m.tableKey(k)
	}
	return nil
}

// onPaste pastes into the focused input, if any.
func (m *Model) onPaste(p tea.PasteMsg) tea.Cmd {
	var cmd tea.Cmd
	switch {
	case m.screen.dialog():
		m.dialog, cmd = m.dialog.Update(p)
	case m.screen == screenFilter:
		m.filter, cmd = m.filter.Update(p)
		m.table.SetFilter(m.filter.Value(), m.rows)
	case m.screen == screenAudit && m.audit.mode == auditFilter:
		m.audit.input, cmd = m.audit.input.Update(p)
		m.audit.SetFilter(m.audit.input.Value())
	}
	return cmd
}

func (m *Model) quit() tea.Cmd {
	m.screen = screenQuitting
	m.sess.cancel()
	return tea.Quit
}

func (m *Model) tableKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Quit):
		return m.quit()
	case key.Matches(k, m.keys.Help):
		m.screen = m.screen.withHelp()
	case key.Matches(k, m.keys.Back):
		m.setFilter("")
	case key.Matches(k, m.keys.Filter):
		m.screen = screenFilter
		m.filter.SetValue(m.table.filter)
		m.filter.CursorEnd()
		m.setSize(m.width, m.height)
		return m.filter.Focus()
	case key.Matches(k, m.keys.Sort):
		m.table.cycleSort(m.rows)
		m.status.Set(statusInfo, "sorted by "+m.table.sortBy.name())
	case key.Matches(k, m.keys.SortReverse):
		m.table.reverse(m.rows)
		order := "ascending"
		if m.table.desc {
			order = "descending"
		}
		m.status.Set(statusInfo, "sorted by "+m.table.sortBy.name()+", "+order)
	case key.Matches(k, m.keys.Detail):
		return m.openDetail()
	case key.Matches(k, m.keys.Refresh):
		return m.refreshAll()
	case key.Matches(k, enabled(m.keys.Audit)):
		return m.openAudit()
	default:
		if cmd, ok := m.actionKey(k); ok {
			return cmd
		}
		var cmd tea.Cmd
		m.table, cmd = m.table.Update(k)
		return cmd
	}
	return nil
}

func (m *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Back):
		m.screen = screenTable
	case key.Matches(k, m.keys.Help):
		m.screen = m.screen.withHelp()
	case key.Matches(k, m.keys.Refresh):
		return m.refreshAll()
	default:
		if cmd, ok := m.actionKey(k); ok {
			return cmd
		}
		var cmd tea.Cmd
		m.detail, cmd = m.detail.Update(k)
		return cmd
	}
	return nil
}

func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Back):
		m.screen = screenTable
		m.filter.Blur()
		m.setFilter("")
	case key.Matches(k, m.keys.ApplyFilter):
		m.screen = screenTable
		m.filter.Blur()
		m.setSize(m.width, m.height)
	default:
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(k)
		m.table.SetFilter(m.filter.Value(), m.rows)
		return cmd
	}
	return nil
}

// setFilter sets the filter and relays out (the filter line comes and goes).
func (m *Model) setFilter(f string) {
	m.filter.SetValue(f)
	m.table.SetFilter(f, m.rows)
	m.setSize(m.width, m.height)
}

func (m *Model) dialogKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, m.keys.Back) {
		m.screen = m.screen.base()
		switch run := m.dialog.run; {
		case run != nil:
			m.abandon(run)
		case m.dialog.busy:
			// Submitted, not started: the submit finds the dialog closed
			// and starts nothing.
			m.status.Set(statusInfo, fmt.Sprintf("%s abandoned before it started: nothing was written", wordsFor(m.dialog.action).title))
		default:
			m.status.Set(statusInfo, fmt.Sprintf("%s cancelled: nothing was written", wordsFor(m.dialog.action).title))
		}
		return nil
	}
	var cmd tea.Cmd
	m.dialog, cmd = m.dialog.Update(k)
	return cmd
}

// actionKey opens the dialog of an action key, or says why the action is
// refused when its key is disabled here. ok is false when k is no action key.
func (m *Model) actionKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	actions := []struct {
		b      key.Binding
		action lease.Action
	}{
		{m.keys.Acquire, lease.ActionAcquire},
		{m.keys.Takeover, lease.ActionTakeover},
		{m.keys.Release, lease.ActionRelease},
	}
	for _, a := range actions {
		switch {
		case key.Matches(k, a.b):
			return m.openAction(a.action), true
		case key.Matches(k, enabled(a.b)):
			m.status.Set(statusWarn, fmt.Sprintf("refused: %s; nothing was written", m.blocked(a.action)))
			return nil, true
		}
	}
	return nil, false
}

// keysState is everything the enabled bindings depend on: the screen, the
// table's rows and filter, the lease an action key would act on, and the
// dialog's shape. syncKeys rebuilds the key map only when it changed.
type keysState struct {
	screen   screen
	rows     bool
	filtered bool
	// The target: store, key, revision and presence, whether there is
	// one, and whether its store is connected.
	store, key string
	rev        uint64
	found      bool
	target     bool
	connected  bool
	// The dialog.
	action lease.Action
	fields int
	busy   bool
	// The audit view: its mode, whether it is filtered or has entries,
	// and the selected entry's id and outcome.
	auditMode     auditMode
	auditFiltered bool
	auditRows     bool
	auditSel      string
	auditOutcome  lease.Outcome
}

// keysNow returns the state the key map depends on now.
func (m *Model) keysNow() keysState {
	k := keysState{screen: m.screen, rows: len(m.table.index) > 0, filtered: m.table.filter != ""}
	if t, ok := m.target(); ok {
		k.store, k.key, k.rev, k.found, k.target = t.store, t.entry.Key, t.entry.Revision, t.found, true
		if s, ok := m.byName[t.store]; ok {
			k.connected = s.backend != nil
		}
	}
	if m.screen.dialog() {
		k.action, k.fields, k.busy = m.dialog.action, len(m.dialog.fields), m.dialog.busy
	}
	if m.screen.audit() {
		k.auditMode, k.auditFiltered, k.auditRows = m.audit.mode, m.audit.filter != "", len(m.audit.shown) > 0
		if e, ok := m.audit.Selected(); ok {
			k.auditSel, k.auditOutcome = e.ID, e.Outcome
		}
	}
	return k
}

// syncKeys enables the bindings that apply now and hands the key map to the
// components; the full help lists the keys of the view beneath it. The key
// map is rebuilt only when what it depends on changed, which a key typed
// into a field never does.
func (m *Model) syncKeys() {
	if now := m.keysNow(); now != m.keysAt || m.keysGen == 0 {
		m.keysAt, m.keysGen = now, nextGen()
		m.keys = m.keysFor(m.screen)
		under := m.screen
		if under.help() {
			under = under.base()
		}
		m.help.SetKeys(m.keysFor(under))
	}
	m.table.keys, m.detail.keys, m.dialog.keys, m.audit.keys = m.keys, m.keys, m.keys, m.keys
}

// keysFor returns the key map of a screen: every binding that does nothing
// there is disabled, so the help shows only what applies.
func (m Model) keysFor(s screen) KeyMap {
	k := m.base
	for _, b := range k.all() {
		b.SetEnabled(false)
	}
	on := func(bs ...*key.Binding) {
		for _, b := range bs {
			b.SetEnabled(true)
		}
	}
	on(&k.Interrupt)
	nav := []*key.Binding{&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Top, &k.Bottom}
	switch {
	case s == screenTable:
		on(&k.Filter, &k.Sort, &k.SortReverse, &k.Refresh, &k.Help, &k.Quit)
		if len(m.table.index) > 0 {
			on(nav...)
			on(&k.Detail)
		}
		if m.table.filter != "" {
			on(&k.Back)
			k.Back.SetHelp("esc", "clear filter")
		}
		m.enableActions(&k)
		if m.opts.Audit != nil {
			on(&k.Audit)
		}
	case s == screenAudit:
		m.auditKeys(&k)
	case s == screenFilter:
		on(&k.ApplyFilter, &k.Back)
		k.Back.SetHelp("esc", "clear filter")
	case s == screenDetail:
		on(nav...)
		on(&k.Back, &k.Help, &k.Refresh)
		k.Up.SetHelp("↑/k", "scroll up")
		k.Down.SetHelp("↓/j", "scroll down")
		// q closes the view first (docs/design.md §8).
		k.Back.SetKeys("esc", "q")
		k.Back.SetHelp("esc/q", "close")
		m.enableActions(&k)
	case s.dialog() && m.dialog.busy:
		// The action runs: esc abandons it, and nothing else applies.
		on(&k.Back)
		k.Back.SetHelp("esc", "abandon")
	case s.dialog():
		on(&k.Submit, &k.Back)
		if len(m.dialog.fields) > 1 {
			on(&k.NextField, &k.PrevField)
		}
		verb := wordsFor(m.dialog.action).verb
		k.Submit.SetHelp("enter", "next, then "+verb)
		if len(m.dialog.fields) == 1 {
			k.Submit.SetHelp("enter", verb)
		}
		k.Back.SetHelp("esc", "cancel")
	case s.help():
		on(&k.Back)
		k.Back.SetKeys("esc", "?", "q")
		k.Back.SetHelp("esc/?/q", "close help")
	}
	return k
}

// enableActions enables the write keys that may act on the target lease.
func (m Model) enableActions(k *KeyMap) {
	for _, b := range k.actionKeys() {
		b.SetEnabled(false)
	}
	if m.blocked(lease.ActionAcquire) == "" {
		k.Acquire.SetEnabled(true)
		k.Takeover.SetEnabled(true)
	}
	if m.blocked(lease.ActionRelease) == "" {
		k.Release.SetEnabled(true)
	}
}
