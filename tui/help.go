package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// helpView renders the short help line and the full help screen. It shows
// the keys of the KeyMap it is given, whose disabled bindings are skipped, so
// it never offers a key that does not apply.
type helpView struct {
	styles        *Styles
	width, height int
	model         help.Model
	// full is the key map of the view beneath the full help.
	full KeyMap
	// audit is set when the console has an audit log (L): the help
	// explains its filter and revert.
	audit bool
}

func newHelpView(s *Styles) helpView {
	h := helpView{styles: s, model: help.New()}
	h.model.Styles = s.Help
	return h
}

// SetStyles restyles the help after a change of s.
func (h *helpView) SetStyles(s *Styles) {
	h.styles = s
	h.model.Styles = s.Help
}

// SetSize sets the width of the short help and the area of the full help.
func (h *helpView) SetSize(w, hgt int) {
	h.width, h.height = w, hgt
	h.model.SetWidth(w)
}

// SetKeys sets the key map the full help lists.
func (h *helpView) SetKeys(k KeyMap) { h.full = k }

// Update implements the component shape; the help has no state to update.
func (h helpView) Update(tea.Msg) (helpView, tea.Cmd) { return h, nil }

// Short renders the one-line help for k.
func (h helpView) Short(k KeyMap) string { return h.model.ShortHelpView(k.ShortHelp()) }

// View renders the full help: the keys that apply beneath it and a legend of
// what the table shows.
func (h helpView) View() string {
	s := h.styles
	lines := []string{
		s.Title.Render("Keys") + s.Dim.Render("  (only those that apply here; esc closes)"),
		"",
		h.model.FullHelpView(h.full.FullHelp()),
		"",
		s.Title.Render("States"),
		"  " + s.StateHeld.Render("held") + "       live: expires_at is after this clock",
		"  " + s.StateExpired.Render("expired") + "    its expiry has passed: the next trigger wins it",
		"  " + s.StateTombstone.Render("tombstone") + "  empty value: released or abandoned",
		"  " + s.StateCorrupt.Render("corrupt") + "    not a valid record (reason shown): stealable",
		"  " + s.StateAbsent.Render("absent") + "     no key",
		"",
		s.Title.Render("Flags and marks"),
		"  " + s.FlagCompleted.Render("completed") + "  the round's artifact was published (cursor set)",
		"  " + s.FlagSkewed.Render("skewed") + "     acquired in this clock's future, expiring before acquired, or an overlong period",
		"  " + s.FlagOverdue.Render("overdue") + "    expired for longer than one period: no round was triggered, the fleet may be down",
		"  " + s.FlagUnfinished.Render("unfinished") + " expired without a completion cursor: the winner crashed or overran",
		"  " + s.Changed.Render("•") + "          the row changed in the last 2 seconds",
		"  " + s.StaleTag.Render("~ stale 2m") + " its store is in error: the row is as last seen, 2 minutes ago",
		"",
	}
	if h.audit {
		lines = append(lines,
			s.Title.Render("Audit log")+s.Dim.Render("  (L: operator actions, newest first)"),
			"  / filters with terms that must all match: store:NAME key:TEXT op:NAME outcome:won action:takeover",
			"    id:PREFIX reason:TEXT, or any text found in one of them; case does not matter",
			"  enter shows the record before and after; u reverts an action that won: a compare-and-swap",
			"    against the revision it wrote, refused if anything wrote the key since",
			"",
		)
	}
	for _, l := range wrap("Every write is a compare-and-swap against the revision on screen and is audited; if the key changed since, nothing is written.", max(h.width, 20)) {
		lines = append(lines, s.Dim.Render(l))
	}
	return strings.Join(lines, "\n")
}
