package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/safetext"
)

// statusKind is the tone of a status message.
type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusWarn
	statusError
)

// statusLine is the one-line outcome of the last action or event.
type statusLine struct {
	styles *Styles
	width  int
	kind   statusKind
	text   string
}

// Set replaces the message.
func (s *statusLine) Set(kind statusKind, text string) { s.kind, s.text = kind, text }

// SetSize sets the line's width.
func (s *statusLine) SetSize(w, _ int) { s.width = w }

// Update implements the component shape; messages are set by the root.
func (s statusLine) Update(tea.Msg) (statusLine, tea.Cmd) { return s, nil }

// View renders the message, cleaned (it may quote a store's error or key)
// and cut to the width.
func (s statusLine) View() string {
	st := s.styles.StatusInfo
	switch s.kind {
	case statusOK:
		st = s.styles.StatusOK
	case statusWarn:
		st = s.styles.StatusWarn
	case statusError:
		st = s.styles.StatusError
	}
	return st.Render(safetext.Truncate(s.text, s.width))
}
