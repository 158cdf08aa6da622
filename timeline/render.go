package timeline

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/timetext"
)

// The strip's glyphs: a round's state reads without colour.
const (
	glyphCompleted  = '█'
	glyphUnfinished = '▒'
	glyphRunning    = '░'
	glyphOperator   = '▓'
	// glyphBoundary is the last cell of a round that another round of the
	// same holder follows at once, so that back-to-back rounds stay apart.
	glyphBoundary = '▌'
	glyphGap      = '╌'
	glyphTomb     = 'x'
	glyphCorrupt  = '!'
)

const (
	// MinWidth is the narrowest Render draws; a narrower width is widened.
	MinWidth = 40
	// maxLanes is how many holders get a lane of their own; the others
	// share the last one.
	maxLanes = 6
	// maxLabel bounds the lane labels' width.
	maxLabel = 16
)

// Styles are the Lip Gloss styles Render draws with. The zero Styles draws
// without colour: every mark is a glyph or a word, never a colour alone.
type Styles struct {
	// Label is a lane's or a summary line's label; Dim secondary text (the
	// axis, sources, approximations).
	Label, Dim lipgloss.Style
	// Completed, Unfinished and Running colour the rounds' bars.
	Completed, Unfinished, Running lipgloss.Style
	// Gap is a gap of missed periods; Action an operator action's mark;
	// Corrupt a corrupt write's mark; Warn the overdue note.
	Gap, Action, Corrupt, Warn lipgloss.Style
}

// DefaultStyles returns styles for a dark (isDark) or a light background.
func DefaultStyles(isDark bool) Styles {
	c := lipgloss.LightDark(isDark)
	return Styles{
		Label:      lipgloss.NewStyle().Bold(true),
		Dim:        lipgloss.NewStyle().Foreground(c(lipgloss.Color("#6c6c6c"), lipgloss.Color("#8a8a8a"))),
		Completed:  lipgloss.NewStyle().Foreground(c(lipgloss.Color("#1a7f37"), lipgloss.Color("#3fb950"))),
		Unfinished: lipgloss.NewStyle().Foreground(c(lipgloss.Color("#9a6700"), lipgloss.Color("#d29922"))),
		Running:    lipgloss.NewStyle().Foreground(c(lipgloss.Color("#0969da"), lipgloss.Color("#58a6ff"))),
		Gap:        lipgloss.NewStyle().Foreground(c(lipgloss.Color("#cf222e"), lipgloss.Color("#f85149"))),
		Action:     lipgloss.NewStyle().Bold(true).Foreground(c(lipgloss.Color("#8250df"), lipgloss.Color("#bc8cff"))),
		Corrupt:    lipgloss.NewStyle().Bold(true).Foreground(c(lipgloss.Color("#cf222e"), lipgloss.Color("#f85149"))),
		Warn:       lipgloss.NewStyle().Foreground(c(lipgloss.Color("#cf222e"), lipgloss.Color("#f85149"))),
	}
}

// cellKind is what a strip cell shows, for its style.
type cellKind uint8

const (
	cellBlank cellKind = iota
	cellCompleted
	cellUnfinished
	cellRunning
	cellGap
	cellAction
	cellCorrupt
	cellDim
)

func (st Styles) of(k cellKind) lipgloss.Style {
	switch k {
	case cellCompleted:
		return st.Completed
	case cellUnfinished:
		return st.Unfinished
	case cellRunning:
		return st.Running
	case cellGap:
		return st.Gap
	case cellAction:
		return st.Action
	case cellCorrupt:
		return st.Corrupt
	case cellDim:
		return st.Dim
	}
	return lipgloss.NewStyle()
}

// lane is one row of the strip.
type lane struct {
	label string
	runes []rune
	kinds []cellKind
}

func newLane(label string, cols int) *lane {
	l := &lane{label: label, runes: make([]rune, cols), kinds: make([]cellKind, cols)}
	for i := range l.runes {
		l.runes[i] = ' '
	}
	return l
}

func (l *lane) set(c int, r rune, k cellKind) {
	if c >= 0 && c < len(l.runes) {
		l.runes[c], l.kinds[c] = r, k
	}
}

// mark sets column c, or the free column beside it when c is taken, so
// that two events close together both show.
func (l *lane) mark(c int, r rune, k cellKind) {
	for _, d := range []int{0, -1, 1, -2, 2} {
		if i := c + d; i >= 0 && i < len(l.runes) && l.kinds[i] == cellBlank {
			l.set(i, r, k)
			return
		}
	}
	l.set(c, r, k)
}

// put writes s from column c on, clipped to the lane.
func (l *lane) put(c int, s string, k cellKind) {
	for _, r := range s {
		l.set(c, r, k)
		c++
	}
}

// render draws the lane's cells, one style per run of equal kinds.
func (l *lane) render(st Styles) string {
	var b strings.Builder
	for i := 0; i < len(l.runes); {
		j := i
		for j < len(l.runes) && l.kinds[j] == l.kinds[i] {
			j++
		}
		s := string(l.runes[i:j])
		if l.kinds[i] == cellBlank {
			b.WriteString(s)
		} else {
			b.WriteString(st.of(l.kinds[i]).Render(s))
		}
		i = j
	}
	return b.String()
}

// Render draws tl as a time strip width cells wide (at least MinWidth):
// a header, one lane per holder over a time axis ending at now (rounds as
// bars: █ completed, ▒ unfinished, ░ running, ▓ an operator's hold), a
// lane of gaps labelled with their missed periods, a lane of events (operator actions T A R V,
// lower-case when they wrote nothing; x a tombstone; ! a corrupt write),
// the axis, a legend, the summary, and the rounds, gaps and events newest
// first, each with its source. Times are shown in now's location. Every
// string that came from a store or the audit log is cleaned with safetext.
func Render(tl Timeline, width int, now time.Time, st Styles) string {
	width = max(width, MinWidth)
	var out []string
	line := func(s string) { out = append(out, ansi.Truncate(s, width, safetext.Ellipsis)) }

	to := now
	if tl.Now.After(to) {
		to = tl.Now
	}
	from := tl.From
	if from.IsZero() || !from.Before(to) {
		from = to.Add(-time.Minute)
	}
	span := to.Sub(from)
	line(header(tl, from, to, span, now, st))
	if len(tl.Rounds) == 0 && len(tl.Events) == 0 {
		line(st.Dim.Render("no rounds known: the key has no value kept or observed yet"))
		return strings.Join(out, "\n")
	}

	holders, laneOf := lanes(tl.Rounds)
	labelW := 6 // "events"
	for _, h := range holders {
		labelW = max(labelW, safetext.Width(safetext.Clean(h)))
	}
	labelW = min(labelW, maxLabel)
	cols := width - labelW - 1
	col := func(t time.Time) int {
		if !t.After(from) {
			return 0
		}
		if !t.Before(to) {
			return cols
		}
		return int(math.Floor(float64(t.Sub(from)) / float64(span) * float64(cols)))
	}

	ls := make([]*lane, len(holders))
	for i, h := range holders {
		ls[i] = newLane(h, cols)
	}
	for i, r := range tl.Rounds {
		l := ls[laneOf[r.Holder]]
		c0, c1 := col(r.Acquired), col(r.End)
		c0 = min(c0, cols-1)
		c1 = max(c1, c0+1)
		g, k := glyphCompleted, cellCompleted
		switch {
		case r.Completed:
		case r.ByOperator():
			g, k = glyphOperator, cellAction
		case r.Ending == Running:
			g, k = glyphRunning, cellRunning
		default:
			g, k = glyphUnfinished, cellUnfinished
		}
		for c := c0; c < c1; c++ {
			l.set(c, g, k)
		}
		if i+1 < len(tl.Rounds) {
			next := tl.Rounds[i+1]
			if laneOf[next.Holder] == laneOf[r.Holder] && col(next.Acquired) <= c1 && c1-1 > c0 {
				l.set(c1-1, glyphBoundary, k)
			}
		}
	}

	gl := newLane("gaps", cols)
	for _, g := range tl.Gaps {
		if g.Missed < 1 {
			continue
		}
		c0, c1 := col(g.From), col(g.To)
		c1 = max(c1, c0+1)
		for c := c0; c < c1; c++ {
			gl.set(c, glyphGap, cellGap)
		}
		label := fmt.Sprintf(" %d missed ", g.Missed)
		if c1-c0 < len(label)+2 {
			label = fmt.Sprint(g.Missed)
		}
		if c1-c0 >= len(label) {
			gl.put(c0+(c1-c0-len(label))/2, label, cellGap)
		}
	}

	el := newLane("events", cols)
	for _, ev := range tl.Events {
		c := min(col(ev.At), cols-1)
		g, k := glyphCorrupt, cellCorrupt
		switch {
		case ev.Kind == EventAction:
			g, k = actionGlyph(*ev.Action), cellAction
		case ev.Kind == EventTombstone && ev.Action != nil:
			continue // its release is marked
		case ev.Kind == EventTombstone:
			g, k = glyphTomb, cellDim
		}
		el.mark(c, g, k)
	}

	pad := func(s string) string {
		s = safetext.Truncate(s, labelW)
		return s + strings.Repeat(" ", labelW-safetext.Width(s)) + " "
	}
	for _, l := range ls {
		line(st.Label.Render(pad(l.label)) + l.render(st))
	}
	if tl.Summary.MissedPeriods > 0 {
		line(st.Dim.Render(pad("gaps")) + gl.render(st))
	}
	if len(tl.Events) > 0 {
		line(st.Dim.Render(pad("events")) + el.render(st))
	}
	line(strings.Repeat(" ", labelW+1) + st.Dim.Render(axis(from, span, cols, now.Location())))
	bars, marks := "█ completed  ▒ unfinished  ░ running  ▓ operator's hold  ╌ missed periods",
		"TARV takeover/acquire/release/revert (tarv: wrote nothing) x tombstone ! corrupt"
	if ansi.StringWidth(bars+"  "+marks) <= width {
		line(st.Dim.Render(bars + "  " + marks))
	} else {
		line(st.Dim.Render(bars))
		line(st.Dim.Render(marks))
	}
	out = append(out, "")
	for _, s := range summaryLines(tl, now, st) {
		line(s)
	}
	out = append(out, "")
	for _, s := range rowLines(tl, width, now, st) {
		line(s)
	}
	return strings.Join(out, "\n")
}

// header says the window and where the rows came from.
func header(tl Timeline, from, to time.Time, span time.Duration, now time.Time, st Styles) string {
	srcs := make([]string, 0, len(tl.Sources))
	for _, s := range tl.Sources {
		switch s {
		case FromStore:
			srcs = append(srcs, "the store")
		case FromObserved:
			srcs = append(srcs, "this process's watch")
		case FromAudit:
			srcs = append(srcs, "the audit log")
		}
	}
	if len(srcs) == 0 {
		srcs = append(srcs, "nothing")
	}
	loc := now.Location()
	return st.Label.Render("timeline") + " " + fmt.Sprintf("%s → %s (%s) · from %s",
		from.In(loc).Format(time.TimeOnly), to.In(loc).Format(time.TimeOnly), precise(span), strings.Join(srcs, ", "))
}

// lanes orders the holders by their first round and maps each to its
// lane; beyond maxLanes, the holders with the fewest rounds share the last
// lane, "others".
func lanes(rounds []Round) (labels []string, laneOf map[string]int) {
	var order []string
	wins := map[string]int{}
	for _, r := range rounds {
		if wins[r.Holder] == 0 {
			order = append(order, r.Holder)
		}
		wins[r.Holder]++
	}
	laneOf = map[string]int{}
	if len(order) <= maxLanes {
		for i, h := range order {
			laneOf[h] = i
		}
		return order, laneOf
	}
	byWins := slices.Clone(order)
	slices.SortStableFunc(byWins, func(a, b string) int { return wins[b] - wins[a] })
	keep := map[string]bool{}
	for _, h := range byWins[:maxLanes-1] {
		keep[h] = true
	}
	for _, h := range order {
		if keep[h] {
			laneOf[h] = len(labels)
			labels = append(labels, h)
		}
	}
	for _, h := range order {
		if !keep[h] {
			laneOf[h] = len(labels)
		}
	}
	return append(labels, fmt.Sprintf("%d others", len(order)-maxLanes+1)), laneOf
}

// actionGlyph marks an operator action: its initial, upper-case when it
// wrote the store.
func actionGlyph(a Action) rune {
	g := 'O'
	switch a.Action.String() {
	case "takeover":
		g = 'T'
	case "acquire":
		g = 'A'
	case "release":
		g = 'R'
	case "revert":
		g = 'V'
	}
	if a.Outcome != lease.OutcomeWon {
		g += 'a' - 'A'
	}
	return g
}

// axis labels the time axis: ticks (└) with the time at their column, and
// "now" at the end.
func axis(from time.Time, span time.Duration, cols int, loc *time.Location) string {
	layout := time.TimeOnly
	if span >= 2*time.Hour {
		layout = "15:04"
	}
	const nowMark = "now┘"
	line := []rune(strings.Repeat(" ", cols))
	tick := len(layout) + 1 // "└" and the time
	for c := 0; c+tick+1 <= cols-len(nowMark); c += tick + 4 {
		t := from.Add(time.Duration(float64(span) * float64(c) / float64(cols)))
		copy(line[c:], []rune("└"+t.In(loc).Format(layout)))
	}
	if cols >= len(nowMark) {
		copy(line[cols-len(nowMark)+2:], []rune(nowMark))
	}
	return string(line)
}

// summaryLines are the counts: rounds, completion, gaps, wins, and the
// current record's health.
func summaryLines(tl Timeline, now time.Time, st Styles) []string {
	s := tl.Summary
	label := func(l string) string { return st.Label.Render(fmt.Sprintf("%-8s", l)) }
	over := s.Completed + s.Unfinished
	rounds := fmt.Sprintf("%d · %d of %d completed", s.Rounds, s.Completed, over)
	if over > 0 {
		rounds += fmt.Sprintf(" (%d%%)", int(math.Round(s.CompletionRate*100)))
	}
	if s.Unfinished > 0 {
		rounds += fmt.Sprintf(" · %d unfinished", s.Unfinished)
	}
	if s.Running > 0 {
		rounds += " · 1 running"
	}
	if s.OperatorRounds > 0 {
		rounds += fmt.Sprintf(" · %d by operators", s.OperatorRounds)
		if s.OperatorRounds == 1 {
			rounds = strings.TrimSuffix(rounds, "s")
		}
	}
	gaps := fmt.Sprintf("%d missed periods · longest gap %s", s.MissedPeriods, precise(s.LongestGap))
	if s.MissedPeriods == 1 {
		gaps = "1 missed period · longest gap " + precise(s.LongestGap)
	}
	wins := make([]string, 0, len(s.Wins))
	for _, w := range s.Wins {
		wins = append(wins, fmt.Sprintf("%s %d", safetext.Truncate(w.Holder, maxLabel), w.Rounds))
	}
	out := []string{label("rounds") + rounds, label("gaps") + gaps, label("wins") + strings.Join(wins, " · ")}
	if s.Rounds == 0 {
		out = []string{label("rounds") + "none in what is known of the key"}
	}
	cur := tl.Current.State.String()
	switch tl.Current.State {
	case lease.Held:
		cur += " by " + safetext.Truncate(tl.Current.Record.HolderID, maxLabel) + " · " +
			timetext.Countdown(lease.UnixSeconds(now), tl.Current.Record.ExpiresAtUnix)
	case lease.Expired:
		cur += fmt.Sprintf(" %s ago", precise(tl.Health.ExpiredFor))
	case lease.Corrupt:
		cur += ": " + safetext.Clean(tl.Current.Reason)
	}
	if tl.Health.Flags.Has(lease.Unfinished) {
		cur += " · unfinished"
	}
	if tl.Health.Flags.Has(lease.Overdue) {
		note := "overdue"
		if p, ok := tl.Health.Periods(); ok {
			note += fmt.Sprintf(" (%.1f periods since the last round expired)", p)
		}
		cur += " · " + st.Warn.Render(note)
	}
	return append(out, label("now")+cur)
}

// row is one line of the list, with the time it sorts by.
type row struct {
	at   time.Time
	text string
	src  Sources
}

// rowLines lists the rounds, gaps and events newest first.
func rowLines(tl Timeline, width int, now time.Time, st Styles) []string {
	loc := now.Location()
	clock := func(t time.Time) string { return t.In(loc).Format(time.TimeOnly) }
	hw := 0
	for _, r := range tl.Rounds {
		hw = max(hw, safetext.Width(safetext.Truncate(r.Holder, maxLabel)))
	}
	var rows []row
	for _, r := range tl.Rounds {
		text := fmt.Sprintf("%s→%s %s  %s", clock(r.Acquired), clock(r.Expires),
			pad(safetext.Truncate(r.Holder, maxLabel), hw), roundText(r))
		rows = append(rows, row{r.Acquired, text, r.Sources})
	}
	for _, g := range tl.Gaps {
		to := clock(g.To)
		if g.Trailing {
			to = "now     "
		}
		text := fmt.Sprintf("%s→%s %s  gap %s", clock(g.From), to, pad("", hw), precise(g.Len()))
		switch {
		case g.Missed == 1:
			text += " · 1 missed period"
		case g.Missed > 1:
			text += fmt.Sprintf(" · %d missed periods", g.Missed)
		}
		if g.Approx {
			text += " · start estimated"
		}
		rows = append(rows, row{g.From, st.Gap.Render(text), nil})
	}
	for _, ev := range tl.Events {
		if ev.Kind == EventAction && ev.Written {
			continue // shown with the round or tombstone it wrote
		}
		when := clock(ev.At)
		if ev.Approx {
			when = "≈" + when
		}
		text := fmt.Sprintf("%s %s  %s", pad(when, 17), pad("", hw), eventText(ev))
		rows = append(rows, row{ev.At, text, ev.Sources})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return b.at.Compare(a.at) })
	out := []string{st.Label.Render("newest first") + st.Dim.Render(" · acquired→expires · holder · what happened · source (≈ estimated)")}
	for _, r := range rows {
		src := r.src.String()
		room := width - 2 - len(src) - 1
		text := ansi.Truncate(r.text, room, safetext.Ellipsis)
		fill := max(room-ansi.StringWidth(text), 0)
		if src == "" {
			out = append(out, "  "+text)
			continue
		}
		out = append(out, "  "+text+strings.Repeat(" ", fill+1)+st.Dim.Render(src))
	}
	return out
}

// roundText says how a round went.
func roundText(r Round) string {
	var parts []string
	switch {
	case r.Completed && !r.CompletedAt.IsZero():
		parts = append(parts, fmt.Sprintf("completed +%s cursor %s", precise(r.CompletedAt.Sub(r.Acquired)), safetext.Elide(r.Cursor, 10, 4)))
	case r.Completed:
		parts = append(parts, "completed cursor "+safetext.Elide(r.Cursor, 10, 4))
	case r.Ending == Running:
		parts = append(parts, "running")
	case r.ByOperator():
		parts = append(parts, "operator hold")
	default:
		parts = append(parts, "unfinished")
	}
	switch r.Ending {
	case TakenOver:
		parts = append(parts, "taken over by "+safetext.Truncate(r.TakenOverBy, maxLabel))
	case Released:
		who := "an operator"
		if r.EndAction != nil {
			who = safetext.Truncate(r.EndAction.Operator, maxLabel)
		}
		parts = append(parts, "released by "+who)
	case Abandoned:
		parts = append(parts, "abandoned")
	case Overwritten:
		parts = append(parts, "overwritten by a corrupt value")
	case Reverted:
		who := "an operator"
		if r.EndAction != nil {
			who = safetext.Truncate(r.EndAction.Operator, maxLabel)
		}
		parts = append(parts, "reverted by "+who)
	}
	if r.Resumed {
		parts = append(parts, "written back by a revert")
	}
	if a := r.Action; a != nil {
		s := a.Action.String() + " by " + safetext.Truncate(a.Operator, maxLabel)
		if a.Reason != "" {
			s += ": " + safetext.Truncate(a.Reason, 40)
		}
		parts = append(parts, s)
	}
	if r.Skewed {
		parts = append(parts, "skewed")
	}
	return strings.Join(parts, " · ")
}

// eventText says what an event was.
func eventText(ev Event) string {
	switch ev.Kind {
	case EventTombstone:
		if a := ev.Action; a != nil {
			return "tombstone · " + a.Action.String() + " by " + safetext.Truncate(a.Operator, maxLabel) + reason(a.Reason)
		}
		return "tombstone · abandoned by its holder (or released unaudited)"
	case EventCorrupt:
		return "corrupt write: " + safetext.Truncate(ev.Reason, 60)
	case EventAction:
		a := ev.Action
		return a.Action.String() + " by " + safetext.Truncate(a.Operator, maxLabel) + " · " + a.Outcome.String() + reason(a.Reason)
	}
	return ev.Kind.String()
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return ": " + safetext.Truncate(r, 40)
}

// pad pads s with spaces to w cells.
func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(w-safetext.Width(s), 0))
}

// precise renders a duration in its two largest units, as timetext does.
func precise(d time.Duration) string {
	return timetext.Precise(uint64(max(d, 0) / time.Second))
}
