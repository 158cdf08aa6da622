package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/audit"
)

// detailAuditMsg carries the audit log as read for the timeline of the
// key the details show.
type detailAuditMsg struct {
	store, key string
	entries    []audit.Entry
	err        error
}

// detailAuditCmd reads the audit log for the timeline of key in store, or
// is nil when the console has no audit source.
func (m *Model) detailAuditCmd(store, key string) tea.Cmd {
	src := m.opts.Audit
	if src == nil {
		return nil
	}
	sess := m.sess
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sess.ctx, callTimeout)
		defer cancel()
		entries, err := src.Entries(ctx)
		return detailAuditMsg{store: store, key: key, entries: entries, err: err}
	}
}

// onDetailAudit draws the audit log's actions on the shown key into its
// timeline. A log that cannot be read leaves the timeline without them;
// the audit view (L) says why.
func (m *Model) onDetailAudit(msg detailAuditMsg) {
	if msg.err != nil || !m.screen.detail() || m.detail.store != msg.store || m.detail.entry.Key != msg.key {
		return
	}
	m.detail.SetActions(msg.entries)
}
