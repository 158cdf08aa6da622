package tui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// callTimeout bounds each call the console makes to a backend to connect,
// list or read a history, like the command line's default --timeout, so that
// a hung store shows an error instead of a spinner forever. It is also the
// default of Options.ActionTimeout. The backend bounds each store call of an
// action itself (see Backend).
const callTimeout = 15 * time.Second

// eventBatch is the most watch events applied in one Update: the table index
// is rebuilt once per batch, not once per event, so a burst (a snapshot of
// 100,000 keys) costs a few rebuilds.
const eventBatch = 1024

// Messages. Every result of I/O reaches the model as one of these.
type (
	// tickMsg re-renders the countdowns once a second.
	tickMsg struct{}

	// noticeMsg carries one warning from Options.Notices.
	noticeMsg struct{ text string }

	// connectedMsg reports that a store was reached.
	connectedMsg struct {
		store   string
		gen     int
		backend Backend
	}
	// connectFailedMsg reports that reaching a store failed.
	connectFailedMsg struct {
		store string
		gen   int
		err   error
	}
	// retryMsg asks to retry whatever last failed for a store.
	retryMsg struct {
		store string
		gen   int
	}
	// watchStartedMsg carries a new watch channel, or why there is none
	// (errors.ErrUnsupported: the store cannot be watched).
	watchStartedMsg struct {
		store    string
		watchGen int
		events   <-chan stores.Event
		err      error
	}
	// eventsMsg carries a batch of watch events; closed reports that the
	// channel was closed after them.
	eventsMsg struct {
		store    string
		watchGen int
		events   []stores.Event
		closed   bool
	}
	// listedMsg carries a listing of a store, requested when the row set
	// was at sequence since.
	listedMsg struct {
		store   string
		gen     int
		since   uint64
		entries []stores.Entry
		err     error
	}
	// actionDoneMsg carries the outcome of an operator action, and why its
	// context ended before it did, if it did.
	actionDoneMsg struct {
		act   action
		res   lease.Result
		err   error
		ended actionEnd
	}
	// historyMsg carries the history of a key, oldest first.
	historyMsg struct {
		store, key string
		entries    []stores.Entry
		err        error
	}
	// dialogSubmitMsg is sent by a dialog whose fields are valid; id
	// names the dialog, so that a submit that arrives after the dialog
	// was closed (esc) starts nothing.
	dialogSubmitMsg struct {
		id    uint64
		store string
		req   lease.Request
	}
)

// action is an operator action as the console dispatched it.
type action struct {
	store string
	// req is the request, with the revision on screen as Seen.
	req lease.Request
	// since is the row set's sequence when the action was dispatched:
	// a row changed after it is newer than anything the action can report.
	since uint64
	// run is the console's handle on the action while it runs.
	run *actionRun
}

// actionRun is the console's handle on one operator action in flight: when
// it gives up, and how to abandon it. Only Update touches it; the command
// that runs the action holds the context it cancels.
type actionRun struct {
	// cancel ends the action's context with errAbandoned: the lease core
	// then sends nothing more, and cancels a call in flight.
	cancel context.CancelCauseFunc
	// timeout is the action's overall time limit, deadline when it ends
	// on the console's clock (the context's own runs on the real one).
	timeout  time.Duration
	deadline time.Time
	// abandoned is set when the operator pressed esc.
	abandoned bool
}

// actionEnd is why an action's context ended before the action did.
type actionEnd int

const (
	// endNone: the action ran to its end.
	endNone actionEnd = iota
	// endAbandoned: the operator abandoned it (esc).
	endAbandoned
	// endGaveUp: it reached its deadline.
	endGaveUp
)

// errAbandoned and errGaveUp are the causes an action's context ends with.
var (
	errAbandoned = errors.New("tui: abandoned by the operator")
	errGaveUp    = errors.New("tui: the action's time limit passed")
)

// connectCmd reaches src.
func connectCmd(sess *session, src Source, gen int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		b, closer, err := src.Connect(ctx)
		if err == nil && b == nil {
			err = errors.New("tui: Connect returned no backend")
		}
		if err != nil {
			return connectFailedMsg{store: src.Name, gen: gen, err: err}
		}
		sess.track(closer)
		return connectedMsg{store: src.Name, gen: gen, backend: b}
	}
}

// watchCmd starts watching a store.
func watchCmd(sess *session, b Backend, store string, watchGen int) tea.Cmd {
	return func() tea.Msg {
		ch, err := b.Watch(sess.ctx)
		return watchStartedMsg{store: store, watchGen: watchGen, events: ch, err: err}
	}
}

// batchWait is how long a batch of watch events stays open after its first
// event for more to come. Bubble Tea renders the whole screen after every
// message, so a batch per event would cost a frame per event: a driver that
// hands events over one at a time (an unbuffered channel, a snapshot decoded
// as it arrives) would sync 100,000 keys in tens of seconds. Waiting a few
// milliseconds, well under a frame (1/60 s), makes the batches independent
// of how the driver sends; a lone change reaches the screen at most this much
// later.
const batchWait = 4 * time.Millisecond

// nextEventsCmd waits for the next watch event, then keeps taking events
// until eventBatch of them or until batchWait has passed since the first.
// The model re-arms it after each batch.
func nextEventsCmd(ch <-chan stores.Event, store string, watchGen int) tea.Cmd {
	return func() tea.Msg {
		msg := eventsMsg{store: store, watchGen: watchGen}
		ev, ok := <-ch
		if !ok {
			msg.closed = true
			return msg
		}
		msg.events = append(msg.events, ev)
		first := time.Now()
		var deadline <-chan time.Time
		for len(msg.events) < eventBatch {
			// What is queued comes first; the timer is set only when
			// the channel runs dry, so a full buffer costs no timer.
			select {
			case ev, ok := <-ch:
				if !ok {
					msg.closed = true
					return msg
				}
				msg.events = append(msg.events, ev)
				continue
			default:
			}
			if deadline == nil {
				t := time.NewTimer(batchWait - time.Since(first))
				defer t.Stop()
				deadline = t.C
			}
			select {
			case ev, ok := <-ch:
				if !ok {
					msg.closed = true
					return msg
				}
				msg.events = append(msg.events, ev)
			case <-deadline:
				return msg
			}
		}
		return msg
	}
}

// listCmd lists a store.
func listCmd(sess *session, b Backend, store string, gen int, since uint64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := b.List(ctx)
		return listedMsg{store: store, gen: gen, since: since, entries: entries, err: err}
	}
}

// actionCmd runs an operator action under ctx, which ends at the action's
// deadline, when the operator abandons it and when the console quits; stop
// releases it. Cancelling ctx makes the lease core send nothing more and
// cancel a call in flight; a write whose answer was lost is read back before
// the outcome is reported. The session waits for the command before it
// closes the stores, so that the audit trail gets the outcome even when the
// console quits.
func actionCmd(ctx context.Context, stop context.CancelFunc, sess *session, b Backend, act action) tea.Cmd {
	return func() tea.Msg {
		defer stop()
		if !sess.begin() {
			return actionDoneMsg{act: act, err: errors.New("tui: the console is closing"), ended: endAbandoned}
		}
		defer sess.end()
		res, err := b.Do(ctx, act.req)
		msg := actionDoneMsg{act: act, res: res, err: err}
		switch context.Cause(ctx) {
		case errAbandoned:
			msg.ended = endAbandoned
		case errGaveUp:
			msg.ended = endGaveUp
		}
		return msg
	}
}

// historyCmd reads the history of a key.
func historyCmd(sess *session, b Backend, store, key string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := b.History(ctx, key)
		return historyMsg{store: store, key: key, entries: entries, err: err}
	}
}

// after returns a command that delivers msg after d.
func after(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}

// noticeCmd waits for the next warning on ch; the model re-arms it after
// each one. It is nil (no command) when ch is nil, and ends when ch is
// closed.
func noticeCmd(ch <-chan string) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		text, ok := <-ch
		if !ok {
			return nil
		}
		return noticeMsg{text: text}
	}
}
