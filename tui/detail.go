package tui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timetext"
)

// detail is the view of one lease: decoded fields with absolute and relative
// times, the raw bytes, the corrupt reason, the revision and, when the store
// keeps it, the history, newest first. Its lines are built when something it
// shows changes, not per frame; View shows the visible ones.
type detail struct {
	styles *Styles
	keys   KeyMap
	th     lease.Thresholds
	loc    *time.Location
	now    time.Time

	width, height int

	store string
	kind  string // the store's driver, which the history comes from
	entry stores.Entry
	found bool

	// noHistory is set when the store keeps no history; histLoading while
	// it is being read. history is oldest first, as stores return it.
	noHistory   bool
	histLoading bool
	history     []stores.Entry
	histErr     error

	lines  []string
	offset int
}

func newDetail(s *Styles, k KeyMap, th lease.Thresholds, loc *time.Location) detail {
	return detail{styles: s, keys: k, th: th, loc: loc}
}

// open shows a lease of store, whose driver is kind; noHistory says that
// the store is known to keep no history (else a historyMsg follows).
func (d *detail) open(store, kind string, e stores.Entry, found, noHistory bool) {
	d.store, d.kind, d.entry, d.found = store, kind, e, found
	d.noHistory, d.histLoading, d.history, d.histErr = noHistory, !noHistory, nil, nil
	d.offset = 0
	d.render()
}

// SetEntry updates the shown lease after a change in the store.
func (d *detail) SetEntry(e stores.Entry, found bool) {
	d.entry, d.found = e, found
	d.render()
}

// SetHistory sets the key's history, oldest first, or why there is none:
// an error matching errors.ErrUnsupported when the store keeps no history.
func (d *detail) SetHistory(entries []stores.Entry, err error) {
	d.history, d.histErr, d.histLoading = entries, err, false
	if errors.Is(err, errors.ErrUnsupported) {
		d.noHistory, d.histErr = true, nil
	}
	d.render()
}

// SetSize sets the area the detail view fills.
func (d *detail) SetSize(w, h int) {
	d.width, d.height = w, max(h, 1)
	d.render()
}

// SetNow moves the clock the relative times are rendered against.
func (d *detail) SetNow(now time.Time) {
	if lease.UnixSeconds(now) == lease.UnixSeconds(d.now) {
		return
	}
	d.now = now
	if d.store != "" {
		d.render()
	}
}

// Update scrolls.
func (d detail) Update(msg tea.Msg) (detail, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.keys.Up):
		d.offset--
	case key.Matches(k, d.keys.Down):
		d.offset++
	case key.Matches(k, d.keys.PageUp):
		d.offset -= d.height
	case key.Matches(k, d.keys.PageDown):
		d.offset += d.height
	case key.Matches(k, d.keys.Top):
		d.offset = 0
	case key.Matches(k, d.keys.Bottom):
		d.offset = len(d.lines)
	}
	d.clamp()
	return d, nil
}

func (d *detail) clamp() {
	d.offset = min(max(d.offset, 0), max(len(d.lines)-d.height, 0))
}

// View renders the visible lines.
func (d detail) View() string {
	end := min(d.offset+d.height, len(d.lines))
	return strings.Join(d.lines[d.offset:end], "\n")
}

// labelWidth aligns the field labels.
const labelWidth = 11

// render builds every line of the view.
func (d *detail) render() {
	s := d.styles
	now := lease.UnixSeconds(d.now)
	var lines []string
	add := func(label, value string) {
		lines = append(lines, s.Label.Render(pad(label, labelWidth))+value)
	}
	title := s.StoreName.Render(safetext.Clean(d.store)) + s.Dim.Render(" / ") + s.Title.Render(safetext.Key(d.entry.Key))
	lines = append(lines, ansi.Truncate(title, d.width, safetext.Ellipsis), "")

	st := lease.Status{State: lease.Absent}
	if d.found {
		st = lease.Classify(d.entry.Value, d.now, d.th)
	}
	state := s.state(st.State).Render(st.State.String())
	flagStyles := [...]lipgloss.Style{s.FlagCompleted, s.FlagSkewed, s.FlagOverdue, s.FlagUnfinished}
	for i, f := range flagNames {
		if st.Flags.Has(lease.Flags(1) << i) {
			state += " " + flagStyles[i].Render(f)
		}
	}
	if !d.found {
		state += s.Dim.Render(" — the key is gone from the store")
	}
	add("state", state)
	if d.found {
		add("revision", strconv.FormatUint(d.entry.Revision, 10))
	}
	switch st.State {
	case lease.Held, lease.Expired:
		r := st.Record
		add("holder", safetext.Truncate(r.HolderID, max(d.width-labelWidth, 8)))
		add("acquired", fmt.Sprintf("%s · %s · unix %d", timetext.Absolute(r.AcquiredAtUnix, d.loc), s.Dim.Render(timetext.Ago(now, r.AcquiredAtUnix)), r.AcquiredAtUnix))
		add("expires", fmt.Sprintf("%s · %s · unix %d", timetext.Absolute(r.ExpiresAtUnix, d.loc), s.Dim.Render(timetext.Countdown(now, r.ExpiresAtUnix)), r.ExpiresAtUnix))
		if r.ExpiresAtUnix >= r.AcquiredAtUnix {
			add("period", timetext.Precise(r.ExpiresAtUnix-r.AcquiredAtUnix))
		}
		switch {
		case r.Completed():
			add("completed", "cursor "+safetext.Truncate(r.CompletedCursorHex, max(d.width-labelWidth-7, 8)))
		case r.CompletedAtUnix != nil:
			add("completed", s.Dim.Render("no cursor"))
		default:
			add("completed", s.Dim.Render("no"))
		}
		if at := r.CompletedAtUnix; at != nil {
			add("", fmt.Sprintf("at %s · %s · unix %d", timetext.Absolute(*at, d.loc), s.Dim.Render(timetext.Ago(now, *at)), *at))
		}
		if st.State == lease.Expired {
			h := lease.Assess(r, d.now, d.th)
			health := timetext.Overdue(uint64(h.ExpiredFor/time.Second), uint64(h.Period/time.Second))
			switch {
			case h.Flags.Has(lease.Overdue | lease.Unfinished):
				health += s.FlagOverdue.Render(" · overdue: no round for a whole period, and the last one never completed")
			case h.Flags.Has(lease.Overdue):
				health += s.FlagOverdue.Render(" · overdue: no round for a whole period")
			case h.Flags.Has(lease.Unfinished):
				health += s.FlagUnfinished.Render(" · unfinished: the winner crashed or overran")
			}
			add("rounds", health)
		}
		if st.Flags.Has(lease.Skewed) {
			add("skewed", s.FlagSkewed.Render(fmt.Sprintf("acquired more than %v ahead of this clock, expiring before acquired, or a period over %v", d.th.SkewTolerance, d.th.MaxPeriod)))
		}
	case lease.Corrupt:
		add("reason", s.StateCorrupt.Render(safetext.Clean(st.Reason)))
		add("", s.Dim.Render("a corrupt lease is stealable: the next trigger of any replica wins it"))
	case lease.Tombstone:
		add("meaning", "released or abandoned: the next trigger of any replica wins it")
	}

	if d.found {
		lines = append(lines, "")
		add("value", s.Dim.Render(fmt.Sprintf("%d bytes · %s", len(d.entry.Value), valueKind(d.entry.Value))))
		for _, l := range rawLines(s, d.entry.Value, d.width-2) {
			lines = append(lines, "  "+l)
		}
	}

	lines = append(lines, "")
	lines = append(lines, d.historyLines(add)...)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, d.width, safetext.Ellipsis)
	}
	d.lines = lines
	d.clamp()
}

// historyLines renders the history section: where it comes from, and the
// values the store keeps, newest first. add appends a labelled line to the
// view's lines; the entries are returned.
func (d *detail) historyLines(add func(label, value string)) []string {
	s := d.styles
	from := safetext.Clean(d.store) + " (" + safetext.Clean(d.kind) + ")"
	switch {
	case d.noHistory:
		add("history", s.Dim.Render("not kept by "+from+"; etcd and NATS KV keep it"))
		return nil
	case d.histLoading:
		add("history", s.Dim.Render("loading from "+from+"…"))
		return nil
	case errors.Is(d.histErr, stores.ErrNotFound):
		add("history", s.Dim.Render("no value of this key kept by "+from))
		return nil
	case d.histErr != nil:
		add("history", s.StatusError.Render(safetext.Clean(d.histErr.Error())))
		return nil
	}
	n := fmt.Sprintf("%d values", len(d.history))
	if len(d.history) == 1 {
		n = "1 value"
	}
	add("history", s.Dim.Render(n+" kept by "+from+", newest first"))
	out := make([]string, 0, len(d.history))
	for i := len(d.history) - 1; i >= 0; i-- {
		e := d.history[i]
		hs := lease.Classify(e.Value, d.now, d.th)
		out = append(out, fmt.Sprintf("  rev %-8d %s  %s", e.Revision, pad(describe(hs), 28), compactRaw(e.Value)))
	}
	return out
}
