package tui

import (
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/stores"
)

// errWatchEnded is shown when a store closes its watch channel while the
// console still runs.
var errWatchEnded = errors.New("tui: the watch ended; watching again")

// onConnected records a dialled store and starts following it.
func (m *Model) onConnected(msg connectedMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.gen != s.gen {
		return nil
	}
	s.store, s.op, s.hist = msg.st, msg.op, msg.hist
	s.attempt, s.err, s.retryAt = 0, nil, time.Time{}
	s.conn = connSyncing
	return m.startSync(s)
}

// startSync watches the store when it can, else lists it.
func (m *Model) startSync(s *storeState) tea.Cmd {
	if w, ok := s.store.(stores.Watcher); ok {
		s.watchGen++
		return watchCmd(m.sess, w, s.src.Name, s.src.Prefix, s.watchGen)
	}
	return listCmd(m.sess, s.store, s.src.Name, s.src.Prefix, s.gen, m.rows.seq)
}

// onConnectFailed shows the error and schedules a retry with backoff; the
// other stores keep working.
func (m *Model) onConnectFailed(msg connectFailedMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.gen != s.gen {
		return nil
	}
	return m.retryLater(s, msg.err)
}

// retryLater records a failure of s and schedules the next attempt.
func (m *Model) retryLater(s *storeState, err error) tea.Cmd {
	d := s.fail(err, m.now)
	return m.after(d, retryMsg{store: s.src.Name, gen: s.gen})
}

// onRetry retries whatever failed last: the dial, the watch or the listing.
func (m *Model) onRetry(msg retryMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.gen != s.gen || s.conn != connFailed {
		return nil
	}
	s.retryAt = time.Time{}
	if s.store == nil {
		s.gen++
		s.conn = connConnecting
		return connectCmd(m.sess, s.src, s.readOnly, m.oc, s.gen)
	}
	s.conn = connSyncing
	return m.startSync(s)
}

// onWatchStarted starts reading a new watch channel. A watch that replaces
// one that ended sweeps, at its EventSynced, the rows its snapshot did not
// mention: they were deleted while nobody watched.
func (m *Model) onWatchStarted(msg watchStartedMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.watchGen != s.watchGen {
		return nil
	}
	if msg.err != nil {
		return m.retryLater(s, msg.err)
	}
	s.watching, s.synced = true, false
	s.sweepSince, s.sweep = m.rows.seq, m.rows.count[s.src.Name] > 0
	s.events = msg.events
	return nextEventsCmd(s.events, s.src.Name, s.watchGen)
}

// onEvents applies a batch of watch events and re-arms the reader.
func (m *Model) onEvents(msg eventsMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.watchGen != s.watchGen {
		return nil
	}
	name := s.src.Name
	for _, ev := range msg.events {
		switch ev.Kind {
		case stores.EventPut:
			if m.rows.put(name, ev.Entry, m.now, s.synced) {
				s.lastUpdate = m.now
			}
			s.err = nil
		case stores.EventDelete:
			if m.rows.del(name, ev.Entry.Key, ev.Entry.Revision) {
				s.lastUpdate = m.now
			}
			s.err = nil
		case stores.EventSynced:
			if s.sweep {
				m.rows.sweep(name, s.sweepSince)
				s.sweep = false
			}
			s.synced, s.conn, s.err, s.attempt = true, connLive, nil, 0
			if s.lastUpdate.IsZero() {
				s.lastUpdate = m.now
			}
		case stores.EventReset:
			m.rows.dropStore(name)
			s.synced, s.conn = false, connSyncing
		case stores.EventError:
			s.err = ev.Err
			if s.err == nil {
				s.err = errors.New("tui: watch error")
			}
		}
	}
	cmd := m.rowsChanged()
	if msg.closed {
		s.watching, s.events = false, nil
		if m.sess.ctx.Err() != nil {
			return cmd
		}
		return tea.Batch(cmd, m.retryLater(s, errWatchEnded))
	}
	return tea.Batch(cmd, nextEventsCmd(s.events, name, s.watchGen))
}

// onListed applies a listing.
func (m *Model) onListed(msg listedMsg) tea.Cmd {
	s, ok := m.byName[msg.store]
	if !ok || msg.gen != s.gen {
		return nil
	}
	if msg.err != nil {
		if !s.synced && !s.watching {
			return m.retryLater(s, msg.err)
		}
		m.status.Set(statusError, fmt.Sprintf("store %s: re-list failed: %v", s.src.Name, msg.err))
		return nil
	}
	m.rows.replace(s.src.Name, msg.entries, msg.since, m.now, s.synced)
	if !s.watching {
		s.synced, s.conn, s.err, s.attempt = true, connLive, nil, 0
	}
	s.lastUpdate = m.now
	return m.rowsChanged()
}

// refreshAll re-lists every connected store now and redials the failed ones
// at once.
func (m *Model) refreshAll() tea.Cmd {
	var cmds []tea.Cmd
	for _, s := range m.srcs {
		switch {
		case s.store != nil:
			cmds = append(cmds, listCmd(m.sess, s.store, s.src.Name, s.src.Prefix, s.gen, m.rows.seq))
		case s.conn == connFailed:
			s.gen++
			s.conn, s.retryAt = connConnecting, time.Time{}
			cmds = append(cmds, connectCmd(m.sess, s.src, s.readOnly, m.oc, s.gen))
		}
	}
	m.status.Set(statusInfo, fmt.Sprintf("re-listing %d stores…", len(cmds)))
	return tea.Batch(cmds...)
}

// rowsChanged refreshes what shows the rows: the table's index (only if the
// rows changed) and the detail view of a lease that changed.
func (m *Model) rowsChanged() tea.Cmd {
	m.table.refresh(m.rows)
	if m.showDialog {
		r, ok := m.rows.get(m.dialog.store, m.dialog.entry.Key)
		m.dialog.stale = (ok && r.entry.Revision != m.dialog.entry.Revision) || (!ok && m.dialog.found)
	}
	if !m.showDetail {
		return nil
	}
	r, ok := m.rows.get(m.detail.store, m.detail.entry.Key)
	switch {
	case ok && (!m.detail.found || r.entry.Revision != m.detail.entry.Revision):
		m.detail.SetEntry(r.entry, true)
		return m.historyCmd(m.detail.store, r.entry.Key)
	case !ok && m.detail.found:
		m.detail.SetEntry(stores.Entry{Key: m.detail.entry.Key}, false)
	}
	return nil
}

// historyCmd fetches the history of a key when its store keeps one.
func (m *Model) historyCmd(store, key string) tea.Cmd {
	s, ok := m.byName[store]
	if !ok || s.hist == nil {
		return nil
	}
	m.detail.histLoading = true
	return historyCmd(m.sess, s.hist, store, key)
}
