package tui

import (
	"slices"
	"testing"
)

// TestFilterNarrowsLikeRebuild types a filter key by key, and deletes it
// again, checking after every key that the index — narrowed in place while
// the filter grows — holds exactly the rows, in the order, that a rebuild
// from every row gives.
func TestFilterNarrowsLikeRebuild(t *testing.T) {
	h, _ := actionConsole(t, &auditLog{})
	h.press("/")
	check := func(what string) {
		t.Helper()
		got := slices.Clone(h.m.table.index)
		fresh := h.m.table
		fresh.rebuild(h.m.rows)
		if !slices.Equal(got, fresh.index) {
			t.Errorf("%s: filter %q: index %v, a rebuild gives %v", what, h.m.table.filter, keysOf(got), keysOf(fresh.index))
		}
	}
	for _, r := range "Exports/ E" {
		h.typeText(string(r))
		check("typed")
	}
	for range len("Exports/ E") {
		h.press("backspace")
		check("deleted")
	}
}
