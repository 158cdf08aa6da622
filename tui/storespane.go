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
	// color and production are the store's (Source); stale is since when
	// its rows are stale, the zero time while they are current.
	color      string
	production bool
	stale      time.Time
}

// storesPane lists the stores: name, kind, connection state, key count and
// last update, one line each, or on one line when the pane is short of
// room. What it drew is cached until the stores, the clock, the size or the
// styles change (gen, see cache.go): a key press costs it nothing.
type storesPane struct {
	styles *Styles
	width  int
	// room is how many lines the layout gives the pane.
	room  int
	now   time.Time
	lines []storeLine

	gen   uint64
	cache *paneCache
}

// paneCache is a storesPane's last rendering, for the generation it names.
type paneCache struct {
	gen  uint64
	view string
}

func newStoresPane(s *Styles) storesPane {
	return storesPane{styles: s, room: maxStoreLines, gen: nextGen(), cache: &paneCache{}}
}

// SetSize sets the pane's width and the lines it may take: all of them
// (up to maxStoreLines), 1 for a summary of every store, or 0.
func (p *storesPane) SetSize(w, lines int) {
	p.width, p.room = w, lines
	p.gen = nextGen()
}

// SetStyles restyles the pane after a change of its styles.
func (p *storesPane) SetStyles(s *Styles) {
	p.styles = s
	p.gen = nextGen()
}

// SetStores sets what the pane shows; the pane is drawn again only if that
// differs from what it shows, to the second.
func (p *storesPane) SetStores(lines []storeLine, now time.Time) {
	same := now.Unix() == p.now.Unix() && len(lines) == len(p.lines)
	for i := 0; same && i < len(lines); i++ {
		same = lines[i].same(p.lines[i])
	}
	p.lines, p.now = lines, now
	if !same {
		p.gen = nextGen()
	}
}

// same reports whether l and o show the same, to the second.
func (l storeLine) same(o storeLine) bool {
	a, b := l, o
	a.err, b.err = nil, nil
	a.lastUpdate, b.lastUpdate = time.Time{}, time.Time{}
	a.retryAt, b.retryAt = time.Time{}, time.Time{}
	a.stale, b.stale = time.Time{}, time.Time{}
	return a == b && sameError(l.err, o.err) &&
		l.stale.Unix() == o.stale.Unix() && l.stale.IsZero() == o.stale.IsZero() &&
		l.lastUpdate.Unix() == o.lastUpdate.Unix() && l.lastUpdate.IsZero() == o.lastUpdate.IsZero() &&
		l.retryAt.Unix() == o.retryAt.Unix() && l.retryAt.IsZero() == o.retryAt.IsZero()
}

// sameError reports whether two errors read the same.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// Height is the number of lines View renders.
func (p storesPane) Height() int { return min(len(p.lines), maxStoreLines, p.room) }

// Update implements the component shape; the root sets the stores.
func (p storesPane) Update(tea.Msg) (storesPane, tea.Cmd) { return p, nil }

// View renders one line per store, or the summary.
func (p storesPane) View() string {
	if p.cache != nil && p.cache.gen == p.gen {
		return p.cache.view
	}
	v := p.render()
	if p.cache != nil {
		p.cache.gen, p.cache.view = p.gen, v
	}
	return v
}

func (p storesPane) render() string {
	switch h := p.Height(); {
	case h == 0:
		return ""
	case h == 1 && len(p.lines) > 1:
		return ansi.Truncate(p.summary(), p.width, safetext.Ellipsis)
	}
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

// summary sums the stores up on one line: how many are live, on their way
// and failing, with the mark of the worst.
func (p storesPane) summary() string {
	s := p.styles
	var live, pending, failing, production int
	for _, l := range p.lines {
		if l.production {
			production++
		}
		switch {
		case l.conn == connFailed || l.err != nil:
			failing++
		case l.conn == connLive:
			live++
		default:
			pending++
		}
	}
	dot := s.ConnLive.Render("●")
	switch {
	case failing > 0:
		dot = s.ConnError.Render("✗")
	case pending > 0:
		dot = s.ConnSyncing.Render("◐")
	}
	parts := []string{fmt.Sprintf("%d stores", len(p.lines)), s.ConnLive.Render(fmt.Sprintf("%d live", live))}
	if pending > 0 {
		parts = append(parts, s.ConnSyncing.Render(fmt.Sprintf("%d connecting", pending)))
	}
	if failing > 0 {
		parts = append(parts, s.ConnError.Render(fmt.Sprintf("%d failing", failing)))
	}
	if production > 0 {
		parts = append(parts, s.Production.Render(fmt.Sprintf("%d PRODUCTION", production)))
	}
	return dot + " " + strings.Join(parts, s.Dim.Render(" · "))
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
		// A transient watch error: the driver is retrying. A store that is
		// only listed is not retried: r lists it again.
		again := " (retrying)"
		if !l.watch {
			again = " (r re-lists)"
		}
		dot, state = s.ConnError.Render("●"), s.ConnError.Render("error: "+safetext.Clean(l.err.Error())+again)
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
	head := dot + " " + s.storeStyle(s.StoreName, l.color, false).Render(pad(safetext.Clean(l.name), nameW)) + " " + s.StoreKind.Render(safetext.Clean(l.kind))
	if l.production {
		head += " " + s.Production.Render("PRODUCTION")
	}
	if l.readOnly {
		head += " " + s.StatusWarn.Render("read-only")
	}
	parts := []string{head}
	if !l.stale.IsZero() && l.keys > 0 {
		// Before the error, which may be cut at the screen's edge.
		parts = append(parts, s.StaleTag.Render("rows "+storeMark{stale: l.stale}.staleText(p.now)))
	}
	parts = append(parts, state)
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
