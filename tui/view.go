package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// View renders the screen: header, stores pane, the table (or the detail
// view, or the full help), the footer, and an action dialog on top.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "leasectl"
	if m.opts.Demo {
		v.WindowTitle = "leasectl (demo)"
	}
	return v
}

// render builds the screen's content, laid out as layout says: the parts
// that do not fit the pane give way first (see Model.layout).
func (m Model) render() string {
	if m.screen == screenQuitting {
		return ""
	}
	if m.screen.dialog() {
		return m.renderDialog()
	}
	var body string
	switch s := m.screen; {
	case s.help():
		body = clip(m.help.View(), m.width)
	case s.detail():
		body = clip(m.detail.View(), m.width)
	case s.audit():
		body = clip(m.audit.View(), m.width)
	default:
		body = m.table.View() // rows are laid out to the width
	}
	return strings.Join(m.parts(body), "\n")
}

// clip cuts every line of s to w cells.
func clip(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len(l) > w && ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(lines, "\n")
}

// parts returns the screen's lines around body, which is fitted to the
// body's height: the header, the stores pane, body, the filter line, the
// status line and the key help, each as the layout allows. The lines
// around the body are rendered again only when what they show changed
// (chromeCache): Bubble Tea renders the screen after every message.
func (m Model) parts(body string) []string {
	c := m.chrome
	if c == nil {
		c = &chromeCache{}
	}
	l := m.layout()
	parts := make([]string, 0, 6)
	if l.title {
		k := titleKey{width: m.width, styles: m.stylesGen, leases: m.rows.len(), sortBy: m.table.sortBy, desc: m.table.desc}
		parts = append(parts, c.title.get(k, m.headerView))
	}
	if m.pane.Height() > 0 {
		parts = append(parts, m.pane.View())
	}
	parts = append(parts, fit(body, l.body))
	if l.filter {
		if m.screen == screenFilter {
			parts = append(parts, m.filterView()) // the input, with its cursor
		} else {
			k := filterKey{width: m.width, styles: m.stylesGen, filter: m.table.filter, shown: len(m.table.index), total: m.table.total}
			parts = append(parts, c.filter.get(k, m.filterView))
		}
	}
	if l.status {
		k := statusKey{width: m.width, styles: m.stylesGen, kind: m.status.kind, text: m.status.text}
		parts = append(parts, c.status.get(k, m.status.View))
	}
	if l.help {
		k := helpKey{width: m.width, styles: m.stylesGen, keys: m.keysGen}
		parts = append(parts, c.help.get(k, func() string {
			return ansi.Truncate(m.help.Short(m.keys), m.width, safetext.Ellipsis)
		}))
	}
	return parts
}

// renderDialog draws the dialog over the screen behind it. The dialog
// stands alone over an empty body (fragments of the table around it would
// only distract), and the rest of that screen changes rarely while a dialog
// is open: it is rendered again only when what it shows changed (baseKey),
// so a typed key costs the dialog's fields and the splice, not a screen.
func (m Model) renderDialog() string {
	c := m.frame
	if c == nil {
		c = &frameCache{}
	}
	if k := m.baseKey(); !c.baseOK || c.base != k {
		c.base, c.baseOK = k, true
		c.lines = strings.Split(strings.Join(m.parts(""), "\n"), "\n")
		c.left, c.right, c.outOK = nil, nil, false
	}
	if c.outOK && c.box == m.dialog.gens {
		return c.out // nothing changed: a key typed into a full field
	}
	box := m.dialog.lines()
	boxW := 0
	if len(box) > 0 {
		boxW = ansi.StringWidth(box[0])
	}
	x := max((m.width-boxW)/2, 0)
	y := max((m.height-len(box))/2, 0)
	c.out, c.box, c.outOK = c.splice(box, x, y, boxW, m.width), m.dialog.gens, true
	return c.out
}

// baseKey returns what the screen behind a dialog is rendered from.
func (m *Model) baseKey() baseKey {
	return baseKey{
		width: m.width, height: m.height, styles: m.stylesGen,
		leases: m.rows.len(), sortBy: m.table.sortBy, desc: m.table.desc,
		pane: m.pane.gen, statusKind: m.status.kind, status: m.status.text, keys: m.keysGen,
		filter: m.table.filter, shown: len(m.table.index), total: m.table.total, filterVisible: m.filterShown(),
	}
}

// headerView is the title line: the name, the DEMO and READ-ONLY badges, and
// on the right the lease count, the sort and the operator.
func (m Model) headerView() string {
	s := m.styles
	left := s.Title.Render("leasectl")
	if m.opts.Demo {
		left += " " + s.DemoBadge.Render("DEMO")
	}
	if m.opts.ReadOnly {
		left += " " + s.ReadOnlyBadge.Render("READ-ONLY")
	}
	order := "▲"
	if m.table.desc {
		order = "▼"
	}
	name := m.opts.Operator
	if name == "" {
		name = defaultOperator
	}
	count := fmt.Sprintf("%d leases", m.rows.len())
	if m.rows.len() == 1 {
		count = "1 lease"
	}
	right := s.Dim.Render(fmt.Sprintf("%s · sort %s %s · %s", count, m.table.sortBy.name(), order, safetext.Clean(lease.OperatorHolder(name))))
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return ansi.Truncate(left+" "+right, m.width, safetext.Ellipsis)
	}
	return left + strings.Repeat(" ", gap) + right
}

// filterView is the filter line: the input while typing, else the filter
// kept.
func (m Model) filterView() string {
	count := m.styles.Dim.Render(fmt.Sprintf("  %d of %d", len(m.table.index), m.table.total))
	if m.screen == screenFilter {
		return ansi.Truncate(m.filter.View()+count, m.width, "")
	}
	return ansi.Truncate(m.styles.Dim.Render("/ ")+safetext.Clean(m.table.filter)+count+m.styles.Dim.Render(" · esc clears"), m.width, safetext.Ellipsis)
}

// fit pads or cuts s to exactly n lines.
func fit(s string, n int) string {
	lines := strings.Count(s, "\n") + 1
	if lines > n {
		// Cut after the n-th line.
		at := 0
		for range n {
			at += strings.IndexByte(s[at:], '\n') + 1
		}
		return s[:at-1]
	}
	return s + strings.Repeat("\n", n-lines)
}
