package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timetext"
)

// defaultTTL is the ttl an operator action proposes: long enough to work an
// incident, short enough that a forgotten operator lease hands back to the
// fleet on its own.
const defaultTTL = "15m"

// field names.
const (
	fieldTTL     = "ttl"
	fieldReason  = "reason"
	fieldConfirm = "confirm"
)

// field is one text input of a dialog.
type field struct {
	name  string
	input textinput.Model
}

// dialog is the modal of one operator action: acquire (asks for the ttl),
// force takeover (ttl, reason, the key's confirmation word typed to confirm,
// and the records before and after side by side) or release (reason and the
// confirmation word). It validates what was typed with the lease core's
// rules and sends a dialogSubmitMsg carrying the revision on screen; it
// never writes. While the action runs it shows when it gives up. esc is
// handled by the root, which closes it (and abandons the action).
//
// Rendering it is cheap per typed key: the framed lines above the fields
// (title, explanation, preview) and below them (state and hints) are kept
// in a cache until what they show changes — every change takes a new
// generation number (headGen, footGen) — and only the field lines are drawn
// anew.
type dialog struct {
	styles *Styles
	keys   KeyMap
	th     lease.Thresholds
	now    time.Time

	width int

	// id names this dialog among all the console opens.
	id uint64

	action lease.Action
	store  string
	entry  stores.Entry
	found  bool
	// holder is who the action writes as, for the texts and the preview.
	holder string
	// revert is the audit entry a revert writes back the value before of
	// (auditview.go); entry is then its key as that action left it.
	revert *audit.Entry

	fields []field
	focus  int
	err    string
	// busy is set once the fields were submitted; run, once the action
	// runs (its deadline).
	busy bool
	run  *actionRun
	// stale is set when the key changed after the dialog opened: the
	// action will then fail with "changed since you looked".
	stale bool
	// mark is the store's: its colour, the production banner, and since
	// when what the dialog shows is stale (the store is in error).
	mark storeMark

	// fresh is the record a takeover would write with the ttl typed so far.
	fresh   lease.Record
	freshOK bool

	// gens numbers what each part of the box shows; cache holds the parts
	// rendered.
	gens  dialogGens
	cache *dialogCache
}

// maxFields is the most fields a dialog has (a takeover's).
const maxFields = 3

// dialogGens are the generations of a dialog's parts: the lines above the
// fields (head), each field's line, and the lines below them (foot).
type dialogGens struct {
	head, foot uint64
	fields     [maxFields]uint64
}

// dialogCache holds a dialog's rendered parts for the generations it names
// and the ink of its border. It is shared by the copies of one dialog; a
// copy whose generation of a part differs renders its own.
type dialogCache struct {
	gens       dialogGens
	head, foot []string
	fields     [maxFields]string
	edge       ink
	edgeOK     bool
}

func newDialog(s *Styles, k KeyMap, th lease.Thresholds, now time.Time, action lease.Action, store string, e stores.Entry, found bool, holder string) dialog {
	d := dialog{styles: s, keys: k, th: th, now: now, action: action, store: store, entry: e, found: found, holder: holder,
		id: nextGen(), cache: &dialogCache{}}
	d.changed(true, true)
	var names []string
	switch action {
	case lease.ActionAcquire:
		names = []string{fieldTTL}
	case lease.ActionTakeover:
		names = []string{fieldTTL, fieldReason, fieldConfirm}
	case lease.ActionRelease, lease.ActionRevert:
		names = []string{fieldReason, fieldConfirm}
	}
	for _, n := range names {
		in := textinput.New()
		in.Prompt = ""
		in.SetStyles(s.Input)
		in.CharLimit = 256
		switch n {
		case fieldTTL:
			in.SetValue(defaultTTL)
			in.CursorEnd()
		case fieldReason:
			in.Placeholder = "why (goes to the audit log)"
		case fieldConfirm:
			in.Placeholder = "type " + safetext.Key(lease.ConfirmWord(e.Key)) + " to confirm"
		}
		d.fields = append(d.fields, field{name: n, input: in})
	}
	d.setFocus(0)
	d.preview()
	return d
}

// SetSize sets the screen size the dialog centres in. A field's input takes
// the width its label leaves, less the cell its cursor takes past the text.
func (d *dialog) SetSize(w, _ int) {
	d.width = w
	for i := range d.fields {
		d.fields[i].input.SetWidth(max(d.innerWidth()-labelWidth-3, 8))
	}
	d.changed(true, true)
}

// SetNow moves the clock (the preview's times and the countdown follow it).
func (d *dialog) SetNow(now time.Time) {
	d.now = now
	d.preview()
	d.changed(true, true)
}

// SetStyles restyles the dialog after a change of its styles.
func (d *dialog) SetStyles(s *Styles) {
	d.styles = s
	for i := range d.fields {
		d.fields[i].input.SetStyles(s.Input)
	}
	d.changed(true, true)
}

// SetStale says whether the key changed since the dialog opened.
func (d *dialog) SetStale(stale bool) {
	if stale != d.stale {
		d.stale = stale
		d.changed(false, true)
	}
}

// SetMark sets the mark of the dialog's store: a production store's
// dialog carries a banner, and one on a store in error says that what it
// shows is stale, and since when.
func (d *dialog) SetMark(mk storeMark) {
	if mk != d.mark {
		d.mark = mk
		d.changed(true, false)
	}
}

// SetRun shows the action running under run: its deadline, counting down.
func (d *dialog) SetRun(run *actionRun) {
	d.run = run
	d.changed(false, true)
}

// changed gives the lines above (head) or below (foot) the fields a new
// generation, and with head every field: they are rendered again.
func (d *dialog) changed(head, foot bool) {
	if head {
		d.gens.head = nextGen()
		for i := range d.gens.fields {
			d.fieldChanged(i)
		}
	}
	if foot {
		d.gens.foot = nextGen()
	}
}

// fieldChanged gives field i's line a new generation.
func (d *dialog) fieldChanged(i int) { d.gens.fields[i] = nextGen() }

// innerWidth is the width inside the dialog's frame.
func (d dialog) innerWidth() int {
	return max(min(d.width-6, 96), 30)
}

func (d *dialog) setFocus(i int) tea.Cmd {
	if len(d.fields) == 0 {
		return nil
	}
	d.focus = (i + len(d.fields)) % len(d.fields)
	var cmd tea.Cmd
	for j := range d.fields {
		d.fieldChanged(j)
		if j == d.focus {
			cmd = d.fields[j].input.Focus()
		} else {
			d.fields[j].input.Blur()
		}
	}
	return cmd
}

// value returns the trimmed text of the named field.
func (d dialog) value(name string) string {
	for _, f := range d.fields {
		if f.name == name {
			return strings.TrimSpace(f.input.Value())
		}
	}
	return ""
}

func (d dialog) index(name string) int {
	for i, f := range d.fields {
		if f.name == name {
			return i
		}
	}
	return 0
}

// preview computes the takeover's new record for the ttl typed so far, as
// the lease core will build it.
func (d *dialog) preview() {
	d.freshOK = false
	if d.action != lease.ActionTakeover {
		return
	}
	if ttl, err := parseTTL(d.value(fieldTTL)); err == nil {
		d.fresh, d.freshOK = lease.NewRecord(d.holder, d.now, ttl), true
	}
}

// parseTTL parses an operator's ttl: a Go duration within the lease core's
// bounds (lease.CheckTTL).
func parseTTL(s string) (time.Duration, error) {
	ttl, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("ttl %q: want a duration such as 15m or 1h30m", s)
	}
	if err := lease.CheckTTL(ttl); err != nil {
		return 0, err
	}
	return ttl, nil
}

// errConfirm is the wrong-confirmation error.
var errConfirm = errors.New("confirmation does not match")

// request validates the fields with the lease core's rules and returns the
// request, a compare-and-swap against the revision on screen (0 when the
// key was absent); on failure it names the field to fix.
func (d dialog) request() (lease.Request, string, error) {
	req := lease.Request{Action: d.action, Key: d.entry.Key, Seen: d.entry.Revision}
	if !d.found {
		req.Seen = 0
	}
	for _, f := range d.fields {
		v := strings.TrimSpace(f.input.Value())
		switch f.name {
		case fieldTTL:
			ttl, err := parseTTL(v)
			if err != nil {
				return req, f.name, err
			}
			req.TTL = ttl
		case fieldReason:
			if err := lease.CheckReason(d.action, v); err != nil {
				return req, f.name, err
			}
			req.Reason = v
		case fieldConfirm:
			if !lease.Confirmed(d.entry.Key, v, safetext.Key) {
				return req, f.name, fmt.Errorf("%w: type %s (the key's last segment) to confirm", errConfirm, safetext.Key(lease.ConfirmWord(d.entry.Key)))
			}
		}
	}
	if d.revert != nil {
		// The request is the audit package's: the value before, against
		// the revision the action wrote.
		r, err := audit.RevertRequest(*d.revert, req.Reason)
		return r, "", err
	}
	return req, "", nil
}

// Update edits the fields and submits.
func (d dialog) Update(msg tea.Msg) (dialog, tea.Cmd) {
	if d.busy {
		return d, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, d.keys.NextField):
			return d, d.setFocus(d.focus + 1)
		case key.Matches(k, d.keys.PrevField):
			return d, d.setFocus(d.focus - 1)
		case key.Matches(k, d.keys.Submit):
			if d.focus < len(d.fields)-1 {
				return d, d.setFocus(d.focus + 1)
			}
			req, bad, err := d.request()
			if err != nil {
				d.err = err.Error()
				d.changed(false, true)
				return d, d.setFocus(d.index(bad))
			}
			d.err, d.busy = "", true
			d.changed(false, true)
			id, store := d.id, d.store
			return d, func() tea.Msg { return dialogSubmitMsg{id: id, store: store, req: req} }
		}
		if d.full(k) {
			return d, nil
		}
	}
	if len(d.fields) == 0 {
		return d, nil
	}
	var cmd tea.Cmd
	f := &d.fields[d.focus]
	before := f.input.Value()
	f.input, cmd = f.input.Update(msg)
	d.fieldChanged(d.focus)
	if f.input.Value() != before {
		if d.err != "" {
			d.err = ""
			d.changed(false, true)
		}
		if f.name == fieldTTL {
			d.preview()
			d.changed(true, false)
		}
	}
	return d, cmd
}

// full reports whether k types a character into a field that already holds
// as many as it takes: the key changes nothing, and costs nothing either
// (a terminal may send thousands of them, one by one).
func (d dialog) full(k tea.KeyPressMsg) bool {
	if len(d.fields) == 0 || k.Text == "" || k.Mod&^tea.ModShift != 0 {
		return false
	}
	in := d.fields[d.focus].input
	return in.CharLimit > 0 && utf8.RuneCountInString(in.Value()) >= in.CharLimit
}

// View renders the dialog's box; the root centres it over the screen.
func (d dialog) View() string { return strings.Join(d.lines(), "\n") }

// lines renders the dialog's box line by line, each part from the cache
// unless its generation moved: a typed key renders one field's line.
func (d dialog) lines() []string {
	c := d.cache
	if c == nil {
		c = &dialogCache{}
	}
	w := d.innerWidth()
	if c.head == nil || c.gens.head != d.gens.head {
		c.edgeOK = false
		c.head, c.gens.head = d.headLines(c, w), d.gens.head
	}
	if c.foot == nil || c.gens.foot != d.gens.foot {
		c.foot, c.gens.foot = d.footLines(c, w), d.gens.foot
	}
	out := make([]string, 0, len(c.head)+len(d.fields)+len(c.foot))
	out = append(out, c.head...)
	s := d.styles
	for i, f := range d.fields {
		if c.fields[i] == "" || c.gens.fields[i] != d.gens.fields[i] {
			marker := "  "
			if i == d.focus {
				marker = "> "
			}
			c.fields[i] = d.frame(c, s.Label.Render(marker+pad(f.name, labelWidth))+f.input.View(), w)
			c.gens.fields[i] = d.gens.fields[i]
		}
		out = append(out, c.fields[i])
	}
	return append(out, c.foot...)
}

// frame draws one line of the box: the side borders and one cell of
// padding around text cut or padded to w cells, as the Dialog style would
// draw it, without its cost (a Style.Render of the whole box measures and
// wraps every line).
func (d dialog) frame(c *dialogCache, text string, w int) string {
	b := d.styles.Dialog.GetBorderStyle()
	edge := d.edge(c)
	return edge.paint(b.Left) + " " + padStyled(text, w) + " " + edge.paint(b.Right)
}

// edge is the ink of the box's border, kept in c.
func (d dialog) edge(c *dialogCache) ink {
	if !c.edgeOK {
		fg := d.styles.Dialog.GetBorderTopForeground()
		if d.mark.production && !d.styles.plain {
			// The frame of a production dialog is the banner's colour.
			fg = d.styles.ProductionBanner.GetBackground()
		}
		c.edge, c.edgeOK = inkOf(lipgloss.NewStyle().Foreground(fg)), true
	}
	return c.edge
}

// headLines renders the top border and what is above the fields: the
// title, what the action does, and the lease now (and, for a takeover, the
// record it would write).
func (d dialog) headLines(c *dialogCache, w int) []string {
	s := d.styles
	now := lease.UnixSeconds(d.now)
	words := wordsFor(d.action)
	title := words.title
	ts := s.DialogTitle
	if words.danger {
		ts = s.DialogDanger
	}
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	if d.mark.production {
		add(s.ProductionBanner.Render(pad(safetext.Truncate(" PRODUCTION · "+safetext.Clean(d.store), w), w)), "")
	}
	add(ts.Render(title)+"  "+s.storeStyle(s.StoreName, d.mark.color, false).Render(safetext.Clean(d.store))+s.Dim.Render(" / ")+safetext.Truncate(safetext.Key(d.entry.Key), max(w-len(title)-len(d.store)-5, 8)), "")
	if age, ok := d.mark.staleFor(d.now); ok {
		seen := lease.UnixSeconds(d.now)
		for _, l := range wrap(fmt.Sprintf("STALE %s: store %s is in error, so this is the lease as last seen %s, not now. The action reads the key again and writes only if it is unchanged.",
			timetext.Coarse(age), safetext.Clean(d.store), timetext.Ago(seen, seen-min(age, seen))), w) {
			add(s.StaleTag.Render(l))
		}
		add("")
	}

	cur := lease.Status{State: lease.Absent}
	if d.found {
		cur = lease.Classify(d.entry.Value, d.now, d.th)
	}
	holder := safetext.Clean(d.holder)
	switch d.action {
	case lease.ActionAcquire:
		add(wrap(fmt.Sprintf("Acquires the lease as %s, as the fleet would: it wins only if the lease is absent, a tombstone, expired or corrupt — never over a live lease — and only if the key is still %s.", holder, d.seenText()), w)...)
		add("", s.Label.Render("now  ")+d.summary(cur, now))
	case lease.ActionTakeover:
		add(wrap(fmt.Sprintf("Writes a fresh record held by %s over whatever is there, even a live lease, if the key is still %s.", holder, d.seenText()), w)...)
		add("", d.sideBySide(cur, w))
	case lease.ActionRelease:
		add(wrap(fmt.Sprintf("Writes an empty value (a tombstone) at revision %d so that the fleet's next trigger wins at once.", d.entry.Revision), w)...)
		add("", s.Label.Render("now  ")+d.summary(cur, now))
		if cur.State == lease.Held {
			add(s.StatusWarn.Render("This lease is live: its holder may still be exporting, and the next winner will export again."))
		}
	case lease.ActionRevert:
		add(d.revertHead(w)...)
	}
	add("")
	b := s.Dialog.GetBorderStyle()
	out := []string{d.edge(c).paint(b.TopLeft + strings.Repeat(b.Top, w+2) + b.TopRight)}
	for _, l := range strings.Split(strings.Join(lines, "\n"), "\n") {
		out = append(out, d.frame(c, l, w))
	}
	return out
}

// footLines renders what is below the fields — a warning that the key
// changed, the action running, the last error or the hints — and the
// bottom border.
func (d dialog) footLines(c *dialogCache, w int) []string {
	s := d.styles
	lines := []string{""}
	if d.stale {
		text := "Changed since this dialog opened: confirming will fail and show the new state."
		if d.revert != nil {
			text = "The key changed since that action wrote it: the revert will be refused."
		}
		lines = append(lines, s.StatusWarn.Render(safetext.Truncate(text, w)))
	}
	switch {
	case d.busy:
		lines = append(lines, s.StatusInfo.Render(d.runningText()))
	case d.err != "":
		lines = append(lines, s.StatusError.Render(safetext.Truncate(d.err, w)))
	default:
		cas := fmt.Sprintf("CAS against revision %d", d.entry.Revision)
		if !d.found {
			cas = "create only: the key was absent"
		}
		lines = append(lines, s.Dim.Render(cas+" · audited · esc cancels without writing"))
	}
	out := make([]string, 0, len(lines)+1)
	for _, l := range lines {
		out = append(out, d.frame(c, l, w))
	}
	b := s.Dialog.GetBorderStyle()
	return append(out, d.edge(c).paint(b.BottomLeft+strings.Repeat(b.Bottom, w+2)+b.BottomRight))
}

// runningText says where the submitted action is: on its way, when it
// gives up, or, once it gave up, that it is learning whether anything was
// written.
func (d dialog) runningText() string {
	if d.run == nil {
		return "writing…"
	}
	left := d.run.deadline.Sub(d.now)
	if left <= 0 {
		return "gave up: learning whether anything was written… · esc closes"
	}
	secs := uint64((left + time.Second - 1) / time.Second)
	return "writing… gives up in " + timetext.Precise(secs) + " · esc abandons"
}

// seenText says what the key must still be for the action to write: at the
// revision on screen, or absent.
func (d dialog) seenText() string {
	if !d.found {
		return "absent"
	}
	return fmt.Sprintf("at revision %d", d.entry.Revision)
}

// summary describes a status on one line with its expiry.
func (d dialog) summary(st lease.Status, now uint64) string {
	text := d.styles.state(st.State).Render(st.State.String())
	switch st.State {
	case lease.Held, lease.Expired:
		text += " by " + safetext.Truncate(st.Record.HolderID, 40) + ", " + timetext.Countdown(now, st.Record.ExpiresAtUnix)
	case lease.Corrupt:
		text += ": " + safetext.Truncate(st.Reason, 60)
	}
	if d.found {
		text += d.styles.Dim.Render(fmt.Sprintf(" (rev %d)", d.entry.Revision))
	}
	return text
}

// sideBySide renders the current and the new record of a takeover.
func (d dialog) sideBySide(cur lease.Status, w int) string {
	pw := max((w-1)/2, 20)
	inner := pw - 4
	left := d.recordLines(cur, d.entry.Value, inner, lease.UnixSeconds(d.now))
	leftTitle := fmt.Sprintf("now · rev %d", d.entry.Revision)
	if !d.found {
		leftTitle = "now · absent"
	}
	var right []string
	if d.freshOK {
		right = d.recordLines(lease.Status{State: lease.Held, Record: d.fresh}, d.fresh.Encode(), inner, d.fresh.AcquiredAtUnix)
	} else {
		right = []string{d.styles.StatusError.Render("type a valid ttl")}
	}
	for len(left) < len(right) {
		left = append(left, "")
	}
	for len(right) < len(left) {
		right = append(right, "")
	}
	panel := func(title string, body []string) string {
		return d.styles.Panel.Width(pw).Render(d.styles.Label.Render(title) + "\n" + strings.Join(body, "\n"))
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, panel(leftTitle, left), " ", panel("after · new record", right))
}

// recordLines renders a record's fields for a preview panel of width w,
// with relative times as seen at now.
func (d dialog) recordLines(st lease.Status, raw []byte, w int, now uint64) []string {
	s := d.styles
	out := []string{s.state(st.State).Render(st.State.String())}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		out[0] += " " + strings.Join(st.Flags.Strings(), " ")
		out = append(out,
			"holder   "+safetext.Truncate(r.HolderID, w-9),
			"acquired "+timetext.Clock(r.AcquiredAtUnix)+" "+s.Dim.Render(timetext.Ago(now, r.AcquiredAtUnix)),
			"expires  "+timetext.Clock(r.ExpiresAtUnix)+" "+s.Dim.Render(timetext.Countdown(now, r.ExpiresAtUnix)),
		)
		if r.Completed() {
			out = append(out, "cursor   "+safetext.Truncate(r.CompletedCursorHex, w-9))
		} else {
			out = append(out, "cursor   "+s.Dim.Render("none"))
		}
	case lease.Corrupt:
		out = append(out, safetext.Truncate(st.Reason, w))
	case lease.Tombstone:
		out = append(out, s.Dim.Render("empty value (released)"))
	}
	out = append(out, s.Dim.Render(safetext.Truncate(compactRaw(raw), w)))
	if st.State == lease.Absent {
		out = out[:1]
	}
	return out
}
