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

// render builds the screen's content.
func (m Model) render() string {
	if m.screen == screenQuitting {
		return ""
	}
	parts := []string{m.headerView()}
	if m.pane.Height() > 0 {
		parts = append(parts, m.pane.View())
	}
	var body string
	switch s := m.screen; {
	case s.dialog():
		// The dialog stands alone over an empty body: fragments of the
		// table around it would only distract.
	case s.help():
		body = m.help.View()
	case s.detail():
		body = m.detail.View()
	default:
		body = m.table.View()
	}
	parts = append(parts, fit(body, m.bodyHeight()))
	if m.filterShown() {
		parts = append(parts, m.filterView())
	}
	parts = append(parts, m.status.View(), m.help.Short(m.keys))
	out := strings.Join(parts, "\n")
	if m.screen.dialog() {
		out = overlay(out, m.dialog.View(), m.width, m.height)
	}
	return out
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
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	for len(lines) < n {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// overlay draws box centred over base.
func overlay(base, box string, w, h int) string {
	x := max((w-lipgloss.Width(box))/2, 0)
	y := max((h-lipgloss.Height(box))/2, 0)
	return lipgloss.NewCompositor(
		lipgloss.NewLayer(base),
		lipgloss.NewLayer(box).X(x).Y(y).Z(1),
	).Render()
}
