//go:build unix

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue 8: what the screen shows is what the store holds. Columns stay in
// line whatever the keys and holders hold (measured by tmux itself), keys
// that differ only in bytes a terminal cannot show are shown apart, and the
// JSON of ls gives back the exact bytes of every key.

// text8Graphemes are keys (under the console's prefix) and holders that
// terminals measure differently: emoji sequences, and clusters whose
// grapheme width is not the sum of their code points' widths.
var text8Graphemes = []struct{ key, holder string }{
	{"plain", "node-a"},
	{"😀👍🏽🇯🇵", "node-😀👍🏽🇯🇵"},
	{"👩‍👩‍👧‍👦", "👩‍👩‍👧‍👦-ops"},
	{"❤️-1️⃣", "❤️1️⃣"},
	{"東京", "ノード-東京"},
	{"का", "क्ष"},
}

// cellsOf prints s in a window of its own in tm's tmux server and returns
// how many cells tmux moved the cursor over it: tmux's own measure of s.
func (tm *term) cellsOf(s string) int {
	tm.t.Helper()
	f := filepath.Join(tm.t.TempDir(), "text")
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		tm.t.Fatal(err)
	}
	name := "measure" + strconv.Itoa(int(sockets.Add(1)))
	tm.must("new-window", "-d", "-n", name, "cat "+f+"; exec sleep 3600")
	defer tm.run("kill-window", "-t", ":"+name)
	deadline := time.Now().Add(screenTimeout)
	for {
		if strings.TrimSpace(tm.must("capture-pane", "-p", "-t", ":"+name)) != "" {
			// Printed: cat writes the file at once.
			x, err := strconv.Atoi(strings.TrimSpace(tm.must("display-message", "-p", "-t", ":"+name, "#{cursor_x}")))
			if err != nil {
				tm.t.Fatal(err)
			}
			return x
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("tmux did not print %q within %v", s, screenTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// text8Rows returns the table's header and rows on screen.
func text8Rows(screen string) (header string, rows []string) {
	for _, l := range strings.Split(screen, "\n") {
		r := []rune(l)
		switch {
		case strings.HasPrefix(l, "  STORE"):
			header = l
		case header != "" && len(r) > 2 && strings.HasPrefix(string(r[2:]), storeName+" "):
			rows = append(rows, l)
		}
	}
	return header, rows
}

// TestText8ConsoleColumnsInTmux shows leases whose keys and holders hold
// emoji sequences in the real console in tmux, and asks tmux where each
// row's STATE and EXPIRES IN cells start: where the header's titles do.
func TestText8ConsoleColumnsInTmux(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	now := time.Now().Unix()
	for _, g := range text8Graphemes {
		f.scope.put(t, f.scope.key(g.key), record(g.holder, now-60, now+3600))
	}
	tm := startConsole(t, consoleEnv(), f.args()...)
	screen := tm.waitFor("every lease", func(s string) bool {
		_, rows := text8Rows(s)
		return len(rows) == len(text8Graphemes) && !strings.Contains(s, "syncing")
	})
	saveScreen(t, "text8-graphemes", screen)
	header, rows := text8Rows(screen)
	for _, col := range []struct{ title, cell string }{{"STATE", " held "}, {"EXPIRES IN", " in "}} {
		at := tm.cellsOf(header[:strings.Index(header, col.title)])
		for _, row := range rows {
			i := strings.Index(row, col.cell)
			if i < 0 {
				t.Errorf("a row has no %q:\n%s", col.cell, row)
				continue
			}
			if got := tm.cellsOf(row[:i+1]); got != at {
				t.Errorf("tmux puts this row's %s cell at cell %d, the header's at %d:\n%s\n%s", col.title, got, at, header, row)
			}
		}
	}
	// Nothing is cut off at the right edge: every row ends in its revision
	// column, as the plain one does.
	end := tm.cellsOf(strings.TrimRight(rows[slices.IndexFunc(rows, func(r string) bool { return strings.Contains(r, "/plain ") })], " "))
	for _, row := range rows {
		if got := tm.cellsOf(strings.TrimRight(row, " ")); got != end {
			t.Errorf("this row ends at cell %d, the plain row at %d:\n%s", got, end, row)
		}
	}
}

// text8Keys are keys that looked alike before issue 8, under the prefix.
var text8Keys = []string{"\xff", "\xfe", "\ufffd", "   ", " ", "a  b", `a\xff`, "\x1b", "␛"}

// TestText8LsKeyBytes plants keys that are not UTF-8, or end in spaces, with
// etcd's own client, and checks that ls -o json gives back their exact
// bytes and that ls's table shows each of them differently.
func TestText8LsKeyBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newEtcd(t), "text8", false)
	now := time.Now().Unix()
	want := map[string]bool{}
	for _, k := range text8Keys {
		key := f.scope.key("exports/" + k)
		f.scope.put(t, key, record("node-a", now-60, now+3600))
		want[key] = true
	}

	r := f.run(t, "ls", "-o", "json")
	if r.code != 0 {
		t.Fatalf("ls -o json: %v", r)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("ls -o json is no JSON array: %v\n%s", err, r.stdout)
	}
	listed := map[string]bool{}
	for _, l := range got {
		key, _ := l["key"].(string)
		if b64, ok := l["key_b64"].(string); ok {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Errorf("key_b64 %q: %v", b64, err)
			}
			key = string(raw)
		}
		listed[key] = true
	}
	for k := range want {
		if !listed[k] {
			t.Errorf("ls -o json does not give back the key %q; it lists %q", k, slices.Sorted(func(yield func(string) bool) {
				for k := range listed {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}

	table := f.run(t, "ls")
	if table.code != 0 {
		t.Fatalf("ls: %v", table)
	}
	lines := strings.Split(strings.TrimSuffix(table.stdout, "\n"), "\n")
	keyAt := strings.Index(lines[0], "KEY")
	cells := map[string]bool{}
	for _, l := range lines[1:] {
		cells[strings.TrimRight(l[keyAt:strings.Index(l, "  held ")], " ")] = true
	}
	if len(cells) != len(text8Keys) {
		t.Errorf("ls shows %d different keys, want %d:\n%s", len(cells), len(text8Keys), table.stdout)
	}
	for _, k := range []string{`"text8/exports/\xff"`, `"text8/exports/\xfe"`, `"text8/exports/\ufffd"`, `"text8/exports/   "`, `"text8/exports/ "`, `"text8/exports/a  b"`, `text8/exports/a\xff`, `"text8/exports/\x1b"`, `"text8/exports/\u241b"`} {
		if !cells[k] {
			t.Errorf("ls does not show the key %s:\n%s", k, table.stdout)
		}
	}
}

// TestText8ConfirmEscapedKey releases a lease whose key is not UTF-8 from
// a real terminal: the prompt shows the key's last segment as it can be
// typed, typing it confirms, and the release lands on the exact key.
func TestText8ConfirmEscapedKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newEtcd(t), "text8c", false)
	now := time.Now().Unix()
	key := f.scope.key("exports/\xff")
	look := f.scope.key("exports/\ufffd")
	f.scope.put(t, key, record("node-a", now-60, now+3600))
	lookRev := f.scope.put(t, look, record("node-b", now-60, now+3600))

	// The key's invalid byte reaches leasectl's argv through printf, not
	// through tmux's command line.
	script := `read go; exec "$0" --config "$1" release "$(printf 'text8c/exports/\377')" --store "$2" --reason "issue 8"`
	tm := startTerm(t, consoleEnv(), "sh", "-c", script, leasectlBinary(t), f.config, storeName)
	tm.keys("Enter")
	tm.waitText(`Type "\xff" to release "text8c/exports/\xff"`)
	tm.typeText(`"\xff"`)
	tm.keys("Enter")
	if status := tm.waitExit(); status != "status 0" {
		t.Fatalf("release confirmed with the shown word exited %s:\n%s", status, tm.screen())
	}
	if v, _, _ := f.scope.get(t, key); len(v) != 0 {
		t.Errorf("after release %q holds %q, want a tombstone", key, v)
	}
	if v, rev, _ := f.scope.get(t, look); rev != lookRev || len(v) == 0 {
		t.Errorf("the release touched %q, the key that looks like it: %q at %d", look, v, rev)
	}
}
