//go:build unix

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserStaleProduction is TestConsoleStaleProduction in a real
// Chromium against `leasectl serve`: the store's production mark and
// colour travel from the server's config to the page, whose dialogs carry
// the banner; when etcd goes down the rows stay, marked stale, and a
// dialog says so; when it is back and the fleet writes, they are current.
func TestBrowserStaleProduction(t *testing.T) {
	etcdB := newEtcd(t)
	st := browserStore{name: "prod", b: etcdB, sc: etcdB.scope(t, browserPrefix)}
	orders := st.sc.key("orders")
	now := time.Now().Unix()
	st.sc.put(t, orders, record("node-a", now-60, now+3600))

	dir := t.TempDir()
	conf := writeServeConfig(t, dir, filepath.Join(dir, "audit.jsonl"), []browserStore{st})
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	marked := strings.Replace(string(b), "serve:\n", "    color: \"#d70000\"\n    production: true\nserve:\n", 1)
	if err := os.WriteFile(conf, []byte(marked), 0o600); err != nil {
		t.Fatal(err)
	}
	token := newToken(t)
	srv := startServe(t, conf, browserTokenVar+"="+token)

	p := newBrowser(t)
	p.do("open the console", chromedp.Navigate(srv.url+"#token="+token))
	p.waitScreen("the row, the store live and marked production", func(s string) bool {
		return hasField(browserRow(s, st.name, orders), "node-a") && storeLive(s, st.name) && strings.Contains(storeLine(s, st.name), "PRODUCTION")
	})
	p.keys("T")
	s := p.waitScreen("the takeover dialog with the production banner", func(s string) bool {
		return strings.Contains(s, "FORCE TAKEOVER") && strings.Contains(s, "PRODUCTION · "+st.name)
	})
	saveScreen(t, "browser-production-dialog", s)
	p.keys("\x1b")

	etcdB.srv.Stop()
	t.Log("etcd stopped")
	s = p.waitScreen("the rows marked stale", func(s string) bool {
		return strings.Contains(browserRow(s, st.name, orders), "stale ") && strings.Contains(storeLine(s, st.name), "rows stale")
	})
	saveScreen(t, "browser-stale-rows", s)
	if l := browserRow(s, st.name, orders); !hasField(l, "held") || !strings.Contains(l, "node-a") {
		t.Errorf("the stale row does not show the lease as last seen: %q", l)
	}
	p.keys("T")
	s = p.waitScreen("the dialog saying its lease is stale", func(s string) bool {
		return strings.Contains(s, "PRODUCTION · "+st.name) && strings.Contains(s, "is in error, so this is the lease as last seen")
	})
	saveScreen(t, "browser-stale-dialog", s)
	p.keys("\x1b")

	etcdB.srv.Restart(t)
	t.Log("etcd restarted")
	// The fleet writes, as a live fleet does, until the page shows it.
	deadline := time.Now().Add(browserWait)
	for {
		s = p.screen()
		if l := browserRow(s, st.name, orders); hasField(l, "node-b") && !strings.Contains(l, "stale") && storeLive(s, st.name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rows are not current again after etcd came back:\n%s", s)
		}
		now := time.Now().Unix()
		st.sc.put(t, orders, record("node-b", now, now+600))
		time.Sleep(time.Second)
	}
	saveScreen(t, "browser-recovered", s)
}
