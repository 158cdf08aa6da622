package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// callTimeout bounds each store call the console makes (connect, list,
// action, history), like the CLI's default --timeout, so a hung store shows
// an error instead of a spinner forever.
const callTimeout = 15 * time.Second

// eventBatch is the most watch events applied in one Update: the table index
// is rebuilt once per batch, not once per event, so a burst (a snapshot of
// 100,000 keys) costs a few rebuilds.
const eventBatch = 1024

// Messages. Every result of I/O reaches the model as one of these.
type (
	// tickMsg re-renders the countdowns once a second.
	tickMsg struct{}

	// connectedMsg reports that a store was dialled.
	connectedMsg struct {
		store string
		gen   int
		st    stores.Store
		op    *lease.Operator
		hist  historian
	}
	// connectFailedMsg reports that dialling a store failed.
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
	// watchStartedMsg carries a new watch channel.
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
	// actionDoneMsg carries the outcome of an operator action.
	actionDoneMsg struct {
		req actionRequest
		out lease.Result
		err error
	}
	// historyMsg carries the history of a key.
	historyMsg struct {
		store, key string
		entries    []stores.Entry
		err        error
	}
	// dialogSubmitMsg is sent by a dialog whose fields are valid.
	dialogSubmitMsg struct{ req actionRequest }
)

// actionRequest is one operator action, fully specified by what the operator
// saw and typed.
type actionRequest struct {
	action     lease.Action
	store, key string
	ttl        time.Duration
	reason     string
	// rev is the revision on screen: every write is a CAS against it.
	rev uint64
}

// operatorConfig is what every store's lease.Operator is built with.
type operatorConfig struct {
	name string
	opts []lease.OperatorOption
}

// connectCmd dials src and builds its operator.
func connectCmd(sess *session, src Source, readOnly bool, oc operatorConfig, gen int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		st, closer, err := src.Connect(ctx)
		if err == nil && st == nil {
			err = errors.New("tui: Connect returned no store")
		}
		if err != nil {
			return connectFailedMsg{store: src.Name, gen: gen, err: err}
		}
		sess.track(closer)
		// Look for the optional capabilities before the read-only wrapper
		// hides them.
		hist, _ := st.(historian)
		if readOnly {
			st = stores.ReadOnly(st)
		}
		op, err := lease.NewOperator(st, src.Name, oc.name, oc.opts...)
		if err != nil {
			return connectFailedMsg{store: src.Name, gen: gen, err: err}
		}
		return connectedMsg{store: src.Name, gen: gen, st: st, op: op, hist: hist}
	}
}

// watchCmd starts watching a store.
func watchCmd(sess *session, w stores.Watcher, store, prefix string, watchGen int) tea.Cmd {
	return func() tea.Msg {
		ch, err := w.Watch(sess.ctx, prefix)
		return watchStartedMsg{store: store, watchGen: watchGen, events: ch, err: err}
	}
}

// nextEventsCmd waits for the next watch event and takes whatever else is
// already queued, up to eventBatch. The model re-arms it after each batch.
func nextEventsCmd(ch <-chan stores.Event, store string, watchGen int) tea.Cmd {
	return func() tea.Msg {
		msg := eventsMsg{store: store, watchGen: watchGen}
		ev, ok := <-ch
		if !ok {
			msg.closed = true
			return msg
		}
		msg.events = append(msg.events, ev)
		for len(msg.events) < eventBatch {
			select {
			case ev, ok := <-ch:
				if !ok {
					msg.closed = true
					return msg
				}
				msg.events = append(msg.events, ev)
			default:
				return msg
			}
		}
		return msg
	}
}

// listCmd lists a store.
func listCmd(sess *session, st stores.Store, store, prefix string, gen int, since uint64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := st.List(ctx, prefix)
		return listedMsg{store: store, gen: gen, since: since, entries: entries, err: err}
	}
}

// actionCmd runs an operator action through the lease core.
func actionCmd(sess *session, op *lease.Operator, req actionRequest) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		var (
			out lease.Result
			err error
		)
		switch req.action {
		case lease.ActionAcquire:
			out, err = op.Acquire(ctx, req.key, req.ttl)
		case lease.ActionTakeover:
			out, err = op.Takeover(ctx, req.key, req.ttl, req.reason, req.rev)
		case lease.ActionRelease:
			out, err = op.Release(ctx, req.key, req.reason, req.rev)
		default:
			err = fmt.Errorf("tui: unknown action %v", req.action)
		}
		return actionDoneMsg{req: req, out: out, err: err}
	}
}

// historyCmd reads the history of a key.
func historyCmd(sess *session, h historian, store, key string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := h.History(ctx, key)
		return historyMsg{store: store, key: key, entries: entries, err: err}
	}
}

// after returns a command that delivers msg after d.
func after(d time.Duration, msg tea.Msg) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return msg })
}
