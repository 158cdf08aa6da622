//go:build unix

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// The console tests run the real binary in a real terminal (tmux, see
// tmux_test.go) against a real etcd, plant and read values with etcd's own
// client, and read the screen the way an operator would.

// consolePrefix is the etcd prefix of every console test's store: the keys
// are the ones an operator would see, exports/orders and the like.
const consolePrefix = "exports"

// consoleEnv returns the environment of a console's terminal: childEnv,
// without the variables of a tmux the tests may themselves run in, with a
// UTF-8 locale (the screen is full of ▶, ● and ␛) and with extra added.
func consoleEnv(extra ...string) []string {
	var env []string
	for _, kv := range childEnv() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "TMUX"),
			name == "LANG", name == "LANGUAGE", strings.HasPrefix(name, "LC_"):
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "LANG=C.UTF-8"), extra...)
}

// startConsole runs leasectl with args in a terminal of its own.
func startConsole(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	return startTerm(t, env, append([]string{leasectlBinary(t)}, args...)...)
}

// newConsoleFixture starts an etcd for t and returns a fixture whose store
// covers the prefix exports/ of it.
func newConsoleFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, newEtcd(t), consolePrefix, false)
}

// saveScreen keeps a screen for the record: in the test's log, in its
// artifact directory (go test -artifacts) and, when $LEASECTL_CAPTURE_DIR is
// set, in that directory, as name.txt.
func saveScreen(t *testing.T, name, screen string) {
	t.Helper()
	t.Logf("screen %s:\n%s", name, screen)
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("LEASECTL_CAPTURE_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("LEASECTL_CAPTURE_DIR: %v", err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name+".txt"), []byte(screen), 0o644); err != nil {
			t.Fatalf("save screen %s: %v", name, err)
		}
	}
}

// rowLine returns the table row of key on screen, or "" when none shows it.
// A row starts with two marker cells (▶ selected, • just changed), then
// names its store and its key.
func rowLine(screen, key string) string {
	for _, l := range strings.Split(screen, "\n") {
		r := []rune(l)
		if len(r) < 2 {
			continue
		}
		f := strings.Fields(string(r[2:]))
		if len(f) >= 3 && f[0] == storeName && f[1] == key {
			return l
		}
	}
	return ""
}

// hasField reports whether one of the blank-separated fields of line is f.
func hasField(line, f string) bool { return slices.Contains(strings.Fields(line), f) }

// TestConsoleCorruptTakeover shows a live and a corrupt lease, marks the
// corrupt one, and forces a takeover of the live one through the modal:
// ttl, reason, the key's last segment typed to confirm. The store then
// holds the operator's record and the audit log the action.
func TestConsoleCorruptTakeover(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders, legacy := f.scope.key("orders"), f.scope.key("legacy")
	now := time.Now().Unix()
	ordersValue := record("node-a", now-60, now+3600)
	legacyValue := []byte("export-lock held by billing-7")
	planted := f.scope.put(t, orders, ordersValue)
	f.scope.put(t, legacy, legacyValue)

	tm := startConsole(t, consoleEnv(), f.args()...)
	mainView := tm.waitFor("both leases, one held by node-a, one corrupt", func(s string) bool {
		o, l := rowLine(s, orders), rowLine(s, legacy)
		return hasField(o, "held") && hasField(o, "node-a") && l != ""
	})
	saveScreen(t, "console-main", mainView)
	if l := rowLine(mainView, legacy); !hasField(l, "corrupt") {
		t.Errorf("row of %s = %q, want it marked corrupt", legacy, l)
	}
	if !strings.HasPrefix(mainView, "leasectl") || !strings.Contains(lineWith(mainView, "leasectl"), "operator:"+operator) {
		t.Errorf("header of the main view does not name operator:%s:\n%s", operator, mainView)
	}

	// Select exports/orders with the filter.
	tm.keys("/")
	tm.typeText("orders")
	tm.waitText("1 of 2")
	tm.keys("Enter")
	tm.waitFor("exports/orders selected", func(s string) bool {
		return strings.HasPrefix(rowLine(s, orders), "▶")
	})

	tm.keys("T")
	tm.waitText("FORCE TAKEOVER", orders, "node-a", "operator:"+operator)
	tm.keys("C-u")
	tm.typeText("45m")
	tm.waitLine("ttl", "45m")
	tm.keys("Enter")
	const reason = "incident 4711: exporter wedged"
	tm.typeText(reason)
	tm.waitText(reason)
	tm.keys("Enter")
	// A confirmation that is not the last segment writes nothing.
	tm.typeText("order")
	tm.keys("Enter")
	tm.waitText("confirmation does not match")
	if v, r, _ := f.scope.get(t, orders); !bytes.Equal(v, ordersValue) || r != planted {
		t.Fatalf("%s = %q at %d after a wrong confirmation, want %q at %d untouched", orders, v, r, ordersValue, planted)
	}
	tm.typeText("s")
	// The field's placeholder names "orders" too: wait for the typed text.
	modal := tm.waitFor(`the confirm field holding "orders"`, func(s string) bool {
		l := lineWith(s, "confirm", "orders")
		return l != "" && !strings.Contains(l, "to confirm")
	})
	saveScreen(t, "console-takeover", modal)
	for _, want := range []string{"FORCE TAKEOVER", "now · rev " + strconv.FormatUint(planted, 10), "after · new record", "holder   node-a", "holder   operator:" + operator} {
		if !strings.Contains(modal, want) {
			t.Errorf("the takeover modal does not show %q:\n%s", want, modal)
		}
	}
	value, _, _ := f.scope.get(t, orders)
	if !bytes.Equal(value, ordersValue) {
		t.Fatalf("%s = %q before the takeover was confirmed, want %q untouched", orders, value, ordersValue)
	}

	tm.keys("Enter")
	done := tm.waitText("won: took over " + storeName + "/" + orders)
	if l := rowLine(done, orders); !strings.Contains(l, "operator:"+operator) {
		t.Errorf("row of %s after the takeover = %q, want it held by operator:%s; screen:\n%s", orders, l, operator, done)
	}

	value, rev, ok := f.scope.get(t, orders)
	if !ok {
		t.Fatalf("%s is absent after the takeover", orders)
	}
	r, err := lease.Decode(value)
	if err != nil {
		t.Fatalf("Decode(%q) = %v, want the operator's record", value, err)
	}
	if want := "operator:" + operator; r.HolderID != want {
		t.Errorf("after the takeover %s is held by %q, want %q", orders, r.HolderID, want)
	}
	if got, want := r.ExpiresAtUnix-r.AcquiredAtUnix, uint64((45 * time.Minute).Seconds()); got != want {
		t.Errorf("after the takeover %s has a period of %ds, want the typed ttl %ds", orders, got, want)
	}
	if rev <= planted {
		t.Errorf("after the takeover %s is at revision %d, want past the planted %d", orders, rev, planted)
	}
	if v, _, _ := f.scope.get(t, legacy); !bytes.Equal(v, legacyValue) {
		t.Errorf("%s = %q after a takeover of %s, want %q untouched", legacy, v, orders, legacyValue)
	}

	lines := checkAudit(t, f.audit, 1)
	if len(lines) != 2 {
		t.Fatalf("audit log has %d lines, want 2", len(lines))
	}
	for i, want := range []lease.Outcome{lease.OutcomePending, lease.OutcomeWon} {
		l := lines[i]
		if l.Action != lease.ActionTakeover.String() || l.Key != orders || l.Reason != reason || l.Outcome != want.String() {
			t.Errorf("audit line %d = %s %s %q %s, want %s %s %q %s", i, l.Action, l.Key, l.Reason, l.Outcome, lease.ActionTakeover, orders, reason, want)
		}
		// The intent names the revision on screen; the result, the value
		// the action judged there.
		if l.RevisionBefore != planted || (i == 1 && !bytes.Equal(l.ValueBefore, ordersValue)) {
			t.Errorf("audit line %d: before = %q at %d, want %q at %d", i, l.ValueBefore, l.RevisionBefore, ordersValue, planted)
		}
	}
	if l := lines[1]; l.RevisionAfter != rev || !bytes.Equal(l.ValueAfter, value) {
		t.Errorf("audit result: after = %q at %d, want %q at %d as stored", l.ValueAfter, l.RevisionAfter, value, rev)
	}
}

// TestConsoleEscapeSequences shows a lease whose holder carries escape
// sequences — retitle the window, clear the screen, turn text red — and
// checks that the terminal interpreted none of them: the title is the
// console's own, the screen is whole, the row is one line and the
// sequences show as visible stand-ins.
func TestConsoleEscapeSequences(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	evil, plain := f.scope.key("evil"), f.scope.key("zeta")
	now := time.Now().Unix()
	holder := "\x1b]0;pwned\x07\x1b]2;pwned2\x07\x1b[2J\x1b[31m"
	f.scope.put(t, evil, record(holder, now-5, now+3600))
	f.scope.put(t, plain, record("node-z", now-5, now+3600))

	tm := startConsole(t, consoleEnv(), f.args()...)
	screen := tm.waitFor("both leases held", func(s string) bool {
		return hasField(rowLine(s, evil), "held") && hasField(rowLine(s, plain), "node-z")
	})
	t.Logf("screen:\n%s", screen)

	// The console sets its own title; a title the holder set would
	// replace it (terminals keep the last one).
	if title := tm.display("#{pane_title}"); title != "leasectl" {
		t.Errorf("pane title = %q, want the console's own %q", title, "leasectl")
	}
	lines := strings.Split(strings.TrimSuffix(screen, "\n"), "\n")
	if len(lines) != termHeight {
		t.Errorf("the screen has %d lines, want %d", len(lines), termHeight)
	}
	if !strings.HasPrefix(lines[0], "leasectl") || !strings.Contains(lines[0], "2 leases") {
		t.Errorf("header = %q, want it intact (leasectl … 2 leases …)", lines[0])
	}
	if l := lineWith(screen, "KEY", "STATE", "HOLDER"); l == "" {
		t.Errorf("the table's header is gone:\n%s", screen)
	}
	if l := rowLine(screen, evil); !strings.Contains(l, "␛]0;pwned") {
		t.Errorf("row of %s = %q, want the holder's escape sequences as visible stand-ins (␛]0;pwned…)", evil, l)
	}
	if n := strings.Count(screen, consolePrefix+"/"); n != 2 {
		t.Errorf("the screen shows %d keys, want 2 rows, one line each:\n%s", n, screen)
	}
	if !strings.Contains(lines[len(lines)-1], "q quit") {
		t.Errorf("last line = %q, want the key help intact", lines[len(lines)-1])
	}
	// No cell took the holder's red: the console's own colours are
	// 256-colour or true colour, never the basic SGR 31.
	for i, l := range strings.Split(tm.screenEscaped(), "\n") {
		if red := basicRedSGR(l); red != "" {
			t.Errorf("screen line %d sets the basic red foreground (%q): the holder's \\x1b[31m reached the terminal: %q", i, red, l)
		}
	}

	// The detail view shows the whole holder, every control as a
	// stand-in.
	tm.keys("Enter")
	detail := tm.waitText("holder", "␛]0;pwned␇␛]2;pwned2␇␛[2J␛[31m")
	t.Logf("detail:\n%s", detail)
	if title := tm.display("#{pane_title}"); title != "leasectl" {
		t.Errorf("pane title after the detail view = %q, want %q", title, "leasectl")
	}
	if l := strings.SplitN(detail, "\n", 2)[0]; !strings.HasPrefix(l, "leasectl") {
		t.Errorf("header with the detail view = %q, want it intact", l)
	}
}

// sgr matches an SGR escape sequence (colours and attributes).
var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// basicRedSGR returns the first SGR sequence in s that sets the basic red
// foreground (parameter 31), or "" when there is none. The 31 inside an
// extended colour — 38;5;31, 38;2;31;0;0 — is a colour index or component,
// not basic red: the console's own colours are those (tmux-256color).
func basicRedSGR(s string) string {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		ps := strings.Split(m[1], ";")
		for i := 0; i < len(ps); i++ {
			switch ps[i] {
			case "38", "48", "58":
				switch {
				case i+1 < len(ps) && ps[i+1] == "5":
					i += 2
				case i+1 < len(ps) && ps[i+1] == "2":
					i += 4
				}
			case "31":
				return m[0]
			}
		}
	}
	return ""
}

// TestConsoleBasicRedSGR checks the red detector of
// TestConsoleEscapeSequences, so that its silence means something.
func TestConsoleBasicRedSGR(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain red", "a\x1b[31mred", "\x1b[31m"},
		{"bold red", "\x1b[1;31mred", "\x1b[1;31m"},
		{"red then more", "\x1b[31;1mred", "\x1b[31;1m"},
		{"256 index 31", "\x1b[38;5;31mblue", ""},
		{"true colour component", "\x1b[38;2;31;31;31mgrey\x1b[48;2;0;31;0m", ""},
		{"256 then red", "\x1b[38;5;245;31m", "\x1b[38;5;245;31m"},
		{"other colours", "\x1b[1m\x1b[38;5;111mleasectl\x1b[0m\x1b[39m\x1b[32m", ""},
		{"no escapes", "exports/evil held ␛[31m", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := basicRedSGR(tt.in); got != tt.want {
				t.Errorf("basicRedSGR(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestConsoleLiveUpdate changes a lease behind the console's back: the row
// follows through the store's watch, without a re-list.
func TestConsoleLiveUpdate(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	f.scope.put(t, orders, record("node-a", now-60, now+3600))

	tm := startConsole(t, consoleEnv(), f.args()...)
	tm.waitFor("exports/orders held by node-a, the store live", func(s string) bool {
		return hasField(rowLine(s, orders), "node-a") && strings.Contains(lineWith(s, storeName, "etcd"), "live")
	})

	rev := f.scope.put(t, orders, record("node-b", now, now+600))
	screen := tm.waitFor("exports/orders held by node-b", func(s string) bool {
		return hasField(rowLine(s, orders), "node-b")
	})
	t.Logf("screen:\n%s", screen)
	if l := rowLine(screen, orders); !hasField(l, strconv.FormatUint(rev, 10)) {
		t.Errorf("row of %s = %q, want revision %d", orders, l, rev)
	}
	if strings.Contains(screen, "node-a") {
		t.Errorf("the screen still shows node-a after the update:\n%s", screen)
	}
}

// TestConsoleReadOnly presses T in a console started with --read-only: no
// takeover dialog opens, the console says why, and the store is untouched.
func TestConsoleReadOnly(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	value := record("node-a", now-60, now+3600)
	planted := f.scope.put(t, orders, value)

	tm := startConsole(t, consoleEnv(), f.args("--read-only")...)
	tm.waitFor("READ-ONLY and exports/orders selected", func(s string) bool {
		return strings.Contains(lineWith(s, "leasectl"), "READ-ONLY") && strings.HasPrefix(rowLine(s, orders), "▶")
	})
	tm.keys("T")
	screen := tm.waitText("refused:", "read-only", "nothing was written")
	t.Logf("screen:\n%s", screen)
	if strings.Contains(screen, "FORCE TAKEOVER") {
		t.Errorf("a read-only console opened the takeover dialog:\n%s", screen)
	}
	if got, rev, _ := f.scope.get(t, orders); !bytes.Equal(got, value) || rev != planted {
		t.Errorf("%s = %q at revision %d after T in a read-only console, want %q at %d", orders, got, rev, value, planted)
	}
	if b, err := os.ReadFile(f.audit); err == nil && len(b) > 0 {
		t.Errorf("a read-only console wrote the audit log:\n%s", b)
	}
}

// markReadOnly marks the fixture's one store read_only in its config, as
// the README's production example does.
func markReadOnly(t *testing.T, f *fixture) {
	t.Helper()
	conf, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	// The store is the config's last entry: its fields end the file.
	if !bytes.HasSuffix(conf, []byte("\n")) || !bytes.Contains(conf, []byte("\n  - name: "+storeName+"\n")) {
		t.Fatalf("config %s does not end with the store's entry:\n%s", f.config, conf)
	}
	conf = append(conf, "    read_only: true\n"...)
	if err := os.WriteFile(f.config, conf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleReadOnlyStoreHistory opens the console on a store the config
// marks read_only: the store is still watched (a change shows without a
// re-list), and the details of a lease show the values its key held, newest
// first, from etcd's own history.
func TestConsoleReadOnlyStoreHistory(t *testing.T) {
	t.Parallel()
	f := newConsoleFixture(t)
	markReadOnly(t, f)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	first := f.scope.put(t, orders, record("node-a", now-600, now-300))
	second := f.scope.put(t, orders, record("node-b", now-60, now+3600))

	tm := startConsole(t, consoleEnv(), f.args()...)
	tm.waitFor("exports/orders held by node-b, the store read-only", func(s string) bool {
		return hasField(rowLine(s, orders), "node-b") && strings.Contains(lineWith(s, storeName, "etcd"), "read-only")
	})
	tm.keys("Enter")
	revLine := func(s string, rev uint64, holder string) int {
		for i, l := range strings.Split(s, "\n") {
			if hasField(l, "rev") && hasField(l, strconv.FormatUint(rev, 10)) && strings.Contains(l, holder) {
				return i
			}
		}
		return -1
	}
	detail := tm.waitFor("the key's two values in the history", func(s string) bool {
		return revLine(s, first, "node-a") >= 0 && revLine(s, second, "node-b") >= 0
	})
	saveScreen(t, "console-readonly-history", detail)
	if revLine(detail, second, "node-b") > revLine(detail, first, "node-a") {
		t.Errorf("the history is not newest first:\n%s", detail)
	}
	if l := lineWith(detail, "history"); !strings.Contains(l, storeName) || !strings.Contains(l, "etcd") {
		t.Errorf("history line = %q, want it to say where the history comes from (store %s, etcd)", l, storeName)
	}

	// The store is watched through its read-only wrapper: a new value
	// reaches the open details, and their history, at once.
	third := f.scope.put(t, orders, record("node-c", now, now+3600))
	tm.waitFor("the new value in the history", func(s string) bool { return revLine(s, third, "node-c") >= 0 })
	if b, err := os.ReadFile(f.audit); err == nil && len(b) > 0 {
		t.Errorf("a read-only console wrote the audit log:\n%s", b)
	}
}

// TestConsoleDemo starts the console without any configuration: it opens
// the labelled demo, and q quits with exit status 0.
func TestConsoleDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	if err := os.Mkdir(xdg, 0o755); err != nil {
		t.Fatal(err)
	}
	// TMPDIR keeps the demo's own audit log in the test's directory.
	tm := startConsole(t, consoleEnv("XDG_CONFIG_HOME="+xdg, "TMPDIR="+dir))
	screen := tm.waitFor("the DEMO badge and exports/ rows", func(s string) bool {
		return strings.Contains(lineWith(s, "leasectl"), "DEMO") && strings.Count(s, "exports/") >= 3
	})
	t.Logf("screen:\n%s", screen)

	tm.keys("q")
	if how := tm.waitExit(); how != "status 0" {
		t.Errorf("after q the console exited with %s, want status 0; screen:\n%s", how, tm.screen())
	}
	// tmux scrolls the screen by a line to say the pane is dead: read the
	// history too, wrapped lines joined.
	if s := tm.must("capture-pane", "-p", "-J", "-S", "-", "-t", session); !strings.Contains(s, "that was the demo") {
		t.Errorf("after q the terminal does not say it was the demo:\n%s", s)
	}
}
