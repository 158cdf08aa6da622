package tui

import (
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// target is the lease an action key acts on: the one in the detail view, or
// the selected row. It carries what the operator sees, revision included.
type target struct {
	store string
	entry stores.Entry
	found bool
}

func (m Model) target() (target, bool) {
	if m.showDetail {
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
	t, ok := m.target()
	if !ok {
		return "no lease selected"
	}
	s, ok := m.byName[t.store]
	switch {
	case !ok:
		return fmt.Sprintf("unknown store %q", t.store)
	case m.opts.ReadOnly:
		return "leasectl runs read-only (--read-only or read_only in the config)"
	case s.src.ReadOnly:
		return fmt.Sprintf("store %s is read-only (read_only in the config)", s.src.Name)
	case s.op == nil:
		return fmt.Sprintf("store %s is not connected", s.src.Name)
	case action == lease.ActionRelease && !t.found:
		return "nothing to release: the key is absent"
	}
	return ""
}

// openDetail opens the detail view of the selected row and fetches its
// history when the store keeps one.
func (m *Model) openDetail() tea.Cmd {
	r, ok := m.table.Selected()
	if !ok {
		return nil
	}
	s := m.byName[r.store]
	hasHist := s != nil && s.hist != nil
	m.detail.SetNow(m.now)
	m.detail.open(r.store, r.entry, true, hasHist)
	m.showDetail = true
	if !hasHist {
		return nil
	}
	return historyCmd(m.sess, s.hist, r.store, r.entry.Key)
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
	m.dialog = newDialog(m.styles, m.keys, m.th, m.loc, m.now, action, t.store, t.entry, t.found, s.op)
	m.dialog.SetSize(m.width, m.height)
	m.showDialog = true
	return nil
}

// onSubmit runs a validated action through the store's lease.Operator.
func (m *Model) onSubmit(msg dialogSubmitMsg) tea.Cmd {
	req := msg.req
	s, ok := m.byName[req.store]
	switch {
	case !ok || !m.showDialog:
		return nil
	case m.opts.ReadOnly || s.src.ReadOnly || s.op == nil:
		m.showDialog = false
		m.status.Set(statusWarn, "refused: "+m.blocked(req.action)+"; nothing was written")
		return nil
	}
	m.status.Set(statusInfo, fmt.Sprintf("%s %s/%s at revision %d…", req.action, req.store, req.key, req.rev))
	return actionCmd(m.sess, s.op, req)
}

// onActionDone reports an action's outcome in the status line and shows
// the state it left (or found) in the row.
func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	m.showDialog = false
	req, out, err := msg.req, msg.out, msg.err
	where := req.store + "/" + req.key
	now := lease.UnixSeconds(m.now)

	// An audit failure after the store action ran is reported on top of the
	// action's own outcome.
	auditNote := ""
	ae, audit := errors.AsType[*lease.AuditError](err)
	if audit && ae.Ran {
		auditNote = fmt.Sprintf(" — and the audit log lacks its result: %v", ae.Err)
	}
	ce, changed := errors.AsType[*lease.ChangedError](err)
	var cmd tea.Cmd
	switch {
	case audit && !ae.Ran:
		m.status.Set(statusError, fmt.Sprintf("refused: audit log not writable; nothing was written (%s %s: %v)", req.action, where, ae.Err))
	case changed:
		cmd = m.applyObservation(ce.Current)
		m.status.Set(statusWarn, fmt.Sprintf("changed since you looked: %s is now %s (revision %d, you saw %d); nothing was written%s",
			where, describe(ce.Current.Status), ce.Current.Revision(), ce.Seen, auditNote))
	case errors.Is(err, lease.ErrHeld):
		if out.Before.Found {
			cmd = m.applyObservation(out.Before)
		}
		text := fmt.Sprintf("lost: %s is held", where)
		if st := out.Before.Status; st.State == lease.Held {
			text = fmt.Sprintf("lost: %s is %s, %s", where, describe(st), countdown(now, st.Record.ExpiresAtUnix))
		}
		m.status.Set(statusWarn, text+"; nothing was written"+auditNote)
	case errors.Is(err, stores.ErrReadOnly):
		m.status.Set(statusWarn, fmt.Sprintf("refused: store %s is read-only; nothing was written", req.store))
	case err != nil && out.Revision == 0:
		m.status.Set(statusError, fmt.Sprintf("%s %s failed: %v", req.action, where, err))
	case err != nil:
		cmd = m.applyObservation(out.After)
		m.status.Set(statusError, fmt.Sprintf("%s %s: written at revision %d, but: %v", req.action, where, out.Revision, err))
	default:
		cmd = m.applyObservation(out.After)
		switch req.action {
		case lease.ActionRelease:
			m.status.Set(statusOK, fmt.Sprintf("released %s: tombstone at revision %d; the fleet's next trigger wins", where, out.Revision))
		default:
			verb := "acquired"
			if req.action == lease.ActionTakeover {
				verb = "took over"
			}
			r := out.After.Status.Record
			m.status.Set(statusOK, fmt.Sprintf("won: %s %s at revision %d, held by %s until %s UTC (%s)",
				verb, where, out.Revision, r.HolderID, unixTime(r.ExpiresAtUnix).UTC().Format("15:04:05"), countdown(now, r.ExpiresAtUnix)))
		}
	}
	return cmd
}

// applyObservation shows what an action saw or wrote in the rows, marked as
// changed.
func (m *Model) applyObservation(o lease.Observation) tea.Cmd {
	if o.Store == "" || o.Key == "" {
		return nil
	}
	if o.Found {
		m.rows.put(o.Store, o.Entry, m.now, true)
	} else {
		m.rows.del(o.Store, o.Key, 0)
	}
	if s, ok := m.byName[o.Store]; ok {
		s.lastUpdate = m.now
	}
	return m.rowsChanged()
}
