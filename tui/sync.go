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
	s.backend = msg.backend
	s.attempt, s.err, s.retryAt = 0, nil, time.Time{}
	s.conn = connSyncing
	return m.startSync(s)
}

// startSync watches the store, or lists it when it cannot be watched.
func (m *Model) startSync(s *storeState) tea.Cmd {
	if s.noWatch {
		return m.listCmd(s)
	}
	s.watchGen++
	return watchCmd(m.sess, s.backend, s.src.Name, s.watchGen)
}

// listCmd lists s, remembering where the row set is now.
func (m *Model) listCmd(s *storeState) tea.Cmd {
	return listCmd(m.sess, s.backend, s.src.Name, s.gen, m.rows.seq)
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
	if s.backend == nil {
		s.gen++
		s.conn = connConnecting
		return connectCmd(m.sess, s.src, s.gen)
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
	switch {
	case errors.Is(msg.err, errors.ErrUnsupported):
		s.noWatch = true
		return m.listCmd(s)
	case msg.err != nil:
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
		if !s.watching {
			// The listing is all there is of a store not watched: its
			// rows are stale until one succeeds.
			s.err = msg.err
		}
		return nil
	}
	m.rows.replace(s.src.Name, msg.entries, msg.since, m.now, s.synced)
	if !s.watching {
		s.synced, s.conn, s.attempt = true, connLive, 0
	}
	// The store answered: an error its watch reported is past (a watch
	// that resumes after an outage sends nothing until a key changes).
	s.err = nil
	s.lastUpdate, s.listedAt = m.now, m.now
	return m.rowsChanged()
}

// refreshAll re-lists every connected store now and redials the failed ones
// at once.
func (m *Model) refreshAll() tea.Cmd {
	var cmds []tea.Cmd
	for _, s := range m.srcs {
		switch {
		case s.backend != nil:
			cmds = append(cmds, m.listCmd(s))
		case s.conn == connFailed:
			s.gen++
			s.conn, s.retryAt = connConnecting, time.Time{}
			cmds = append(cmds, connectCmd(m.sess, s.src, s.gen))
		}
	}
	m.status.Set(statusInfo, fmt.Sprintf("re-listing %d stores…", len(cmds)))
	m.syncStores()
	return tea.Batch(cmds...)
}

// rowsChanged refreshes what shows the rows: the table's index (only if the
// rows changed) and the detail view of a lease that changed.
func (m *Model) rowsChanged() tea.Cmd {
	m.table.refresh(m.rows)
	if m.screen.dialog() {
		r, ok := m.rows.get(m.dialog.store, m.dialog.entry.Key)
		m.dialog.SetStale((ok && r.entry.Revision != m.dialog.entry.Revision) || (!ok && m.dialog.found))
	}
	if !m.screen.detail() {
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

// historyCmd fetches the history of a key for the detail view, unless its
// store said it keeps none.
func (m *Model) historyCmd(store, key string) tea.Cmd {
	s, ok := m.byName[store]
	if !ok || s.backend == nil || s.noHistory {
		return nil
	}
	m.detail.histLoading = true
	return historyCmd(m.sess, s.backend, store, key)
}

// onHistory shows a key's history in the detail view, if it still shows
// the key, and remembers a store that keeps none.
func (m *Model) onHistory(msg historyMsg) {
	if s, ok := m.byName[msg.store]; ok && errors.Is(msg.err, errors.ErrUnsupported) {
		s.noHistory = true
	}
	if m.screen.detail() && m.detail.store == msg.store && m.detail.entry.Key == msg.key {
		m.detail.SetHistory(msg.entries, msg.err)
	}
}
