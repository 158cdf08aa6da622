//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/leasectl/leasectl/lease"
)

// The browser tests drive the console as an operator does in a browser: a
// real headless Chromium (Debian's chromium, through chromedp) opens the
// page that the real `leasectl serve` serves over real stores, keys are
// typed into the page's terminal (xterm.js) and the screen is read back as
// text through the page's read-only hook, leasectlScreen in
// assets/console.js.

const (
	// browserOperator is the operator who logs in to serve with a token
	// of serve.operators; the config's own operator is someone else
	// (operator, alice), so that the audit shows whose session wrote.
	browserOperator = "carol"
	// browserTokenVar is the environment variable carol's token is in.
	browserTokenVar = "LEASECTL_E2E_CAROL_TOKEN"
	// browserPrefix scopes each store: an etcd and a Consul prefix, a
	// NATS bucket.
	browserPrefix = "browser"
	// browserWidth×browserHeight is the browser's window: the terminal
	// fits about 150×45 cells into it.
	browserWidth, browserHeight = 1280, 860
	// browserWait bounds the wait for the screen to show what a test
	// expects: the page loads 8 MB of WebAssembly and compiles it on a
	// shared two-core machine running -race tests.
	browserWait = 60 * time.Second
	// browserLife bounds everything one test or benchmark does with its
	// browser; the browser is killed when it ends.
	browserLife = 15 * time.Minute
	// browserPoll is how often the screen is read while waiting.
	browserPoll = 50 * time.Millisecond
)

// servedBinary returns a leasectl binary with the browser console built
// in: $LEASECTL_BIN (make test builds it with make build; startServe fails
// the test when the site is not in it), else one built once per test
// binary as make build does: scripts/build-wasm.sh, then go build.
func servedBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv("LEASECTL_BIN") != "" {
		return leasectlBinary(t)
	}
	siteBinary.once.Do(func() {
		root, err := filepath.Abs("..")
		if err == nil {
			_, err = os.Stat(filepath.Join(root, "scripts", "build-wasm.sh"))
		}
		if err != nil {
			siteBinary.err = fmt.Errorf("the module's root (for scripts/build-wasm.sh): %w", err)
			return
		}
		if siteBinary.dir, siteBinary.err = os.MkdirTemp("", "leasectl-e2e-site-"); siteBinary.err != nil {
			return
		}
		siteBinary.path = filepath.Join(siteBinary.dir, "leasectl")
		for _, argv := range [][]string{{"scripts/build-wasm.sh"}, {"go", "build", "-o", siteBinary.path, "."}} {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = root
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				siteBinary.err = fmt.Errorf("%s (set LEASECTL_BIN to a binary of make build instead): %w\n%s", strings.Join(argv, " "), err, out.String())
				return
			}
		}
	})
	if siteBinary.err != nil {
		t.Fatalf("leasectl binary with the browser console: %v", siteBinary.err)
	}
	return siteBinary.path
}

// serveProc is a running `leasectl serve`.
type serveProc struct {
	cmd *exec.Cmd
	// url is the URL serve printed to open, without a fragment.
	url            string
	stdout, stderr cliLockedBuffer
	done           chan struct{}
	err            error
}

// servedURL matches the line where serve hands over its URL.
var servedURL = regexp.MustCompile(`(?m)^leasectl serve: open (\S+)\n`)

// startServe runs `leasectl --config conf serve` on a free loopback port,
// with extraEnv added to the child environment, and waits for the URL it
// prints. A binary without the browser console fails the test. The server
// is interrupted when t ends, and must then exit with status 0.
func startServe(t testing.TB, conf string, extraEnv ...string) *serveProc {
	t.Helper()
	p := &serveProc{done: make(chan struct{})}
	p.cmd = exec.Command(servedBinary(t), "--config", conf, "serve", "--listen", "127.0.0.1:0")
	p.cmd.Env = append(childEnv(), extraEnv...)
	p.cmd.Stdin = strings.NewReader("")
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start leasectl serve: %v", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		io.Copy(&p.stdout, out)
	}()
	go func() {
		<-readDone // Wait must not run before the pipe has been read out
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })

	deadline := time.Now().Add(browserWait)
	for {
		if m := servedURL.FindStringSubmatch(p.stdout.String()); m != nil {
			p.url = m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("leasectl serve exited before printing its URL: %v\nstdout: %s\nstderr: %s", p.err, p.stdout.String(), p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("leasectl serve printed no URL within %v\nstdout: %s\nstderr: %s", browserWait, p.stdout.String(), p.stderr.String())
		}
	}
	// The page of a binary built without the console says how to build it
	// instead of loading console.js.
	resp, err := http.Get(p.url)
	if err != nil {
		t.Fatalf("GET %s: %v", p.url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("console.js")) {
		t.Fatalf("%s has no browser console built in (make build builds it, and make test sets LEASECTL_BIN to its binary): GET / = %s, %v:\n%s\nstdout: %s", p.cmd.Path, resp.Status, err, body, p.stdout.String())
	}
	return p
}

// stop interrupts the server, as an operator's ^C does, and checks that it
// exits with status 0; it kills a server that does not stop.
func (p *serveProc) stop(t testing.TB) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("leasectl serve did not stop within 30s of SIGINT; stderr:\n%s", p.stderr.String())
			return
		}
	}
	if p.err != nil {
		t.Errorf("leasectl serve: %v after SIGINT, want exit status 0; stderr:\n%s", p.err, p.stderr.String())
	}
}

// chromiumPath finds Chromium, failing the test when it is missing: a
// missing browser is a broken machine, not a reason to skip.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is needed to run the console in a browser and was not found: install it (apt-get install chromium; `make test` does)")
	return ""
}

// browserPage is one tab of a headless Chromium of its own.
type browserPage struct {
	t   testing.TB
	ctx context.Context
	// console holds what the page wrote to its console, for the log of a
	// failed test.
	console cliLockedBuffer
}

// newBrowser starts a headless Chromium for t, with a user data directory
// of its own, and opens a tab. The browser is killed when t ends, and
// browserLife after it started at the latest.
func newBrowser(t testing.TB) *browserPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(browserWidth, browserHeight),
		chromedp.DisableGPU,
	)
	life, cancelLife := context.WithTimeout(context.Background(), browserLife)
	alloc, cancelAlloc := chromedp.NewExecAllocator(life, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelLife()
	})
	p := &browserPage{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, no timeout
		t.Fatalf("start Chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			fmt.Fprintf(&p.console, "%s: %s\n", m.Type, m.Text)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the page's console:\n%s", p.console.String())
		}
	})
	return p
}

// run runs a on the page, within browserWait.
func run[T any](p *browserPage, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs steps on the page, failing the test if one fails.
func (p *browserPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if _, err := run(p, chromedp.Steps(steps...)); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates js in the page and decodes its value into T.
func eval[T any](p *browserPage, js string) T {
	p.t.Helper()
	v, err := run(p, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// screen returns the terminal's visible lines as text, one per line; ""
// until the page has its terminal.
func (p *browserPage) screen() string {
	p.t.Helper()
	return strings.Join(eval[[]string](p, `globalThis.leasectlScreen?.() ?? []`), "\n")
}

// waitScreen polls the screen until ok accepts it, and returns it; after
// browserWait it fails the test, showing the last screen.
func (p *browserPage) waitScreen(what string, ok func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %v the page does not show %s; it shows:\n%s", browserWait, what, s)
		}
		time.Sleep(browserPoll)
	}
}

// keys types keys into the terminal (which has the focus), rune by rune:
// "\r" is enter, "\x1b" esc.
func (p *browserPage) keys(keys string) {
	p.t.Helper()
	p.do(fmt.Sprintf("type %q", keys), typeKeys(keys))
}

// typeKeys presses and releases a key for each rune of keys, as a keyboard
// does: the key-down carries the text, so that the browser follows it with
// keypress and input unless the page handles the key-down (xterm.js does).
// (chromedp.KeyEvent sends the text in a separate char event, which the
// browser delivers even after the page handled the key-down, and the
// terminal would see each character twice.)
func typeKeys(keys string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range keys {
			var down, up *input.DispatchKeyEventParams
			var text, unmodified string
			for _, k := range kb.Encode(r) {
				switch k.Type {
				case kb.KeyDown:
					down = k
				case kb.KeyUp:
					up = k
				case kb.KeyChar:
					text, unmodified = k.Text, k.UnmodifiedText
				}
			}
			if down == nil || up == nil {
				return fmt.Errorf("no key for %q", r)
			}
			down.Text, down.UnmodifiedText = text, unmodified
			for _, k := range []*input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// screenshot writes a PNG of the page to path.
func (p *browserPage) screenshot(path string) {
	p.t.Helper()
	png, err := run(p, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
}

// browserRow returns the table row of key in store on screen, or "". A row
// starts with two marker cells (▶ selected, • just changed), then names
// its store and its key.
func browserRow(screen, store, key string) string {
	for _, l := range strings.Split(screen, "\n") {
		r := []rune(l)
		if len(r) < 2 {
			continue
		}
		f := strings.Fields(string(r[2:]))
		if len(f) >= 3 && f[0] == store && f[1] == key {
			return l
		}
	}
	return ""
}

// browserRows returns the table rows on screen: the lines naming a store
// of stores and then a key under browserPrefix.
func browserRows(screen string, stores ...string) []string {
	var rows []string
	for _, l := range strings.Split(screen, "\n") {
		r := []rune(l)
		if len(r) < 2 {
			continue
		}
		f := strings.Fields(string(r[2:]))
		if len(f) >= 2 && strings.HasPrefix(f[1], browserPrefix+"/") && slices.Contains(stores, f[0]) {
			rows = append(rows, l)
		}
	}
	return rows
}

// storeLine returns the stores pane's line of store: a state mark, the
// store's name, its kind and its state.
func storeLine(screen, store string) string {
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.ContainsAny(f[0], "●✗○◐") && f[1] == store {
			return l
		}
	}
	return ""
}

// storeLive reports whether the store's line says live, with no error.
func storeLive(screen, store string) bool {
	l := storeLine(screen, store)
	return strings.Contains(l, "live") && !strings.Contains(l, "error")
}

// browserStore is one of the three stores of TestBrowserConsole.
type browserStore struct {
	name string
	b    backend
	sc   scope
}

// newToken returns a random operator token.
func newToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeServeConfig writes the config of serve over stores, audited to
// audit, with carol's token in browserTokenVar, and returns its path.
func writeServeConfig(t testing.TB, dir, audit string, stores []browserStore) string {
	t.Helper()
	var conf strings.Builder
	fmt.Fprintf(&conf, "operator: %s\naudit_log: %q\nstores:\n", operator, audit)
	for _, s := range stores {
		conf.WriteString(s.sc.storeYAML(s.name, s.b.addr()))
	}
	fmt.Fprintf(&conf, "serve:\n  operators:\n    - name: %s\n      token_env: %s\n", browserOperator, browserTokenVar)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAudit returns the lines of the audit log at path; none when it does
// not exist.
func readAudit(t testing.TB, path string) []auditLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	for _, raw := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if raw == "" {
			continue
		}
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("audit line %q: %v", raw, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestBrowserConsole is the "done when": in one page of a real
// Chromium, against `leasectl serve` over a real etcd, Consul and NATS,
// the operator carol logs in with her token in the URL's fragment; the
// rows of the three stores show with their states (corrupt, expired); the
// filter narrows them; esc in the takeover modal writes nothing; a forced
// takeover through the modal (reason, typed confirmation) lands in etcd as
// carol's record, with both audit lines naming carol; stopping etcd shows
// the error on etcd's row only, and restarting it recovers.
//
// With $LEASECTL_SCREENSHOT set, the page showing the three stores is
// saved there as PNG (docs/serve.png is one).
func TestBrowserConsole(t *testing.T) {
	// Not parallel: the Consul backend clears $CONSUL_HTTP_TOKEN.
	etcdB, consulB, natsB := newEtcd(t), newConsul(t), newNATS(t)
	stores := []browserStore{
		{name: "etcd", b: etcdB, sc: etcdB.scope(t, browserPrefix)},
		{name: "consul", b: consulB, sc: consulB.scope(t, browserPrefix)},
		{name: "nats", b: natsB, sc: natsB.scope(t, browserPrefix)},
	}
	etcdS, consulS, natsS := stores[0], stores[1], stores[2]
	names := []string{etcdS.name, consulS.name, natsS.name}

	now := time.Now().Unix()
	orders, legacy := etcdS.sc.key("orders"), etcdS.sc.key("legacy")
	invoices, billing := consulS.sc.key("invoices"), consulS.sc.key("billing")
	checkpoint, broken := natsS.sc.key("checkpoint"), natsS.sc.key("broken")
	ordersValue := record("node-a", now-60, now+3600)
	planted := etcdS.sc.put(t, orders, ordersValue)
	etcdS.sc.put(t, legacy, []byte("export-lock held by billing-7"))
	consulS.sc.put(t, invoices, record("node-b", now-600, now-120))
	consulS.sc.put(t, billing, record("node-c", now-30, now+1800))
	natsS.sc.put(t, checkpoint, record("node-d", now-90, now+900))
	natsS.sc.put(t, broken, []byte(`{"holder_id":"torn`))

	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	conf := writeServeConfig(t, dir, audit, stores)
	token := newToken(t)
	srv := startServe(t, conf, browserTokenVar+"="+token)
	if strings.Contains(srv.url, "#") {
		t.Errorf("serve printed %q: with serve.operators configured there is no one-time token to hand over", srv.url)
	}

	p := newBrowser(t)
	p.do("open the console", chromedp.Navigate(srv.url+"#token="+token))
	main := p.waitScreen("the rows of the three stores", func(s string) bool {
		return hasField(browserRow(s, etcdS.name, orders), "node-a") &&
			browserRow(s, etcdS.name, legacy) != "" &&
			browserRow(s, consulS.name, invoices) != "" &&
			hasField(browserRow(s, consulS.name, billing), "node-c") &&
			hasField(browserRow(s, natsS.name, checkpoint), "node-d") &&
			browserRow(s, natsS.name, broken) != "" &&
			storeLive(s, etcdS.name) && storeLive(s, consulS.name) && storeLive(s, natsS.name)
	})
	saveScreen(t, "browser-main", main)
	if path := os.Getenv("LEASECTL_SCREENSHOT"); path != "" {
		p.screenshot(path)
		t.Logf("screenshot saved to %s", path)
	}
	for _, c := range []struct{ store, key, state string }{
		{etcdS.name, orders, "held"},
		{etcdS.name, legacy, "corrupt"},
		{consulS.name, invoices, "expired"},
		{consulS.name, billing, "held"},
		{natsS.name, checkpoint, "held"},
		{natsS.name, broken, "corrupt"},
	} {
		if l := browserRow(main, c.store, c.key); !hasField(l, c.state) {
			t.Errorf("row of %s %s = %q, want it %s", c.store, c.key, l, c.state)
		}
	}
	if h := lineWith(main, "leasectl"); !strings.Contains(h, "operator:"+browserOperator) {
		t.Errorf("header = %q, want the session's operator, operator:%s", h, browserOperator)
	}
	if h := eval[string](p, `location.hash`); h != "" {
		t.Errorf("after logging in the address still has the fragment %q: the token must not stay in the address bar or history", h)
	}

	// The filter: only the rows that match.
	p.keys("/")
	p.keys("orders")
	filtered := p.waitScreen("only browser/orders", func(s string) bool {
		rows := browserRows(s, names...)
		return len(rows) == 1 && browserRow(s, etcdS.name, orders) != ""
	})
	saveScreen(t, "browser-filtered", filtered)
	p.keys("\r")
	p.waitScreen("browser/orders selected", func(s string) bool {
		return strings.HasPrefix(browserRow(s, etcdS.name, orders), "▶")
	})

	// fillTakeover opens the takeover modal on the selected row and fills
	// it: the ttl as offered, the reason, the confirmation.
	const reason = "incident 4711: exporter wedged"
	fillTakeover := func() string {
		p.keys("T")
		p.waitScreen("the takeover modal", func(s string) bool {
			return strings.Contains(s, "FORCE TAKEOVER") && strings.Contains(s, orders)
		})
		p.keys("\r")
		p.keys(reason)
		p.keys("\r")
		p.keys("orders")
		return p.waitScreen(`the reason, and the confirm field holding "orders"`, func(s string) bool {
			l := lineWith(s, "confirm", "orders")
			return strings.Contains(s, reason) && l != "" && !strings.Contains(l, "to confirm")
		})
	}

	// esc in the filled modal writes nothing.
	modal := fillTakeover()
	saveScreen(t, "browser-takeover", modal)
	for _, want := range []string{"holder   node-a", "holder   operator:" + browserOperator} {
		if !strings.Contains(modal, want) {
			t.Errorf("the takeover modal does not show %q:\n%s", want, modal)
		}
	}
	p.keys("\x1b")
	p.waitScreen("the modal closed, nothing written", func(s string) bool {
		return !dialogOpen(s) && strings.Contains(statusLine(s), "cancelled: nothing was written")
	})
	if v, rev, _ := etcdS.sc.get(t, orders); !bytes.Equal(v, ordersValue) || rev != planted {
		t.Fatalf("%s = %q at revision %d after esc in the modal, want %q at %d untouched", orders, v, rev, ordersValue, planted)
	}
	if lines := readAudit(t, audit); len(lines) != 0 {
		t.Fatalf("esc in the modal wrote %d audit lines, want none: %+v", len(lines), lines)
	}

	// The takeover, confirmed.
	fillTakeover()
	p.keys("\r")
	done := p.waitScreen("the takeover won, carol holding browser/orders", func(s string) bool {
		return strings.Contains(s, "won: took over "+etcdS.name+"/"+orders) &&
			strings.Contains(browserRow(s, etcdS.name, orders), "operator:"+browserOperator)
	})
	saveScreen(t, "browser-won", done)
	value, rev, ok := etcdS.sc.get(t, orders)
	if !ok {
		t.Fatalf("%s is absent after the takeover", orders)
	}
	r, err := lease.Decode(value)
	if err != nil {
		t.Fatalf("Decode(%q) = %v, want carol's record", value, err)
	}
	if want := lease.OperatorHolder(browserOperator); r.HolderID != want {
		t.Errorf("after the takeover %s is held by %q, want %q", orders, r.HolderID, want)
	}
	if rev <= planted {
		t.Errorf("after the takeover %s is at revision %d, want past the planted %d", orders, rev, planted)
	}
	lines := readAudit(t, audit)
	if len(lines) != 2 {
		t.Fatalf("the audit log has %d lines after the takeover, want 2 (intent, won): %+v", len(lines), lines)
	}
	for i, want := range []lease.Outcome{lease.OutcomePending, lease.OutcomeWon} {
		l := lines[i]
		if l.Operator != browserOperator || l.Store != etcdS.name || l.Key != orders || l.Action != lease.ActionTakeover.String() || l.Reason != reason || l.Outcome != want.String() {
			t.Errorf("audit line %d = operator %q store %q key %q %s %q %s; want operator %q store %q key %q %s %q %s",
				i, l.Operator, l.Store, l.Key, l.Action, l.Reason, l.Outcome,
				browserOperator, etcdS.name, orders, lease.ActionTakeover, reason, want)
		}
		if l.RevisionBefore != planted {
			t.Errorf("audit line %d: revision before %d, want the revision on screen, %d", i, l.RevisionBefore, planted)
		}
	}
	if l := lines[1]; l.RevisionAfter != rev || !bytes.Equal(l.ValueAfter, value) {
		t.Errorf("audit result: after = %q at %d, want %q at %d as stored", l.ValueAfter, l.RevisionAfter, value, rev)
	}

	// esc clears the filter: every row again.
	p.keys("\x1b")
	p.waitScreen("the rows of the three stores again", func(s string) bool {
		return len(browserRows(s, names...)) == 6
	})

	// etcd goes down: its row shows the error, the others stay live.
	etcdB.srv.Stop()
	t.Log("etcd stopped")
	down := p.waitScreen("the error on etcd's row", func(s string) bool {
		return strings.Contains(storeLine(s, etcdS.name), "error")
	})
	saveScreen(t, "browser-etcd-down", down)
	for _, name := range []string{consulS.name, natsS.name} {
		if !storeLive(down, name) {
			t.Errorf("with etcd down, the line of %s = %q, want it live", name, storeLine(down, name))
		}
	}
	etcdB.srv.Restart(t)
	t.Log("etcd restarted")
	back := p.waitScreen("etcd live again, carol's lease on its row", func(s string) bool {
		return storeLive(s, etcdS.name) && strings.Contains(browserRow(s, etcdS.name, orders), "operator:"+browserOperator)
	})
	saveScreen(t, "browser-etcd-back", back)
	for _, name := range []string{consulS.name, natsS.name} {
		if !storeLive(back, name) {
			t.Errorf("after etcd came back, the line of %s = %q, want it live", name, storeLine(back, name))
		}
	}
	if n := len(readAudit(t, audit)); n != 2 {
		t.Errorf("the audit log has %d lines at the end, want the takeover's 2", n)
	}

	// Carol's token went over the API only: no log of serve holds it.
	if strings.Contains(srv.stderr.String(), token) || strings.Contains(srv.stdout.String(), token) {
		t.Errorf("serve's output holds carol's token:\nstdout: %s\nstderr: %s", srv.stdout.String(), srv.stderr.String())
	}
}

// firstRowsProbe, evaluated in each new document before the page's own
// scripts, records the page's times (performance.now(), from navigation)
// of the first frame the console writes (leasectlFirstFrame), of the
// first frame that shows a lease row of store etcd (leasectlFirstRows),
// and of the first whose header counts every lease, %d of them
// (leasectlAllRows).
const firstRowsProbe = `(() => {
  const row = /^.{2}etcd +browser\//u;
  const all = "%d leases";
  globalThis.leasectlOnFrame = () => {
    if (globalThis.leasectlAllRows !== undefined) return;
    const now = performance.now();
    globalThis.leasectlFirstFrame ??= now;
    const screen = globalThis.leasectlScreen();
    if (globalThis.leasectlFirstRows === undefined && screen.some((l) => row.test(l))) {
      globalThis.leasectlFirstRows = now;
    }
    if (globalThis.leasectlFirstRows !== undefined && screen[0].includes(all)) {
      globalThis.leasectlAllRows = now;
    }
  };
})()`

// firstRowsTimes reads what firstRowsProbe recorded, with when the page
// had its WebAssembly (the end of leasectl.wasm's response); null until
// every row is in.
const firstRowsTimes = `globalThis.leasectlAllRows === undefined ? null : {
  all: globalThis.leasectlAllRows,
  rows: globalThis.leasectlFirstRows,
  frame: globalThis.leasectlFirstFrame,
  wasm: performance.getEntriesByType("resource").find((e) => e.name.endsWith("/leasectl.wasm"))?.responseEnd ?? 0,
}`

// firstRows is firstRowsTimes's answer, in milliseconds from navigation.
type firstRows struct {
	All   float64 `json:"all"`
	Rows  float64 `json:"rows"`
	Frame float64 `json:"frame"`
	Wasm  float64 `json:"wasm"`
}

// waitFirstRows waits for the page's first frame with rows and returns
// firstRowsTimes.
func waitFirstRows(p *browserPage) firstRows {
	p.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		if v := eval[*firstRows](p, firstRowsTimes); v != nil {
			return *v
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("not every lease row within %v; the page shows:\n%s", browserWait, p.screen())
		}
		time.Sleep(browserPoll)
	}
}

// writeProbe records, for each holder named w-NNNN that a frame shows,
// the wall-clock time in milliseconds (timeOrigin + performance.now()) of
// the frame parsed and of the next animation frame (painted).
const writeProbe = `(() => {
  const holder = /\bw-\d{4}\b/u;
  globalThis.leasectlSeen = {};
  globalThis.leasectlOnFrame = () => {
    const now = performance.timeOrigin + performance.now();
    for (const l of globalThis.leasectlScreen()) {
      const m = holder.exec(l);
      if (m && !(m[0] in globalThis.leasectlSeen)) {
        const seen = { parsed: now, painted: 0 };
        globalThis.leasectlSeen[m[0]] = seen;
        requestAnimationFrame(() => { seen.painted = performance.timeOrigin + performance.now(); });
      }
    }
  };
})()`

// BenchmarkBrowser measures the console in a headless Chromium against
// `leasectl serve` over a real etcd holding $LEASECTL_BENCH_LEASES leases
// (default 1,000; a mix of held, expired and corrupt):
//
//   - first-rows: from navigation (the page's performance.now()) to the
//     first frame showing a lease row, in a fresh browser profile (nothing
//     cached), then again with the site cached, logging in with the token
//     in the URL each time;
//   - write-to-row: from a write to etcd (its native client) to the frame
//     that shows the new holder on its row, p50 and p99 over 50 writes.
//
// Timings are reported, never asserted. Compare write-to-row with
// BenchmarkWatchToRender, the terminal console's figure, in the same run.
func BenchmarkBrowser(b *testing.B) {
	n := 1000
	if s := os.Getenv("LEASECTL_BENCH_LEASES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			b.Fatalf("LEASECTL_BENCH_LEASES=%q: want a positive count", s)
		}
	}
	etcdB := newEtcd(b)
	st := browserStore{name: "etcd", b: etcdB, sc: etcdB.scope(b, browserPrefix)}
	plantFleet(b, st.sc, n)
	probeKey := st.sc.key("a-probe") // sorts first: its row is on screen
	now := time.Now().Unix()
	st.sc.put(b, probeKey, record("w-0000", now, now+3600))
	dir := b.TempDir()
	token := newToken(b)
	srv := startServe(b, writeServeConfig(b, dir, filepath.Join(dir, "audit.jsonl"), []browserStore{st}), browserTokenVar+"="+token)
	open := srv.url + "#token=" + token

	b.Run(fmt.Sprintf("first-rows/leases=%d", n), func(b *testing.B) {
		var cold, warm, all []float64
		probe := fmt.Sprintf(firstRowsProbe, n+1) // the fleet and the probe's key
		for b.Loop() {
			p := newBrowser(b) // a fresh profile: nothing cached
			p.do("open the console",
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					return addProbe(ctx, t, probe)
				}),
				chromedp.Navigate(open))
			c := waitFirstRows(p)
			// Again in the same profile: the site comes from the cache.
			// (about:blank first: the same URL would only move to the
			// fragment, not load the page.)
			p.do("open the console again", chromedp.Navigate("about:blank"), chromedp.Navigate(open))
			w := waitFirstRows(p)
			cold, warm, all = append(cold, c.Rows), append(warm, w.Rows), append(all, c.All)
			b.Logf("first frame with rows, %d leases: %.0f ms from navigation (wasm in at %.0f ms, first frame %.0f ms, every row %.0f ms); with the site cached: %.0f ms (wasm %.0f, first frame %.0f, every row %.0f)",
				n, c.Rows, c.Wasm, c.Frame, c.All, w.Rows, w.Wasm, w.Frame, w.All)
		}
		b.ReportMetric(medianFloat(cold), "ms-first-rows")
		b.ReportMetric(medianFloat(warm), "ms-first-rows-cached")
		b.ReportMetric(medianFloat(all), "ms-all-rows")
	})

	b.Run("write-to-row/writes=50", func(b *testing.B) {
		p := newBrowser(b)
		p.do("open the console",
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				return addProbe(ctx, t, writeProbe)
			}),
			chromedp.Navigate(open))
		p.waitScreen("the probe's row", func(s string) bool { return hasField(browserRow(s, st.name, probeKey), "w-0000") })
		var parsed, painted []time.Duration
		i := 0
		for b.Loop() {
			for range 50 {
				i++
				holder := fmt.Sprintf("w-%04d", i)
				at := time.Now()
				now := at.Unix()
				st.sc.put(b, probeKey, record(holder, now, now+3600))
				deadline := time.Now().Add(browserWait)
				for {
					v := eval[*frameSeen](p, fmt.Sprintf(`globalThis.leasectlSeen[%q] ?? null`, holder))
					if v != nil && v.Painted > 0 {
						from := float64(at.UnixNano()) / 1e6
						parsed = append(parsed, time.Duration((v.Parsed-from)*1e6))
						painted = append(painted, time.Duration((v.Painted-from)*1e6))
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("%s did not show within %v; the page shows:\n%s", holder, browserWait, p.screen())
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		for _, s := range []struct {
			name string
			ds   []time.Duration
		}{{"parsed", parsed}, {"painted", painted}} {
			sorted := slices.Clone(s.ds)
			slices.Sort(sorted)
			p50, p99 := latPercentile(sorted, 0.50), latPercentile(sorted, 0.99)
			b.ReportMetric(latMs(p50), "ms-p50-"+s.name)
			b.ReportMetric(latMs(p99), "ms-p99-"+s.name)
			b.Logf("etcd write → row %s in the browser, %d writes: p50 %.1f ms, p99 %.1f ms, max %.1f ms", s.name, len(sorted), latMs(p50), latMs(p99), latMs(sorted[len(sorted)-1]))
		}
	})
}

// frameSeen is what writeProbe records of a holder: when a frame showing it
// was parsed and painted, in wall-clock milliseconds.
type frameSeen struct {
	Parsed  float64 `json:"parsed"`
	Painted float64 `json:"painted"`
}

// addProbe has the page evaluate js in each new document, before the
// page's own scripts.
func addProbe(ctx context.Context, t *chromedp.Target, js string) error {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
	return err
}

// medianFloat returns the median of xs.
func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
