package tui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/internal/termwidth"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores/memory"
)

// graphemeFixture holds keys and holders that terminals measure
// differently (issue 8, defect 3), between rows that every terminal agrees
// on.
var graphemeFixture = []struct{ key, holder string }{
	{"exports/plain", "node-a"},
	{"exports/😀👍🏽🇯🇵", "node-😀👍🏽🇯🇵"},
	{"exports/👩‍👩‍👧‍👦", "👩‍👩‍👧‍👦-ops"},
	{"exports/❤️-1️⃣", "❤️1️⃣"},
	{"exports/☕", "☕-brewer"},
	{"exports/東京", "ノード-東京"},
	{"exports/cafe\u0301", "e\u0301"},
	{"exports/का", "क्ष"},
	{"exports/zero\u200bwidth", "a\u200bb"},
}

// keyFixture holds keys that looked alike before issue 8: not UTF-8, the
// replacement character itself, spaces, and the stand-ins of an escape.
var keyFixture = []string{
	"exports/\xff",
	"exports/\xfe",
	"exports/\ufffd",
	"exports/   ",
	"exports/ ",
	"exports/",
	" exports/lead",
	"exports/a  b",
	`exports/a\xff`,
	`"exports/\xff"`,
	"exports/\x1b",
	"exports/␛",
}

// textConsole shows one store, "prod", holding a live lease for each key,
// held by holders[i] (keys alone: node-a).
func textConsole(t *testing.T, w, h int, keys, holders []string) *harness {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	for i, k := range keys {
		holder := "node-a"
		if i < len(holders) {
			holder = holders[i]
		}
		if _, err := st.Create(t.Context(), k, record(holder, now0-60, now0+240)); err != nil {
			t.Fatalf("Create(%q) = %v", k, err)
		}
	}
	r := newRig(t, &auditLog{})
	return newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{st})}}, w, h)
}

// tableLines returns the table's header and its rows, as shown on screen.
func tableLines(t *testing.T, screen string) (header string, rows []string) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  STORE") })
	if i < 0 {
		t.Fatalf("no table header on screen:\n%s", screen)
	}
	for _, l := range lines[i+1:] {
		if !strings.HasPrefix(l[min(len(l), len("▶ ")):], "prod ") && !strings.HasPrefix(l, "  prod ") {
			break
		}
		rows = append(rows, l)
	}
	return lines[i], rows
}

// cellAt returns the byte offset in line of the character that starts at
// cell col when term draws line, or -1 when no character starts there.
func cellAt(term termwidth.Terminal, line string, col int) int {
	cells := 0
	for i, r := range line {
		if cells == col {
			return i
		}
		if cells > col {
			return -1
		}
		cells += term.Width(string(r))
	}
	if cells == col {
		return len(line)
	}
	return -1
}

// TestTableColumnsAlignInEveryTerminal renders rows whose keys and holders
// hold emoji sequences and checks, as tmux, xterm.js and a grapheme-
// clustering terminal each draw the screen, that every row's STATE, HOLDER
// and EXPIRES IN cells start where the header puts them.
func TestTableColumnsAlignInEveryTerminal(t *testing.T) {
	var keys, holders []string
	for _, f := range graphemeFixture {
		keys, holders = append(keys, f.key), append(holders, f.holder)
	}
	h := textConsole(t, 120, 30, keys, holders)
	screen := h.screen()
	golden(t, "grapheme-widths", screen)
	header, rows := tableLines(t, screen)
	if len(rows) != len(graphemeFixture) {
		t.Fatalf("%d rows on screen, want %d:\n%s", len(rows), len(graphemeFixture), screen)
	}
	for _, term := range termwidth.All {
		for _, col := range []struct {
			title string
			cell  func(row string) bool
		}{
			{"STATE", func(s string) bool { return strings.HasPrefix(s, "held ") }},
			{"HOLDER", func(s string) bool { return s != "" && s[0] != ' ' }},
			{"EXPIRES IN", func(s string) bool { return strings.HasPrefix(s, "in 4m00s ") }},
		} {
			at := term.Width(header[:strings.Index(header, col.title)])
			for _, row := range rows {
				i := cellAt(term, row, at)
				if i < 0 || !col.cell(row[i:]) || row[i-1] != ' ' {
					t.Errorf("%s: the %s column starts at cell %d, but this row has no cell there:\n%s\n%s", term, col.title, at, header, row)
				}
			}
		}
		for _, row := range rows {
			if w := term.Width(row); w > 120 {
				t.Errorf("%s: a row takes %d cells of 120: %q", term, w, row)
			}
		}
	}
}

// TestTableKeysDistinct checks that keys that differ in bytes the
// terminal cannot show differ on screen: in the table and in the details.
func TestTableKeysDistinct(t *testing.T) {
	h := textConsole(t, 120, 30, keyFixture, nil)
	screen := h.screen()
	golden(t, "keys-escaped", screen)
	header, rows := tableLines(t, screen)
	if len(rows) != len(keyFixture) {
		t.Fatalf("%d rows on screen, want %d:\n%s", len(rows), len(keyFixture), screen)
	}
	seen := map[string]bool{}
	for _, row := range rows {
		// The key cell: from the key column to the state (the markers and
		// the store name before it are one cell a byte, but for ▶).
		if rest, ok := strings.CutPrefix(row, "▶"); ok {
			row = " " + rest
		}
		cell := strings.TrimSpace(row[strings.Index(header, "KEY"):strings.Index(row, " held ")])
		if seen[cell] {
			t.Errorf("two keys show as %q:\n%s", cell, screen)
		}
		seen[cell] = true
	}
	for _, k := range keyFixture {
		h.selectKey("prod", k)
		h.press("enter")
		title := strings.Split(h.screen(), "\n")[2]
		if want := "prod / " + safetext.Key(k); title != want {
			t.Errorf("details of %q are titled %q, want %q", k, title, want)
		}
		h.press("esc")
	}
	for _, want := range []string{`"exports/\xff"`, `"exports/\xfe"`, `"exports/\ufffd"`, `"exports/   "`, `"exports/a  b"`, `exports/a\xff`, `"\"exports/\\xff\""`, `"exports/\x1b"`, `"exports/\u241b"`} {
		if !strings.Contains(screen, want+" ") {
			t.Errorf("the table does not show the key %s:\n%s", want, screen)
		}
	}
}

// TestDetailValueKind checks the label of a stored value in the details:
// what the bytes are, not what a lease should be.
func TestDetailValueKind(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"record", record("node-a", now0-60, now0+240), "bytes · JSON"},
		{"corrupt json", []byte(`{"holder_id":1}`), "15 bytes · JSON"},
		{"text", []byte("node-a was here"), "15 bytes · text"},
		{"binary", []byte{0xff, 0xfe, 'h', 'i'}, "4 bytes · binary (hex)"},
		{"empty", []byte{}, "0 bytes · empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memory.New()
			t.Cleanup(func() { st.Close() })
			if _, err := st.Create(t.Context(), "exports/x", tt.value); err != nil {
				t.Fatal(err)
			}
			r := newRig(t, &auditLog{})
			h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{st})}}, 120, 30)
			h.selectKey("prod", "exports/x")
			h.press("enter")
			var label string
			for _, l := range strings.Split(h.screen(), "\n") {
				if strings.HasPrefix(l, "value ") {
					label = l
				}
			}
			if !strings.Contains(label, tt.want) {
				t.Errorf("details of %q label the value %q, want %q", tt.value, label, tt.want)
			}
		})
	}
}

// TestActionOnRawKey acquires a released lease whose key is not UTF-8:
// the write goes to the exact bytes of the row's key, never to what the
// screen shows.
func TestActionOnRawKey(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	for _, k := range []string{"exports/\xff", "exports/\ufffd"} {
		if _, err := st.Create(t.Context(), k, []byte{}); err != nil {
			t.Fatal(err)
		}
	}
	r := newRig(t, &auditLog{})
	h := newHarness(t, r, Options{Sources: []Source{r.source("prod", listOnly{st})}}, 120, 30)
	h.selectKey("prod", "exports/\xff")
	h.press("a", "enter")
	if st := lease.Classify(get(t, st, "exports/\xff").Value, t0, lease.DefaultThresholds()); st.State != lease.Held {
		t.Errorf("exports/\\xff is %v after acquire, want held; screen:\n%s", st.State, h.screen())
	}
	if v := get(t, st, "exports/\ufffd").Value; len(v) != 0 {
		t.Errorf("acquire wrote exports/\\ufffd, the key that looks like the one acted on: %q", v)
	}
}

// TestConfirmWordOfEscapedKey checks that the word a dialog asks for can
// be typed as safetext.Key shows it, for keys whose last segment cannot be
// typed as it is.
func TestConfirmWordOfEscapedKey(t *testing.T) {
	for _, k := range []string{"exports/orders", "exports/\xff", "exports/   ", "exports/😀", "exports/\x1b[2J", `exports/"q"`} {
		shown := safetext.Key(lease.ConfirmWord(k))
		if !lease.Confirmed(k, shown, safetext.Key) {
			t.Errorf("Confirmed(%q, %s, safetext.Key) = false: the word as shown does not confirm", k, shown)
		}
	}
	if lease.Confirmed("exports/\xff", safetext.Key("\xfe"), safetext.Key) {
		t.Errorf("the word of exports/\\xfe confirms exports/\\xff")
	}
}

// TestFilterByShownText filters by what the screen shows of a key or a
// holder that is not shown as its bytes.
func TestFilterByShownText(t *testing.T) {
	h := textConsole(t, 120, 30, []string{"exports/\xff", "exports/\xfe", "exports/tea"}, []string{"node-a", "node-b", "☕-brewer"})
	for _, tt := range []struct{ filter, want string }{{`\xff`, "exports/\xff"}, {`\u2615`, "exports/tea"}} {
		h.press("/")
		h.typeText(tt.filter)
		if n := len(h.m.table.index); n != 1 || h.m.table.index[0].entry.Key != tt.want {
			t.Errorf("filter %s shows %d rows, want only %q:\n%s", tt.filter, n, tt.want, h.screen())
		}
		h.press("esc")
	}
}

// TestTableKeysElidedInTheMiddle checks that a key too long for its column
// loses its middle, not its end, as in ls -o table: the leases of one
// folder, which differ only in their last segment, stay apart at 120
// columns (exports/bulk/fold-000/…, as the fleet-scale benchmark seeds
// them, all looked alike when keys were cut at their end).
func TestTableKeysElidedInTheMiddle(t *testing.T) {
	var keys []string
	for i := range 4 {
		keys = append(keys, fmt.Sprintf("exports/bulk/fold-000/export-%06d", i))
	}
	keys = append(keys, "exports/eu-west-1/very/long/key/name/for/the/monthly/billing/export-of-all-customers-and-suppliers")
	h := textConsole(t, 120, 12, keys, nil)
	screen := h.screen()
	golden(t, "keys-elided", screen)
	header, rows := tableLines(t, screen)
	if len(rows) != len(keys) {
		t.Fatalf("%d rows on screen, want %d:\n%s", len(rows), len(keys), screen)
	}
	keyW := strings.Index(header, "STATE") - strings.Index(header, "KEY") - 1
	for i, row := range rows[:4] {
		last := fmt.Sprintf("/export-%06d", i)
		if !strings.Contains(row, "…"+last+" ") {
			t.Errorf("row %d does not end its key with …%s:\n%s", i, last, row)
		}
	}
	if long := rows[4]; !regexp.MustCompile(`…[a-z-]*omers-and-suppliers `).MatchString(long) {
		t.Errorf("a key whose last segment is wider than its column (%d cells) does not keep the end of it:\n%s", keyW, long)
	}
}
