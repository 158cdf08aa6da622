package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
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

// TestMatchesLikeLowerCasedText checks that a row matches a term exactly
// when the lower-cased text the console used to keep per row — store, key,
// holder and what the screen shows of them, joined by NULs — or the state
// contains it: the row no longer keeps that text, and matches each part
// as it is where it is its own lower-case form.
func TestMatchesLikeLowerCasedText(t *testing.T) {
	rs := newRowSet(lease.DefaultThresholds())
	names := []string{"prod", "Prod-EU", "café"}
	keys := []string{
		"exports/orders", "exports/Orders", "EXPORTS/ÉTÉ", "exports/\xff\xfe", "exports/\u212a-kelvin",
		"exports/İstanbul", "exports/a\x1b[2J", "exports/   ", `"quoted"`, "exports/cafe\u0301",
	}
	holders := []string{"node-a", "Node-B", "\u2615-holder", "ÖL", evilHolder}
	terms := []string{
		"orders", "ord", "exports/o", "été", "\xff", "\ufffd", "k", "kelvin", "\u212a", "i̇stanbul", "istanbul",
		"node-b", "☕", `\u2615`, " öl", "öl", "prod-eu", "café", "\"exports/", `\x1b`, "␛", "held", "expired",
		"tombstone", "corrupt", "unfinished", "overdue", "fini", "od\x00exp", "prod\x00exports/orders", "s/cafe\\u0301", "é", "",
	}
	rev := uint64(0)
	for _, st := range names {
		for _, k := range keys {
			for _, h := range holders {
				rev++
				var v []byte
				switch rev % 4 {
				case 0:
					v = record(h, now0-10, now0+60)
				case 1:
					v = record(h, now0-100, now0-10)
				case 2:
					v = []byte{}
				case 3:
					v = []byte("{")
				}
				rs.put(st, stores.Entry{Key: k + "/" + h, Value: v, Revision: rev}, t0, false)
			}
		}
	}
	for _, r := range rs.rows {
		text := strings.ToLower(r.store + "\x00" + r.entry.Key + "\x00" + r.holder() + shownText(r.entry.Key, r.holder()))
		for _, term := range terms {
			term = strings.ToLower(term)
			want := strings.Contains(text, term) || strings.Contains(r.status.State.String(), term) ||
				slices.ContainsFunc(r.status.Flags.Strings(), func(f string) bool { return strings.Contains(f, term) })
			if got := r.matches(term); got != want {
				t.Errorf("row %q/%q held by %q: matches(%q) = %v, want %v", r.store, r.entry.Key, r.holder(), term, got, want)
			}
		}
	}
}
