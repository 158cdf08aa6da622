package tui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timetext"
)

// AuditSource is where the console reads the operator audit trail from,
// for the audit view (L): the terminal's reads its local log file, the
// browser's asks the gateway for the server's. Entries returns every entry,
// oldest first, as audit.Read does; a log that does not exist yet is no
// entries and no error. It is called from a tea.Cmd and must be safe for
// concurrent use.
type AuditSource interface {
	Entries(ctx context.Context) ([]audit.Entry, error)
}

// AuditFile is the AuditSource of an audit log file on this machine
// (audit.ReadFile), read anew each time the view opens or refreshes.
type AuditFile string

// Entries implements AuditSource.
func (f AuditFile) Entries(context.Context) ([]audit.Entry, error) {
	return audit.ReadFile(string(f))
}

// auditMode is what the audit view shows and the keyboard drives.
type auditMode uint8

const (
	// auditList is the list of entries.
	auditList auditMode = iota
	// auditFilter is the list with its filter being typed.
	auditFilter
	// auditEntry is one entry: the record before and after.
	auditEntry
)

// auditLoadedMsg carries the audit log as read for load gen.
type auditLoadedMsg struct {
	gen     uint64
	entries []audit.Entry
	err     error
}

// auditCmd reads the audit log from src.
func auditCmd(sess *session, src AuditSource, gen uint64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := src.Entries(ctx)
		return auditLoadedMsg{gen: gen, entries: entries, err: err}
	}
}

// auditRow is one entry of the view with the lower-case text its filter
// matches, computed once per load rather than per typed key.
type auditRow struct {
	e                                  audit.Entry
	store, key, operator, reason, id   string
	action, outcome, keyShown, reverts string
}

func newAuditRow(e audit.Entry) auditRow {
	return auditRow{e: e,
		store: strings.ToLower(e.Store), key: strings.ToLower(e.Key), operator: strings.ToLower(e.Operator),
		reason: strings.ToLower(e.Reason), id: strings.ToLower(e.ID), action: e.Action.String(),
		outcome: e.Outcome.String(), keyShown: strings.ToLower(safetext.Key(e.Key)), reverts: strings.ToLower(e.Reverts)}
}

// auditTerm is one term of the audit view's filter: field:value, or a bare
// value that any field may hold.
type auditTerm struct {
	field, value string
}

// auditFields are the fields a filter term may name, and their aliases.
var auditFields = map[string]string{
	"store": "store", "key": "key", "op": "operator", "operator": "operator",
	"outcome": "outcome", "action": "action", "id": "id", "reason": "reason",
}

// parseAuditFilter splits a filter into its terms: blank-separated, each
// field:value (store, key, op or operator, outcome, action, id, reason)
// or a bare text; case does not matter.
func parseAuditFilter(s string) []auditTerm {
	var terms []auditTerm
	for _, f := range strings.Fields(strings.ToLower(s)) {
		if name, v, ok := strings.Cut(f, ":"); ok && auditFields[name] != "" {
			terms = append(terms, auditTerm{field: auditFields[name], value: v})
			continue
		}
		terms = append(terms, auditTerm{value: f})
	}
	return terms
}

// match reports whether r matches every term: outcome and action by their
// whole name, the other fields by a part of them (a key by its bytes or by
// how the screen shows it), a bare term by a part of any field.
func (r *auditRow) match(terms []auditTerm) bool {
	for _, t := range terms {
		var ok bool
		switch t.field {
		case "store":
			ok = strings.Contains(r.store, t.value)
		case "key":
			ok = strings.Contains(r.key, t.value) || strings.Contains(r.keyShown, t.value)
		case "operator":
			ok = strings.Contains(r.operator, t.value)
		case "outcome":
			ok = r.outcome == t.value
		case "action":
			ok = r.action == t.value
		case "id":
			ok = strings.HasPrefix(r.id, t.value)
		case "reason":
			ok = strings.Contains(r.reason, t.value)
		default:
			for _, f := range []string{r.store, r.key, r.keyShown, r.operator, r.reason, r.id, r.action, r.outcome, r.reverts} {
				if strings.Contains(f, t.value) {
					ok = true
					break
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// auditView is the audit log (L): the operator actions, newest first, in
// columns — time and age, operator, store, key, action, outcome, reason,
// id — filterable; enter shows one entry with the record before and after
// decoded. Only the visible rows are rendered. Every string of the log is
// cleaned with safetext: the log holds what stores and operators gave.
type auditView struct {
	styles *Styles
	keys   KeyMap
	th     lease.Thresholds
	loc    *time.Location
	now    time.Time

	width, height int

	// gen numbers the loads: an answer to an older one is dropped.
	gen     uint64
	loading bool
	loaded  bool
	err     error

	// rows are every entry, newest first; shown the indices of those the
	// filter keeps.
	rows   []auditRow
	shown  []int
	filter string
	terms  []auditTerm
	input  textinput.Model

	mode           auditMode
	cursor, offset int

	// The entry view: its lines and scroll.
	lines       []string
	entryOffset int
}

func newAuditView(s *Styles, k KeyMap, th lease.Thresholds, loc *time.Location) auditView {
	in := textinput.New()
	in.Prompt = "/ "
	in.Placeholder = "store:prod key:orders op:alice outcome:won, or any text"
	in.CharLimit = 256
	in.SetStyles(s.Input)
	return auditView{styles: s, keys: k, th: th, loc: loc, input: in}
}

// SetSize sets the area the view fills.
func (v *auditView) SetSize(w, h int) {
	v.width, v.height = w, max(h, 1)
	v.input.SetWidth(min(max(w-30, 10), 60))
	v.clamp()
	if v.mode == auditEntry {
		v.renderEntry()
	}
}

// SetNow moves the clock the ages are rendered against.
func (v *auditView) SetNow(now time.Time) {
	if lease.UnixSeconds(now) == lease.UnixSeconds(v.now) {
		return
	}
	v.now = now
	if v.mode == auditEntry {
		v.renderEntry()
	}
}

// SetStyles restyles the view after a change of s.
func (v *auditView) SetStyles(s *Styles) {
	v.styles = s
	v.input.SetStyles(s.Input)
	if v.mode == auditEntry {
		v.renderEntry()
	}
}

// startLoad marks a load begun and returns its generation.
func (v *auditView) startLoad() uint64 {
	v.gen++
	v.loading = true
	return v.gen
}

// setEntries shows the entries of a load (oldest first, as the log has
// them), newest first as `leasectl audit` lists them — by time, the later
// in the log first when times are equal — keeping the selected entry
// selected.
func (v *auditView) setEntries(entries []audit.Entry, err error) {
	v.loading = false
	if err != nil {
		v.err = err
		return
	}
	sel, hadSel := v.Selected()
	v.err, v.loaded = nil, true
	v.rows = make([]auditRow, len(entries))
	for i, e := range entries {
		v.rows[len(entries)-1-i] = newAuditRow(e)
	}
	slices.SortStableFunc(v.rows, func(a, b auditRow) int { return b.e.Time.Compare(a.e.Time) })
	v.refilter()
	if hadSel {
		for i, j := range v.shown {
			if v.rows[j].e.ID == sel.ID {
				v.cursor = i
				break
			}
		}
	}
	v.clamp()
	if v.mode == auditEntry {
		if e, ok := v.Selected(); ok && e.ID == sel.ID {
			v.renderEntry()
		} else {
			v.mode = auditList
		}
	}
}

// SetFilter filters the entries with f (parseAuditFilter).
func (v *auditView) SetFilter(f string) {
	v.filter = strings.TrimSpace(f)
	v.terms = parseAuditFilter(v.filter)
	v.refilter()
	v.cursor = 0
	v.clamp()
}

func (v *auditView) refilter() {
	v.shown = v.shown[:0]
	for i := range v.rows {
		if v.rows[i].match(v.terms) {
			v.shown = append(v.shown, i)
		}
	}
}

// Selected returns the selected entry.
func (v auditView) Selected() (audit.Entry, bool) {
	if v.cursor < 0 || v.cursor >= len(v.shown) {
		return audit.Entry{}, false
	}
	return v.rows[v.shown[v.cursor]].e, true
}

// listHeight is the number of entry rows the list shows: the body less
// its title, column header and, when shown, the filter line.
func (v auditView) listHeight() int {
	h := v.height - 2
	if v.filterShown() {
		h--
	}
	return max(h, 1)
}

func (v auditView) filterShown() bool { return v.mode == auditFilter || v.filter != "" }

func (v *auditView) clamp() {
	n := len(v.shown)
	v.cursor = min(max(v.cursor, 0), max(n-1, 0))
	page := v.listHeight()
	v.offset = min(max(v.offset, 0), max(n-page, 0))
	if v.cursor < v.offset {
		v.offset = v.cursor
	}
	if v.cursor >= v.offset+page {
		v.offset = v.cursor - page + 1
	}
	v.entryOffset = min(max(v.entryOffset, 0), max(len(v.lines)-v.height, 0))
}

// openEntry shows the selected entry.
func (v *auditView) openEntry() bool {
	if _, ok := v.Selected(); !ok {
		return false
	}
	v.mode, v.entryOffset = auditEntry, 0
	v.renderEntry()
	return true
}

// Update moves the selection in the list, or scrolls the entry.
func (v auditView) Update(msg tea.Msg) (auditView, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return v, nil
	}
	pos, page, end := &v.cursor, v.listHeight(), len(v.shown)
	if v.mode == auditEntry {
		pos, page, end = &v.entryOffset, v.height, len(v.lines)
	}
	switch {
	case key.Matches(k, v.keys.Up):
		*pos--
	case key.Matches(k, v.keys.Down):
		*pos++
	case key.Matches(k, v.keys.PageUp):
		*pos -= page
		if v.mode != auditEntry {
			v.offset -= page
		}
	case key.Matches(k, v.keys.PageDown):
		*pos += page
		if v.mode != auditEntry {
			v.offset += page
		}
	case key.Matches(k, v.keys.Top):
		*pos = 0
	case key.Matches(k, v.keys.Bottom):
		*pos = end
	}
	v.clamp()
	return v, nil
}

// Widths of the list's fixed columns.
const (
	auditTimeW    = len("Jun 09 15:04")
	auditAgeW     = len("just now")
	auditActionW  = len("takeover")
	auditOutcomeW = len("cancelled")
	auditIDW      = 12
)

// auditCols are the widths of the list's columns.
type auditCols struct {
	time, age, operator, store, key, action, outcome, reason, id int
}

// columns lays the list's columns out for the width: key and reason share
// what the others leave; the reason, then the age, give way when narrow.
func (v auditView) columns() auditCols {
	c := auditCols{time: auditTimeW, age: auditAgeW, operator: 10, store: 8, action: auditActionW, outcome: auditOutcomeW, id: auditIDW}
	for _, i := range v.shown[v.offset:min(v.offset+v.listHeight(), len(v.shown))] {
		c.store = max(c.store, min(cellWidth(safetext.Clean(v.rows[i].e.Store)), 16))
		c.operator = max(c.operator, min(cellWidth(safetext.Clean(v.rows[i].e.Operator)), 16))
	}
	gaps := 9
	free := v.width - 2 - gaps - c.time - c.age - c.operator - c.store - c.action - c.outcome - c.id
	if free < 40 {
		free += c.age + 1
		c.age = 0
	}
	c.key = max(free*11/20, 12)
	c.reason = max(free-c.key, 0)
	return c
}

// View renders the list (its visible rows only) or the entry.
func (v auditView) View() string {
	if v.mode == auditEntry {
		end := min(v.entryOffset+v.height, len(v.lines))
		return strings.Join(v.lines[v.entryOffset:end], "\n")
	}
	s := v.styles
	lines := make([]string, 0, v.height)
	title := s.Title.Render("Audit log") + s.Dim.Render(" · operator actions, newest first")
	switch {
	case v.err != nil:
		title += " " + s.StatusError.Render("cannot read it: "+safetext.Clean(v.err.Error()))
	case v.loading && !v.loaded:
		title += s.Dim.Render(" · reading…")
	case v.loaded:
		n := fmt.Sprintf(" · %d entries", len(v.rows))
		if len(v.rows) == 1 {
			n = " · 1 entry"
		}
		title += s.Dim.Render(n)
	}
	lines = append(lines, ansi.Truncate(title, v.width, safetext.Ellipsis))
	c := v.columns()
	hdr := "  " + pad("TIME", c.time) + " "
	if c.age > 0 {
		hdr += pad("AGE", c.age) + " "
	}
	hdr += pad("OPERATOR", c.operator) + " " + pad("STORE", c.store) + " " + pad("KEY", c.key) + " " +
		pad("ACTION", c.action) + " " + pad("OUTCOME", c.outcome) + " " + pad("REASON", c.reason) + " " + pad("ID", c.id)
	lines = append(lines, s.Header.Render(ansi.Truncate(hdr, v.width, "")))
	rows := v.listHeight()
	if len(v.shown) == 0 && v.loaded {
		msg := "the log has no operator actions yet"
		if len(v.rows) > 0 {
			msg = "no entry matches the filter"
		}
		lines = append(lines, s.Dim.Render("  "+msg))
	}
	for i := v.offset; i < min(v.offset+rows, len(v.shown)); i++ {
		lines = append(lines, v.rowView(v.rows[v.shown[i]].e, c, i == v.cursor))
	}
	if v.filterShown() {
		for len(lines) < v.height-1 {
			lines = append(lines, "")
		}
		lines = append(lines, v.filterView())
	}
	return strings.Join(lines, "\n")
}

// rowView renders one entry's row.
func (v auditView) rowView(e audit.Entry, c auditCols, selected bool) string {
	s := v.styles
	now := lease.UnixSeconds(v.now)
	at := lease.UnixSeconds(e.Time)
	marker := "  "
	if selected {
		marker = "▶ "
	}
	cells := []string{pad(v.clock(e.Time), c.time)}
	if c.age > 0 {
		cells = append(cells, pad(timetext.Ago(now, at), c.age))
	}
	action := e.Action.String()
	if e.Action == 0 {
		action = "?"
	}
	cells = append(cells,
		pad(safetext.Clean(e.Operator), c.operator),
		pad(safetext.Clean(e.Store), c.store),
		pad(safetext.Elide(safetext.Key(e.Key), c.key, c.key/3), c.key),
		pad(action, c.action),
		pad(e.Outcome.String(), c.outcome),
		pad(safetext.Clean(e.Reason), c.reason),
		pad(safetext.Clean(e.ID), c.id),
	)
	if selected {
		return s.Selected.Render(ansi.Truncate(marker+strings.Join(cells, " "), v.width, ""))
	}
	oi := len(cells) - 3
	cells[oi] = v.outcomeStyle(e.Outcome).Render(cells[oi])
	return ansi.Truncate(marker+strings.Join(cells, " "), v.width, "")
}

// clock renders when an entry was made, in the view's zone: the time of
// day today, the date and minute before.
func (v auditView) clock(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	lt, ln := t.In(v.loc), v.now.In(v.loc)
	if lt.Year() == ln.Year() && lt.YearDay() == ln.YearDay() {
		return lt.Format("15:04:05")
	}
	return lt.Format("Jan 02 15:04")
}

// outcomeStyle is the style of an outcome word.
func (v auditView) outcomeStyle(o lease.Outcome) lipgloss.Style {
	s := v.styles
	switch o {
	case lease.OutcomeWon:
		return s.StatusOK
	case lease.OutcomeLost, lease.OutcomeChanged:
		return s.StatusWarn
	case lease.OutcomeError, lease.OutcomeUnknown:
		return s.StatusError
	}
	return s.Dim
}

// filterView is the filter line: the input while typing, else the filter
// kept.
func (v auditView) filterView() string {
	count := v.styles.Dim.Render(fmt.Sprintf("  %d of %d", len(v.shown), len(v.rows)))
	if v.mode == auditFilter {
		return ansi.Truncate(v.input.View()+count, v.width, "")
	}
	return ansi.Truncate(v.styles.Dim.Render("/ ")+safetext.Clean(v.filter)+count+v.styles.Dim.Render(" · esc clears"), v.width, safetext.Ellipsis)
}

// renderEntry builds the lines of the selected entry: who did what, when,
// why and how it ended, then the record before and after, decoded.
func (v *auditView) renderEntry() {
	e, ok := v.Selected()
	if !ok {
		v.lines = nil
		return
	}
	s := v.styles
	now := lease.UnixSeconds(v.now)
	var lines []string
	add := func(label, value string) {
		lines = append(lines, s.Label.Render(pad(label, labelWidth))+value)
	}
	lines = append(lines, s.Title.Render("Audit entry "+safetext.Clean(e.ID))+s.Dim.Render(" · ")+
		e.Action.String()+s.Dim.Render(" · ")+v.outcomeStyle(e.Outcome).Render(e.Outcome.String()), "")
	at := lease.UnixSeconds(e.Time)
	add("time", timetext.Absolute(at, v.loc)+" · "+s.Dim.Render(timetext.Ago(now, at)))
	op := safetext.Clean(e.Operator)
	if e.Host != "" {
		op += s.Dim.Render(" on ") + safetext.Clean(e.Host)
	}
	add("operator", op)
	add("store", s.StoreName.Render(safetext.Clean(e.Store)))
	add("key", safetext.Key(e.Key))
	add("reason", orText(safetext.Clean(e.Reason), s.Dim.Render("none")))
	if e.Reverts != "" {
		add("reverts", safetext.Clean(e.Reverts))
	}
	if e.Error != "" {
		add("error", s.StatusError.Render(safetext.Clean(e.Error)))
	}
	if e.Outcome == lease.OutcomePending {
		add("", s.StatusWarn.Render("no result line: the process died before the action ended; it may or may not have written"))
	}
	lines = append(lines, "")
	lines = append(lines, v.valueLines("before", e.ValueBefore, e.RevisionBefore, e.Time, "absent, or not read (the action ended before it read the key)")...)
	lines = append(lines, "")
	nothing := "nothing written"
	lines = append(lines, v.valueLines("after", e.ValueAfter, e.RevisionAfter, e.Time, nothing)...)
	lines = append(lines, "")
	if e.Outcome == lease.OutcomeWon {
		for _, l := range wrap(fmt.Sprintf("u reverts it: writes the value before back, by compare-and-swap against revision %d (what this action wrote); if anything wrote the key since, nothing is written.", e.RevisionAfter), max(v.width, 20)) {
			lines = append(lines, s.Dim.Render(l))
		}
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, v.width, safetext.Ellipsis)
	}
	v.lines = lines
	v.clamp()
}

// valueLines renders one side of an entry: the value decoded as a lease
// record, classified at the time of the action (what it was then), and its
// raw bytes as the detail view shows them; absent says what nil means.
func (v auditView) valueLines(side string, value []byte, rev uint64, at time.Time, absent string) []string {
	s := v.styles
	title := s.Title.Render(side)
	if rev > 0 {
		title += s.Dim.Render(" · revision " + strconv.FormatUint(rev, 10))
	}
	lines := []string{title}
	add := func(label, val string) {
		lines = append(lines, "  "+s.Label.Render(pad(label, labelWidth))+val)
	}
	if value == nil {
		add("value", s.Dim.Render(absent))
		return lines
	}
	then := lease.UnixSeconds(at)
	st := lease.Classify(value, at, v.th)
	state := s.state(st.State).Render(st.State.String())
	if fl := st.Flags.Strings(); len(fl) > 0 {
		state += " " + strings.Join(fl, " ")
	}
	add("state", state+s.Dim.Render(" at the time of the action"))
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		add("holder", safetext.Truncate(r.HolderID, max(v.width-labelWidth-2, 8)))
		add("acquired", timetext.Absolute(r.AcquiredAtUnix, v.loc)+" · "+s.Dim.Render(relativeTo(then, r.AcquiredAtUnix)))
		add("expires", timetext.Absolute(r.ExpiresAtUnix, v.loc)+" · "+s.Dim.Render(relativeTo(then, r.ExpiresAtUnix)))
		if r.Completed() {
			add("completed", "cursor "+safetext.Truncate(r.CompletedCursorHex, max(v.width-labelWidth-9, 8)))
		} else {
			add("completed", s.Dim.Render("no"))
		}
	case lease.Corrupt:
		add("reason", s.StateCorrupt.Render(safetext.Clean(st.Reason)))
	case lease.Tombstone:
		add("meaning", "released or abandoned")
	}
	add("value", s.Dim.Render(fmt.Sprintf("%d bytes · %s", len(value), valueKind(value))))
	for _, l := range rawLines(s, value, v.width-4) {
		lines = append(lines, "    "+l)
	}
	return lines
}

// relativeTo says where at lies from the time of an action, then.
func relativeTo(then, at uint64) string {
	d, future := timetext.Distance(then, at)
	switch {
	case d == 0:
		return "at the time of the action"
	case future:
		return timetext.Coarse(d) + " after the action"
	}
	return timetext.Coarse(d) + " before the action"
}

// revertBlocked says why the selected audit entry cannot be reverted now,
// "" when it can.
func (m Model) revertBlocked() string {
	if !m.screen.audit() {
		return "open the audit log (L) to revert an action"
	}
	e, ok := m.audit.Selected()
	if !ok {
		return "no audit entry selected"
	}
	if _, err := audit.RevertRequest(e, ""); err != nil {
		// The audit package's rule: only a won action with an id and the
		// revision it wrote.
		return safetext.Clean(err.Error())
	}
	return m.storeBlocked(e.Store)
}

// auditTarget is the lease the selected audit entry acted on, as that
// action left it: its key at the revision it wrote.
func (m Model) auditTarget() (target, bool) {
	e, ok := m.audit.Selected()
	if !ok {
		return target{}, false
	}
	return target{store: e.Store, entry: stores.Entry{Key: e.Key, Value: e.ValueAfter, Revision: e.RevisionAfter}, found: true}, true
}

// openAudit opens the audit log and reads it anew.
func (m *Model) openAudit() tea.Cmd {
	if m.opts.Audit == nil {
		m.status.Set(statusWarn, "no audit log in this console")
		return nil
	}
	m.audit.SetNow(m.now)
	m.audit.mode = auditList
	m.screen = screenAudit
	m.setSize(m.width, m.height)
	return m.loadAudit()
}

// loadAudit reads the audit log again.
func (m *Model) loadAudit() tea.Cmd {
	if m.opts.Audit == nil {
		return nil
	}
	return auditCmd(m.sess, m.opts.Audit, m.audit.startLoad())
}

// onAuditLoaded shows a reading of the audit log, unless a newer one was
// asked for since.
func (m *Model) onAuditLoaded(msg auditLoadedMsg) {
	if msg.gen != m.audit.gen {
		return
	}
	// The ages are of this clock: entries newer than the last tick are
	// not in the future.
	m.audit.SetNow(m.now)
	m.audit.setEntries(msg.entries, msg.err)
	if msg.err != nil && m.screen.audit() {
		m.status.Set(statusError, "cannot read the audit log: "+safetext.Clean(msg.err.Error()))
	}
}

// closeAudit goes back to the table.
func (m *Model) closeAudit() {
	m.audit.mode = auditList
	m.audit.input.Blur()
	m.screen = screenTable
	m.setSize(m.width, m.height)
}

// auditKey drives the audit view.
func (m *Model) auditKey(k tea.KeyPressMsg) tea.Cmd {
	v := &m.audit
	if v.mode == auditFilter {
		switch {
		case key.Matches(k, m.keys.Back):
			v.mode = auditList
			v.input.Blur()
			v.input.SetValue("")
			v.SetFilter("")
		case key.Matches(k, m.keys.ApplyFilter):
			v.mode = auditList
			v.input.Blur()
		default:
			var cmd tea.Cmd
			v.input, cmd = v.input.Update(k)
			v.SetFilter(v.input.Value())
			return cmd
		}
		return nil
	}
	switch {
	case key.Matches(k, m.keys.Revert):
		return m.openRevert()
	case key.Matches(k, enabled(m.keys.Revert)):
		m.status.Set(statusWarn, "refused: "+m.revertBlocked()+"; nothing was written")
	case key.Matches(k, m.keys.Help):
		m.screen = m.screen.withHelp()
	case key.Matches(k, m.keys.Refresh):
		m.status.Set(statusInfo, "reading the audit log…")
		return m.loadAudit()
	case v.mode == auditEntry && key.Matches(k, m.keys.Back):
		v.mode = auditList
	case key.Matches(k, m.keys.Back) && v.filter != "":
		v.input.SetValue("")
		v.SetFilter("")
	case key.Matches(k, m.keys.Back), key.Matches(k, m.keys.Quit):
		m.closeAudit()
	case key.Matches(k, m.keys.Filter):
		v.mode = auditFilter
		v.input.SetValue(v.filter)
		v.input.CursorEnd()
		v.clamp()
		return v.input.Focus()
	case key.Matches(k, m.keys.Detail):
		v.openEntry()
	default:
		var cmd tea.Cmd
		m.audit, cmd = m.audit.Update(k)
		return cmd
	}
	return nil
}

// auditKeys enables the keys of the audit view.
func (m Model) auditKeys(k *KeyMap) {
	on := func(bs ...*key.Binding) {
		for _, b := range bs {
			b.SetEnabled(true)
		}
	}
	nav := []*key.Binding{&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Top, &k.Bottom}
	switch v := m.audit; v.mode {
	case auditFilter:
		on(&k.ApplyFilter, &k.Back)
		k.Back.SetHelp("esc", "clear filter")
		return
	case auditEntry:
		on(nav...)
		k.Up.SetHelp("↑/k", "scroll up")
		k.Down.SetHelp("↓/j", "scroll down")
		on(&k.Back)
		k.Back.SetKeys("esc", "q")
		k.Back.SetHelp("esc/q", "back to the log")
	default:
		if len(v.shown) > 0 {
			on(nav...)
			on(&k.Detail)
			k.Detail.SetHelp("enter", "before/after")
		}
		on(&k.Filter, &k.Back)
		if v.filter != "" {
			k.Back.SetHelp("esc", "clear filter")
			on(&k.Quit)
			k.Quit.SetHelp("q", "close log")
		} else {
			k.Back.SetKeys("esc", "q")
			k.Back.SetHelp("esc/q", "close log")
		}
	}
	on(&k.Help, &k.Refresh)
	k.Refresh.SetHelp("r", "re-read")
	if m.revertBlocked() == "" {
		on(&k.Revert)
	}
}

// openRevert opens the revert dialog of the selected audit entry.
func (m *Model) openRevert() tea.Cmd {
	if why := m.revertBlocked(); why != "" {
		m.status.Set(statusWarn, "refused: "+why+"; nothing was written")
		return nil
	}
	e, _ := m.audit.Selected()
	t, _ := m.auditTarget()
	s := m.byName[e.Store]
	m.dialog = newDialog(m.styles, m.keys, m.th, m.now, lease.ActionRevert, t.store, t.entry, true, s.backend.Holder())
	m.dialog.revert = &e
	if r, ok := m.rows.get(e.Store, e.Key); ok && r.entry.Revision != e.RevisionAfter {
		m.dialog.SetStale(true)
	}
	m.dialog.changed(true, true)
	m.dialog.SetSize(m.width, m.height)
	m.screen = m.screen.withDialog()
	return nil
}

// revertHead renders what a revert's dialog says above its fields: what
// it writes back, and the value as the action left it beside the value
// before it.
func (d dialog) revertHead(w int) []string {
	s := d.styles
	e := d.revert
	if e == nil {
		return nil
	}
	now := lease.UnixSeconds(d.now)
	what := "the value the key held before"
	if e.ValueBefore == nil {
		what = "a tombstone (the key was absent before)"
	}
	lines := wrap(fmt.Sprintf("Writes back %s entry %s: %s by %s, %s. A compare-and-swap against revision %d, what that action wrote: if anything wrote the key since, nothing is written.",
		what, safetext.Clean(e.ID), e.Action, safetext.Clean(e.Operator), timetext.Ago(now, lease.UnixSeconds(e.Time)), e.RevisionAfter), w)
	pw := max((w-1)/2, 20)
	inner := pw - 4
	left := d.recordLines(lease.Classify(e.ValueAfter, d.now, d.th), e.ValueAfter, inner, now)
	back := e.ValueBefore
	if back == nil {
		back = []byte{}
	}
	right := d.recordLines(lease.Classify(back, d.now, d.th), back, inner, now)
	for len(left) < len(right) {
		left = append(left, "")
	}
	for len(right) < len(left) {
		right = append(right, "")
	}
	panel := func(title string, body []string) string {
		return s.Panel.Width(pw).Render(s.Label.Render(title) + "\n" + strings.Join(body, "\n"))
	}
	return append(lines, "", lipgloss.JoinHorizontal(lipgloss.Top,
		panel(fmt.Sprintf("now · rev %d, as the action left it", e.RevisionAfter), left), " ",
		panel("after · the value before", right)))
}
