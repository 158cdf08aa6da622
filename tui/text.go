package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// Text layout in terminal cells, and the words for store data in messages.
// Callers pass text already cleaned with safetext, or clean it here.

// cellWidth returns the cells s takes: safetext's width, the one every
// terminal agrees on (at once for plain ASCII).
func cellWidth(s string) int { return safetext.Width(s) }

// pad cuts s (already clean) to w cells and pads it with spaces to exactly w.
func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		s = safetext.Truncate(s, w)
		sw = cellWidth(s)
	}
	return s + strings.Repeat(" ", w-sw)
}

// padStyled is pad for text that carries styles (ANSI sequences) around
// parts already cleaned with safetext: the sequences take no cells and are
// kept whole. Cleaned text measures the same with either width function.
func padStyled(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, safetext.Ellipsis)
		sw = ansi.StringWidth(s)
	}
	return s + strings.Repeat(" ", max(w-sw, 0))
}

// padLeft is pad, right-aligned.
func padLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := cellWidth(s)
	if sw > w {
		return safetext.Truncate(s, w)
	}
	return strings.Repeat(" ", w-sw) + s
}

// wrap breaks text into lines of at most w cells at spaces.
func wrap(text string, w int) []string {
	var lines []string
	line, lw := "", 0
	for _, word := range strings.Fields(text) {
		ww := cellWidth(word)
		switch {
		case line == "":
			line, lw = word, ww
		case lw+1+ww > w:
			lines = append(lines, line)
			line, lw = word, ww
		default:
			line += " " + word
			lw += 1 + ww
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
