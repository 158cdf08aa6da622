package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timetext"
)

// actionWords are the words the console shows for an operator action.
type actionWords struct {
	title  string // the dialog's title
	danger bool   // the title is shown as a warning
	verb   string // what enter does, in the help line
	done   string // what was done, in the outcome
}

// wordsFor returns the words of action.
func wordsFor(action lease.Action) actionWords {
	switch action {
	case lease.ActionTakeover:
		return actionWords{title: "FORCE TAKEOVER", danger: true, verb: "take over", done: "took over"}
	case lease.ActionRelease:
		return actionWords{title: "RELEASE", danger: true, verb: "release", done: "released"}
	case lease.ActionRevert:
		return actionWords{title: "REVERT", danger: true, verb: "revert", done: "reverted"}
	}
	return actionWords{title: "ACQUIRE", verb: "acquire", done: "acquired"}
}

// target is the lease an action key acts on: the one in the detail view, or
// the selected row. It carries what the operator sees, revision included.
type target struct {
	store string
	entry stores.Entry
	found bool
}

func (m Model) target() (target, bool) {
	if m.screen.audit() {
		return m.auditTarget()
	}
	if m.screen.detail() {
		return target{m.detail.store, m.detail.entry, m.detail.found}, true
	}
	r, ok := m.table.Selected()
	if !ok {
		return target{}, false
	}
	return target{r.store, r.entry, true}, true
}

// blocked says why action cannot run on the target now, "" when it can.
func (m Model) blocked(action lease.Action) string {
	if action == lease.ActionRevert {
		return m.revertBlocked()
	}
	t, ok := m.target()
	if !ok {
		return "no lease selected"
	}
	if why := m.storeBlocked(t.store); why != "" {
		return why
	}
	if action == lease.ActionRelease {
		if err := lease.CheckReleasable(lease.Observe(t.store, t.entry, t.found, m.now, m.th)); err != nil {
			return err.Error()
		}
	}
	return ""
}

// storeBlocked says why no action can write to the store named name now,
// "" when one can.
func (m Model) storeBlocked(name string) string {
	s, ok := m.byName[name]
	switch {
	case !ok:
		return fmt.Sprintf("store %s is not in this console", safetext.Clean(name))
	case m.opts.ReadOnly:
		return "leasectl runs read-only (--read-only or read_only in the config)"
	case s.src.ReadOnly:
		return fmt.Sprintf("store %s is read-only (read_only in the config)", s.src.Name)
	case s.backend == nil:
		return fmt.Sprintf("store %s is not connected", s.src.Name)
	}
	return ""
}

// openDetail opens the detail view of the selected row and fetches its
// history.
func (m *Model) openDetail() tea.Cmd {
	r, ok := m.table.Selected()
	if !ok {
		return nil
	}
	s := m.byName[r.store]
	m.detail.SetNow(m.now)
	m.detail.open(r.store, s.src.Kind, r.entry, true, s.noHistory)
	m.screen = screenDetail
	return m.historyCmd(r.store, r.entry.Key)
}

// openAction opens the dialog of action on the target.
func (m *Model) openAction(action lease.Action) tea.Cmd {
	t, ok := m.target()
	if !ok {
		return nil
	}
	if why := m.blocked(action); why != "" {
		m.status.Set(statusWarn, "refused: "+why+"; nothing was written")
		return nil
	}
	s := m.byName[t.store]
	m.dialog = newDialog(m.styles, m.keys, m.th, m.now, action, t.store, t.entry, t.found, s.backend.Holder())
	m.dialog.SetSize(m.width, m.height)
	m.screen = m.screen.withDialog()
	return nil
}

// actionTimeout is how long an action may run before the console gives up
// on it.
func (m Model) actionTimeout() time.Duration {
	if m.opts.ActionTimeout > 0 {
		return m.opts.ActionTimeout
	}
	return callTimeout
}

// onSubmit runs a validated action through the store's backend, under a
// context that ends at the action's deadline or when the operator abandons
// it (esc), and shows the deadline in the dialog.
func (m *Model) onSubmit(msg dialogSubmitMsg) tea.Cmd {
	req := msg.req
	s, ok := m.byName[msg.store]
	switch {
	case !ok || !m.screen.dialog() || m.dialog.id != msg.id || m.dialog.run != nil:
		return nil // the dialog was closed meanwhile: nothing starts
	case m.opts.ReadOnly || s.src.ReadOnly || s.backend == nil:
		m.screen = m.screen.base()
		m.status.Set(statusWarn, "refused: "+m.blocked(req.Action)+"; nothing was written")
		return nil
	}
	timeout := m.actionTimeout()
	ctx, cancel := context.WithCancelCause(m.sess.ctx)
	ctx, stop := context.WithTimeoutCause(ctx, timeout, errGaveUp)
	run := &actionRun{cancel: cancel, timeout: timeout, deadline: m.now.Add(timeout)}
	m.dialog.SetNow(m.now)
	m.dialog.SetRun(run)
	m.status.Set(statusInfo, fmt.Sprintf("%s %s/%s at revision %d…", req.Action, msg.store, safetext.Key(req.Key), req.Seen))
	release := func() {
		stop()
		cancel(nil)
	}
	return actionCmd(ctx, release, m.sess, s.backend, action{store: msg.store, req: req, since: m.rows.seq, run: run})
}

// abandon abandons the action run (esc): nothing more is sent, a call in
// flight is cancelled, and its outcome, which the lease core learns and
// audits, is reported when it comes.
func (m *Model) abandon(run *actionRun) {
	run.abandoned = true
	run.cancel(errAbandoned)
	d := m.dialog
	m.status.Set(statusWarn, fmt.Sprintf("abandoning %s %s/%s: nothing more is sent; learning whether anything was written…",
		d.action, d.store, d.entry.Key))
}

// onActionDone reports an action's outcome in the status line and shows
// the state it left (or found) in the row. The dialog closes if it is still
// the one of this action.
func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	act, res, err := msg.act, msg.res, msg.err
	if m.screen.dialog() && m.dialog.run == act.run {
		m.screen = m.screen.base()
	}
	req := act.req
	where := act.store + "/" + safetext.Key(req.Key)
	now := lease.UnixSeconds(m.now)

	// An audit failure after the store action ran is reported on top of the
	// action's own outcome.
	auditNote := ""
	ae, audit := errors.AsType[*lease.AuditError](err)
	if audit && ae.Ran {
		auditNote = fmt.Sprintf(" — and the audit log lacks its result: %v", ae.Err)
	}
	// stopped says how the action was stopped before it ended, if it was.
	stopped := ""
	switch {
	case msg.ended == endAbandoned || (act.run != nil && act.run.abandoned):
		stopped = fmt.Sprintf("%s %s abandoned", req.Action, where)
	case msg.ended == endGaveUp:
		stopped = fmt.Sprintf("%s %s gave up after %s", req.Action, where, act.run.timeout)
	}
	ce, changed := errors.AsType[*lease.ChangedError](err)
	var cmd tea.Cmd
	switch {
	case audit && !ae.Ran:
		m.status.Set(statusError, fmt.Sprintf("refused: audit log not writable; nothing was written (%s %s: %v)", req.Action, where, ae.Err))
	case changed && req.Action == lease.ActionRevert:
		cmd = m.applyObservation(act, ce.Current)
		m.status.Set(statusWarn, fmt.Sprintf("refused: the key changed since: %s is now %s (revision %d, the action wrote %d); nothing was written%s",
			where, describe(ce.Current.Status), ce.Current.Revision(), ce.Seen, auditNote))
	case changed:
		cmd = m.applyObservation(act, ce.Current)
		m.status.Set(statusWarn, fmt.Sprintf("changed since you looked: %s is now %s (revision %d, you saw %d); nothing was written%s",
			where, describe(ce.Current.Status), ce.Current.Revision(), ce.Seen, auditNote))
	case errors.Is(err, lease.ErrHeld):
		if res.Before.Found {
			cmd = m.applyObservation(act, res.Before)
		}
		text := fmt.Sprintf("lost: %s is held", where)
		if st := res.Before.Status; st.State == lease.Held {
			text = fmt.Sprintf("lost: %s is %s, %s", where, describe(st), timetext.Countdown(now, st.Record.ExpiresAtUnix))
		}
		m.status.Set(statusWarn, text+"; nothing was written"+auditNote)
	case errors.Is(err, stores.ErrReadOnly):
		m.status.Set(statusWarn, fmt.Sprintf("refused: store %s is read-only; nothing was written", act.store))
	case res.Outcome == lease.OutcomeCancelled:
		m.status.Set(statusWarn, fmt.Sprintf("%s: nothing was written%s", orText(stopped, fmt.Sprintf("%s %s abandoned", req.Action, where)), auditNote))
	case res.Outcome == lease.OutcomeUnknown:
		cmd = m.applyObservation(act, res.After)
		m.status.Set(statusError, fmt.Sprintf("%s: not known whether it landed — check the key (last read: %s)%s: %v",
			orText(stopped, fmt.Sprintf("%s %s", req.Action, where)), lastRead(res.After), auditNote, err))
	case err != nil && !res.Outcome.Wrote():
		cmd = m.applyObservation(act, res.After)
		m.status.Set(statusError, fmt.Sprintf("%s failed, nothing was written: %v", orText(stopped, fmt.Sprintf("%s %s", req.Action, where)), err))
	case err != nil:
		cmd = m.applyObservation(act, res.After)
		m.status.Set(statusError, fmt.Sprintf("%s %s: written at revision %d, but: %v", req.Action, where, res.Revision, err))
	case stopped != "":
		cmd = m.applyObservation(act, res.After)
		r := res.After.Status.Record
		m.status.Set(statusWarn, fmt.Sprintf("%s, but the write had landed before it could be stopped: revision %d, %s",
			stopped, res.Revision, describeWritten(req.Action, r, now)))
	case req.Action == lease.ActionRevert:
		cmd = m.applyObservation(act, res.After)
		m.status.Set(statusOK, fmt.Sprintf("won: reverted %s to the value before that action: revision %d, %s",
			where, res.Revision, describe(res.After.Status)))
	case req.Action == lease.ActionRelease:
		cmd = m.applyObservation(act, res.After)
		m.status.Set(statusOK, fmt.Sprintf("released %s: tombstone at revision %d; the fleet's next trigger wins", where, res.Revision))
	default:
		cmd = m.applyObservation(act, res.After)
		r := res.After.Status.Record
		m.status.Set(statusOK, fmt.Sprintf("won: %s %s at revision %d, held by %s until %s (%s)",
			wordsFor(req.Action).done, where, res.Revision, r.HolderID, timetext.Clock(r.ExpiresAtUnix), timetext.Countdown(now, r.ExpiresAtUnix)))
	}
	if m.screen.audit() {
		// The action is in the log now: show it.
		cmd = tea.Batch(cmd, m.loadAudit())
	}
	return cmd
}

// orText returns s, or alt when s is empty.
func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// lastRead describes what the action last read of the key: its state and
// revision.
func lastRead(o lease.Observation) string {
	if !o.Found {
		return "absent"
	}
	return fmt.Sprintf("%s at revision %d", describe(o.Status), o.Revision())
}

// describeWritten describes what an action wrote: a tombstone, or its
// holder's record.
func describeWritten(action lease.Action, r lease.Record, now uint64) string {
	if action == lease.ActionRelease {
		return "a tombstone"
	}
	return fmt.Sprintf("held by %s until %s (%s)", safetext.Clean(r.HolderID), timetext.Clock(r.ExpiresAtUnix), timetext.Countdown(now, r.ExpiresAtUnix))
}

// applyObservation shows what an action saw or wrote in the rows, marked as
// changed. Like every path that changes rows, it never replaces a newer row:
// a found entry goes through the revision check of rowSet.put, and an
// absence removes only a row that is no newer than what the operator saw and
// has not changed since the action was dispatched — a watch event or a
// listing may have brought a newer row in the meantime.
func (m *Model) applyObservation(act action, o lease.Observation) tea.Cmd {
	if o.Key == "" {
		return nil
	}
	if o.Found {
		m.rows.put(act.store, o.Entry, m.now, true)
	} else {
		m.rows.delStale(act.store, o.Key, act.since, act.req.Seen)
	}
	if s, ok := m.byName[act.store]; ok {
		s.lastUpdate = m.now
	}
	return m.rowsChanged()
}
