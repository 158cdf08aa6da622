package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/timetext"
)

// maxStoreLines is the most lines the stores pane takes; more stores are
// summarised on the last line.
const maxStoreLines = 4

// storeLine is what the stores pane shows of one store.
type storeLine struct {
	name, kind string
	readOnly   bool
	conn       connState
	err        error
	keys       int
	watch      bool
	lastUpdate time.Time
	retryAt    time.Time
}

// storesPane lists the stores: name, kind, connection state, key count and
// last update.
type storesPane struct {
	styles *Styles
	width  int
	now    time.Time
	lines  []storeLine
}

// SetSize sets the pane's width.
func (p *storesPane) SetSize(w, _ int) { p.width = w }

// SetStores sets what the pane shows.
func (p *storesPane) SetStores(lines []storeLine, now time.Time) { p.lines, p.now = lines, now }

// Height is the number of lines View renders.
func (p storesPane) Height() int { return min(len(p.lines), maxStoreLines) }

// Update implements the component shape; the root sets the stores.
func (p storesPane) Update(tea.Msg) (storesPane, tea.Cmd) { return p, nil }

// View renders one line per store.
func (p storesPane) View() string {
	nameW := 0
	for _, l := range p.lines {
		nameW = max(nameW, safetext.Width(l.name))
	}
	out := make([]string, 0, p.Height())
	for i, l := range p.lines {
		if i == maxStoreLines-1 && len(p.lines) > maxStoreLines {
			out = append(out, p.styles.Dim.Render(fmt.Sprintf("  … and %d more stores", len(p.lines)-i)))
			break
		}
		out = append(out, ansi.Truncate(p.line(l, nameW), p.width, safetext.Ellipsis))
	}
	return strings.Join(out, "\n")
}

func (p storesPane) line(l storeLine, nameW int) string {
	s := p.styles
	now := lease.UnixSeconds(p.now)
	var dot, state string
	switch l.conn {
	case connConnecting:
		dot, state = s.ConnConnecting.Render("○"), s.ConnConnecting.Render("connecting…")
	case connSyncing:
		dot, state = s.ConnSyncing.Render("◐"), s.ConnSyncing.Render("syncing…")
	case connLive:
		dot, state = s.ConnLive.Render("●"), s.ConnLive.Render("live")
	}
	if l.err != nil && (l.conn == connSyncing || l.conn == connLive) {
		// A transient watch error: the driver is retrying.
		dot, state = s.ConnError.Render("●"), s.ConnError.Render("error: "+safetext.Clean(l.err.Error())+" (retrying)")
	}
	switch l.conn {
	case connFailed:
		// The retry comes first: a long error is cut at the screen's edge.
		msg := "error"
		if !l.retryAt.IsZero() {
			msg += fmt.Sprintf(", retry in %s", timetext.Precise(max(lease.UnixSeconds(l.retryAt), now)-now))
		}
		if l.err != nil {
			msg += ": " + safetext.Clean(l.err.Error())
		}
		dot, state = s.ConnError.Render("✗"), s.ConnError.Render(msg)
	}
	head := dot + " " + s.StoreName.Render(pad(safetext.Clean(l.name), nameW)) + " " + s.StoreKind.Render(safetext.Clean(l.kind))
	if l.readOnly {
		head += " " + s.StatusWarn.Render("read-only")
	}
	parts := []string{head, state}
	if l.conn == connLive || l.conn == connSyncing || l.keys > 0 {
		keys := fmt.Sprintf("%d keys", l.keys)
		if l.keys == 1 {
			keys = "1 key"
		}
		parts = append(parts, keys)
	}
	if !l.lastUpdate.IsZero() {
		parts = append(parts, "updated "+timetext.Ago(now, lease.UnixSeconds(l.lastUpdate)))
	}
	if l.conn == connLive && !l.watch {
		parts = append(parts, "no watch: r re-lists")
	}
	return strings.Join(parts, s.Dim.Render(" · "))
}
