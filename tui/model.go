// Package tui is leasectl's operator console: a Bubble Tea program that
// shows every lease key of every configured store, live, and runs the
// operator actions of docs/design.md §4 (acquire, force takeover, release)
// through the lease core.
//
// The console reaches each store through a Backend, the small interface of
// what it lists, watches, reads and does; Local implements it on a store
// opened in this process, and a client of a remote gateway can implement it
// too. The package holds no terminal or signal code and no store driver, so
// that it builds for the browser; the terminal wiring lives in package cli.
//
// Only Model implements tea.Model. The components (table, detail view,
// dialogs, help, status line, stores pane) each expose Update, View and
// SetSize and share one Styles and one KeyMap handed down by the model. All
// I/O runs in tea.Cmds that capture values (a backend, a channel), never the
// model; Init, Update and View do none. Every string that came from a store
// is cleaned with package safetext before it is rendered.
package tui

import (
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
)

// Options configure the console.
type Options struct {
	// Sources are the stores to show, in this order.
	Sources []Source
	// Demo labels the console as a demo, with a badge in the header.
	Demo bool
	// Operator is the operator's name, shown in the header as the holder
	// its actions write (lease.OperatorHolder). Who an action is audited
	// as is each Backend's to know.
	Operator string
	// ReadOnly refuses every write action on every store.
	ReadOnly bool
	// Now is the wall clock; default time.Now.
	Now func() time.Time
	// Thresholds tune the skewed flag; the zero value means
	// lease.DefaultThresholds().
	Thresholds lease.Thresholds
	// ActionTimeout is how long an operator action may run, from enter to
	// its outcome, before the console gives up on it (a write in doubt is
	// then read back, within the backend's own bound); the dialog counts
	// it down. Zero means 15s, the command line's default --timeout.
	ActionTimeout time.Duration
	// Audit is the operator audit trail the audit view (L) shows and
	// reverts from; nil: no audit view.
	Audit AuditSource
	// Notices carries warnings from outside the console — the audit log's,
	// e.g. that it repaired a line cut short — shown in the status line as
	// they come; nil for none. Senders must not block on it.
	Notices <-chan string
}

// defaultOperator names an operator who gave no name, so that the console
// still opens.
const defaultOperator = "unknown"

// Model is the console's root model, the only tea.Model of the package.
type Model struct {
	opts   Options
	sess   *session
	clock  func() time.Time
	now    time.Time
	th     lease.Thresholds
	tick   time.Duration
	after  func(time.Duration, tea.Msg) tea.Cmd
	styles *Styles
	base   KeyMap // the bindings before enabling
	keys   KeyMap // base, enabled for the current screen

	width, height int

	srcs   []*storeState
	byName map[string]*storeState
	rows   *rowSet

	table  table
	pane   storesPane
	detail detail
	audit  auditView
	dialog dialog
	help   helpView
	status statusLine
	filter textinput.Model

	// screen is what is shown and what the keyboard drives.
	screen screen

	// keysAt is what the key map was last enabled for, and keysGen numbers
	// that key map; stylesGen numbers the styles (see cache.go).
	keysAt    keysState
	keysGen   uint64
	stylesGen uint64
	// frame caches the screen behind an open dialog, chrome the lines
	// around the body.
	frame  *frameCache
	chrome *chromeCache
}

// Defaults before the terminal reports its size.
const (
	defaultWidth  = 100
	defaultHeight = 30
)

// New returns the console for opts. Nothing is dialled until the program
// runs Init's commands.
func New(opts Options) Model {
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	th := opts.Thresholds
	if th == (lease.Thresholds{}) {
		th = lease.DefaultThresholds()
	}
	styles := new(NewStyles(true))
	keys := DefaultKeyMap()
	m := Model{
		opts:   opts,
		sess:   newSession(),
		clock:  clock,
		now:    clock(),
		th:     th,
		tick:   time.Second,
		after:  after,
		styles: styles,
		base:   keys,
		keys:   keys,
		byName: make(map[string]*storeState),
		rows:   newRowSet(th),
		table:  newTable(styles, keys, th),
		pane:   newStoresPane(styles),
		help:   newHelpView(styles),
		status: statusLine{styles: styles},
		frame:  &frameCache{},
		chrome: &chromeCache{},

		stylesGen: nextGen(),
	}
	m.detail = newDetail(styles, keys, th, time.Local)
	m.audit = newAuditView(styles, keys, th, time.Local)
	m.help.audit = opts.Audit != nil
	m.filter = textinput.New()
	m.filter.Prompt = "/ "
	m.filter.Placeholder = "key, holder, state or store"
	m.filter.CharLimit = 256
	m.filter.SetStyles(styles.Input)

	storeW := len("STORE")
	for _, src := range opts.Sources {
		s := &storeState{src: src, readOnly: opts.ReadOnly || src.ReadOnly, gen: 1}
		m.srcs = append(m.srcs, s)
		m.byName[src.Name] = s
		storeW = max(storeW, len([]rune(src.Name)))
	}
	m.table.storeWidth = min(storeW, 16)
	if len(m.srcs) == 0 {
		m.status.Set(statusWarn, "no stores configured")
	}
	m.table.SetNow(m.now)
	m.setSize(defaultWidth, defaultHeight)
	m.syncStores()
	m.syncKeys()
	return m
}

// Init dials every store and starts the clock.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, m.tickCmd(), noticeCmd(m.opts.Notices)}
	for _, s := range m.srcs {
		cmds = append(cmds, connectCmd(m.sess, s.src, s.gen))
	}
	return tea.Batch(cmds...)
}

// setLocation sets the zone the detail view shows local times in.
func (m *Model) setLocation(loc *time.Location) { m.detail.loc, m.audit.loc = loc, loc }

// Close ends every watch and closes every store the console opened. Call it
// once the program has returned.
func (m Model) Close() error { return m.sess.close() }

// tickCmd schedules the next re-render of the countdowns.
func (m Model) tickCmd() tea.Cmd {
	if m.tick <= 0 {
		return nil
	}
	return m.after(m.tick, tickMsg{})
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.now = m.clock()
	m.table.SetNow(m.now)
	// Rows whose classification the clock changed (an expiry passed) are
	// classified again here, at the first message after, so that what the
	// table sorts and shows is the state at this clock; a frame does not
	// classify anything.
	if m.rows.tick(m.now) {
		m.table.refresh(m.rows)
	}
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
	case tea.BackgroundColorMsg:
		m.setStyles(NewStyles(msg.IsDark()))
	case tickMsg:
		m.detail.SetNow(m.now)
		if m.screen.audit() {
			m.audit.SetNow(m.now)
		}
		if m.screen.dialog() {
			m.dialog.SetNow(m.now)
		}
		cmd = m.tickCmd()
	case noticeMsg:
		m.status.Set(statusWarn, msg.text)
		cmd = noticeCmd(m.opts.Notices)
	case connectedMsg:
		cmd = m.onConnected(msg)
	case connectFailedMsg:
		cmd = m.onConnectFailed(msg)
	case retryMsg:
		cmd = m.onRetry(msg)
	case watchStartedMsg:
		cmd = m.onWatchStarted(msg)
	case eventsMsg:
		cmd = m.onEvents(msg)
	case listedMsg:
		cmd = m.onListed(msg)
	case historyMsg:
		m.onHistory(msg)
	case auditLoadedMsg:
		m.onAuditLoaded(msg)
	case dialogSubmitMsg:
		cmd = m.onSubmit(msg)
	case actionDoneMsg:
		cmd = m.onActionDone(msg)
	case tea.KeyPressMsg:
		cmd = m.onKey(msg)
	case tea.PasteMsg:
		cmd = m.onPaste(msg)
	}
	switch msg.(type) {
	case tea.KeyPressMsg, tea.PasteMsg:
		// A key changes no store (r re-lists and says so itself): the
		// stores pane stays as it is, as cheap to draw as before.
	default:
		m.syncStores()
	}
	m.syncKeys()
	m.syncDialogMark()
	return m, cmd
}

// syncStores hands the stores' state to the stores pane.
func (m *Model) syncStores() {
	m.syncMarks()
	m.pane.SetStores(m.storeLines(), m.now)
}

// setSize lays the screen out.
func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	l := m.layout()
	m.pane.SetSize(m.width, l.stores)
	m.status.SetSize(m.width, 1)
	m.help.SetSize(m.width, l.body)
	m.filter.SetWidth(min(max(m.width-30, 10), 60))
	m.table.SetSize(m.width, l.body)
	m.detail.SetSize(m.width, l.body)
	m.audit.SetSize(m.width, l.body)
	if m.screen.dialog() {
		m.dialog.SetSize(m.width, m.height)
	}
}

// layout is how the lines of the screen are shared out.
type layout struct {
	title  bool
	stores int // lines of the stores pane: all of them, 1 (a summary) or 0
	filter bool
	status bool
	help   bool
	// body is the lines of the table (its column header included), the
	// details or the full help.
	body int
}

// minBody is the body a layout gives way for: the table's column header
// and one lease.
const minBody = 2

// layout shares the screen's lines out. Until the body has minBody lines,
// the parts give way in this order: the stores pane shrinks to a one-line
// summary, then goes; the key help goes (? still opens the full help); the
// header goes. Below that the table shows a lease without its column
// header, and the status line goes last — after the filter line, unless
// the filter is being typed. So at least one lease shows in any pane.
func (m Model) layout() layout {
	l := layout{title: true, stores: min(len(m.srcs), maxStoreLines), filter: m.filterShown(), status: true, help: true}
	free := func() int {
		n := m.height - l.stores
		for _, on := range []bool{l.title, l.filter, l.status, l.help} {
			if on {
				n--
			}
		}
		return n
	}
	for _, giveWay := range []func(){
		func() { l.stores = min(l.stores, 1) },
		func() { l.stores = 0 },
		func() { l.help = false },
		func() { l.title = false },
	} {
		if free() >= minBody {
			break
		}
		giveWay()
	}
	last := []*bool{&l.filter, &l.status}
	if m.screen == screenFilter {
		last = []*bool{&l.status, &l.filter}
	}
	for _, on := range last {
		if free() < 1 {
			*on = false
		}
	}
	l.body = max(free(), 1)
	return l
}

// setStyles restyles every component: they share m.styles, so the new
// styles are copied into it and the derived state is rebuilt.
func (m *Model) setStyles(s Styles) {
	*m.styles = s
	m.stylesGen = nextGen()
	m.table.SetStyles(m.styles)
	m.detail.render()
	m.audit.SetStyles(m.styles)
	if m.dialog.styles != nil {
		m.dialog.SetStyles(m.styles)
	}
	m.help.SetStyles(m.styles)
	m.pane.SetStyles(m.styles)
	m.filter.SetStyles(s.Input)
}

// filterShown reports whether the footer shows the table's filter line:
// while it is typed, and while a filter is kept, except under the audit
// log, which shows its own.
func (m Model) filterShown() bool {
	return m.screen == screenFilter || (m.table.filter != "" && !m.screen.audit())
}

// storeLines summarises the stores for the stores pane.
func (m Model) storeLines() []storeLine {
	out := make([]storeLine, len(m.srcs))
	for i, s := range m.srcs {
		out[i] = storeLine{
			name: s.src.Name, kind: s.src.Kind, readOnly: s.readOnly,
			conn: s.conn, err: s.err, keys: m.rows.count[s.src.Name],
			watch: s.watching, lastUpdate: s.lastUpdate, retryAt: s.retryAt,
			color: s.src.Color, production: s.src.Production, stale: s.staleSince,
		}
	}
	return out
}
