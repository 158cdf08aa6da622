package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// Text layout in terminal cells, and the words for store data in messages.
// Callers pass text already cleaned with safetext, or clean it here.

// cellWidth returns the cells s takes, at once for plain ASCII.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// pad cuts s (already clean) to w cells and pads it with spaces to exactly w.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, safetext.Ellipsis)
		sw = cellWidth(s)
	}
	return s + strings.Repeat(" ", w-sw)
}

// padLeft is pad, right-aligned.
func padLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, safetext.Ellipsis)
	}
	return strings.Repeat(" ", w-sw) + s
}

// wrap breaks text into lines of at most w cells at spaces.
func wrap(text string, w int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > w:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// quote quotes s for a message, cleaned.
func quote(s string) string { return `"` + safetext.Clean(s) + `"` }

// describe summarises a status in words: "held by node-a", "corrupt: missing
// field …". The holder and reason are cleaned.
func describe(st lease.Status) string {
	switch st.State {
	case lease.Held, lease.Expired:
		return st.State.String() + " by " + safetext.Clean(st.Record.HolderID)
	case lease.Corrupt:
		return "corrupt: " + safetext.Clean(st.Reason)
	}
	return st.State.String()
}
