//go:build unix

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestConsoleStaleProduction runs the real console on a real etcd
// configured as a red production store: its dialogs carry the production
// banner; when the server goes down the rows stay, marked stale with the
// age of their data, and a dialog says so; when it is back and the fleet
// writes again, the rows are current again.
func TestConsoleStaleProduction(t *testing.T) {
	t.Parallel()
	srv := etcdOutage{newEtcd(t)}
	f := newFixture(t, srv, consolePrefix, false)
	conf, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	conf = append(conf, "    color: \"#d70000\"\n    production: true\n"...)
	if err := os.WriteFile(f.config, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	f.scope.put(t, orders, record("node-a", now-60, now+600))

	tm := startConsole(t, consoleEnv(), f.args()...)
	tm.waitFor("the lease held, the store live and marked production", func(s string) bool {
		pane := lineWith(s, storeName, "·")
		return hasField(rowLine(s, orders), "held") && strings.Contains(pane, "live") && strings.Contains(pane, "PRODUCTION")
	})
	tm.keys("T")
	s := tm.waitText("FORCE TAKEOVER", "PRODUCTION · "+storeName)
	saveScreen(t, "production-dialog", s)
	if strings.Contains(s, "STALE") {
		t.Errorf("a dialog on a live store says stale")
	}
	tm.keys("Escape")

	srv.stop()
	t.Log("server stopped")
	s = tm.waitFor("the rows marked stale", func(s string) bool {
		l := rowLine(s, orders)
		return strings.Contains(l, "stale ") && strings.Contains(lineWith(s, storeName, "·"), "rows stale")
	})
	// The age of the data counts up.
	s = tm.waitFor("the age of the stale rows counting", func(s string) bool {
		l := rowLine(s, orders)
		return strings.Contains(l, "stale ") && !strings.Contains(l, "stale 0s")
	})
	saveScreen(t, "stale-rows", s)
	if l := rowLine(s, orders); !hasField(l, "held") || !strings.Contains(l, "node-a") {
		t.Errorf("the stale row does not show the lease as last seen: %q", l)
	}
	tm.keys("T")
	s = tm.waitText("PRODUCTION · "+storeName, "STALE", "is in error, so this is the lease as last seen")
	saveScreen(t, "stale-dialog", s)
	tm.keys("Escape")

	srv.restart(t)
	t.Log("server restarted")
	// A watch that resumes sends nothing until a key changes: the fleet
	// writes, as a live fleet does.
	deadline := time.Now().Add(screenTimeout)
	for {
		s = tm.screen()
		if l := rowLine(s, orders); hasField(l, "node-b") && !strings.Contains(l, "stale") && !strings.Contains(s, "rows stale") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rows are not current again after the server came back:\n%s", s)
		}
		now := time.Now().Unix()
		srv.put(t, orders, record("node-b", now, now+600))
		time.Sleep(time.Second)
	}
	saveScreen(t, "recovered", s)
}
