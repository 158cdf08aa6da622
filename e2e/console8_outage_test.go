//go:build unix

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/natskv"
)

// The outage tests take the store's server down under an open takeover
// dialog, confirm it, then abandon it (esc) or let it give up (its
// deadline), bring the server back, and check that nothing landed: not
// right away, and not after the client reconnected and had every chance to
// send what it may have queued. The audit log must say how the action ended
// — cancelled, error or unknown, never won.

// outageServer is a store server a test can stop and start again on the
// same port and data, with its native client.
type outageServer interface {
	backend
	stop()
	restart(t testing.TB)
}

type etcdOutage struct{ *etcdBackend }

func (e etcdOutage) stop()                { e.srv.Stop() }
func (e etcdOutage) restart(t testing.TB) { e.srv.Restart(t) }

type natsOutage struct{ *natsBackend }

func (n natsOutage) stop()                { n.srv.Stop() }
func (n natsOutage) restart(t testing.TB) { n.srv.Restart(t) }

// outageServers are the stores whose servers keep their data across a
// restart (for Consul, whose -dev agent does not, see
// TestConsoleOutageConsul).
//
// waits says whether the driver's calls wait for a server that is down
// (etcd's gRPC client waits for the connection until the call's context
// ends), so that the console shows the action running with its deadline;
// NATS fails at once, having nothing to send a request on.
var outageServers = []struct {
	name  string
	waits bool
	start func(t *testing.T) outageServer
}{
	{"etcd", true, func(t *testing.T) outageServer { return etcdOutage{newEtcd(t)} }},
	{"nats", false, func(t *testing.T) outageServer { return natsOutage{newNATS(t)} }},
}

// landingGrace is how long a test waits, after the server is back and the
// console has reconnected, for a write a client may have queued to land.
const landingGrace = 3 * time.Second

// waitSoft is waitFor that reports a timeout as an error and goes on, so
// that a test can still check the store and the audit log (what matters
// most) when the screen did not show what it should.
func (tm *term) waitSoft(what string, timeout time.Duration, ok func(screen string) bool) (string, bool) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tm.screen()
		if ok(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			tm.t.Errorf("after %v the screen does not show %s; it shows:\n%s", timeout, what, s)
			return s, false
		}
		time.Sleep(pollInterval)
	}
}

// statusLine returns the console's status line: the line above the key
// help, which is the screen's last.
func statusLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[len(lines)-2]
}

// outcomeShown reports whether the status line tells how an action ended.
func outcomeShown(screen string) bool {
	s := statusLine(screen)
	for _, w := range []string{"nothing was written", "not known whether", "won:", "landed", "failed"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func TestConsoleOutage(t *testing.T) {
	t.Parallel()
	for _, srv := range outageServers {
		for _, how := range []string{"esc", "deadline"} {
			t.Run(srv.name+"/"+how, func(t *testing.T) {
				testConsoleOutage(t, srv.start(t), srv.waits, true, how == "esc")
			})
		}
	}
}

type consulOutage struct{ *consulBackend }

func (c consulOutage) stop()                { c.agent.Stop() }
func (c consulOutage) restart(t testing.TB) { c.agent.Restart(t) }

// TestConsoleOutageConsul is TestConsoleOutage for Consul. Its client is
// plain HTTP: while the agent is down a call fails at once, and nothing is
// queued. A -dev agent keeps its state in memory, so after the restart the
// key is gone: what is checked is that nothing wrote it back. (It cannot
// run in parallel: the Consul backend clears $CONSUL_HTTP_TOKEN.)
func TestConsoleOutageConsul(t *testing.T) {
	for _, how := range []string{"esc", "deadline"} {
		t.Run(how, func(t *testing.T) {
			testConsoleOutage(t, consulOutage{newConsul(t)}, false, false, how == "esc")
		})
	}
}

// testConsoleOutage plants an expired lease, fills the takeover dialog,
// stops the server and confirms; then presses esc (esc) or waits for the
// action's deadline, restarts the server and checks the key and the audit
// log.
func testConsoleOutage(t *testing.T, srv outageServer, waits, keeps, esc bool) {
	f := newFixture(t, srv, consolePrefix, false)
	orders := f.scope.key("orders")
	now := time.Now().Unix()
	value := record("node-a", now-600, now-60)
	planted := f.scope.put(t, orders, value)

	// esc must end the action, not its deadline: give it one far away.
	timeout := "60s"
	if !esc {
		timeout = "3s"
	}
	tm := startConsole(t, consoleEnv(), f.args("--timeout", timeout)...)
	tm.waitFor("the expired lease, the store live", func(s string) bool {
		return hasField(rowLine(s, orders), "expired") && strings.Contains(lineWith(s, storeName, "·"), "live")
	})
	tm.keys("T")
	tm.waitText("FORCE TAKEOVER", orders)
	tm.keys("Tab")
	const reason = "incident 4711: exporter wedged"
	tm.typeText(reason)
	tm.keys("Tab")
	tm.typeText("orders")
	tm.waitFor(`the confirm field holding "orders"`, func(s string) bool {
		l := lineWith(s, "confirm", "orders")
		return l != "" && !strings.Contains(l, "to confirm")
	})

	srv.stop()
	t.Log("server stopped")
	tm.waitFor("the console noticing the outage", func(s string) bool {
		return strings.Contains(lineWith(s, storeName, "·"), "error")
	})
	tm.keys("Enter")
	busy, ok := tm.waitSoft("the action running with its deadline, or its outcome", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "gives up in") || outcomeShown(s)
	})
	saveScreen(t, "outage-busy", busy)
	if waits && !strings.Contains(busy, "gives up in") {
		t.Errorf("the console does not show the action running with its deadline (gives up in …)")
	}
	if ok && !outcomeShown(busy) {
		if l := lineWith(busy, "gives up in"); !strings.Contains(l, "esc abandons") {
			t.Errorf("the busy dialog's line = %q, want it to offer esc", l)
		}
		if esc {
			tm.keys("Escape")
			// A driver that fails at once may have ended the action
			// before esc reached the console.
			s, _ := tm.waitSoft("the dialog closed and the action abandoned", 5*time.Second, func(s string) bool {
				return !dialogOpen(s) && (strings.Contains(statusLine(s), "abandon") || !waits && outcomeShown(s))
			})
			saveScreen(t, "outage-esc", s)
		}
	}
	done, _ := tm.waitSoft("the action's outcome", 30*time.Second, outcomeShown)
	saveScreen(t, "outage-outcome", done)
	if st := statusLine(done); strings.Contains(st, "won:") {
		t.Errorf("the status line reports a win with the store down: %q", st)
	} else if esc && waits && !strings.Contains(st, "abandoned") {
		t.Errorf("status line = %q, want the action reported abandoned", st)
	} else if !esc && waits && !strings.Contains(st, "gave up") {
		t.Errorf("status line = %q, want it to say the action gave up", st)
	}

	srv.restart(t)
	t.Log("server restarted")
	// The console's client must be back before the grace period starts: a
	// re-list that goes through shows the store live without an error.
	tm.waitSoft("the console reading the store again", 60*time.Second, func(s string) bool {
		if l := lineWith(s, storeName, "·"); strings.Contains(l, "live") && !strings.Contains(l, "error") {
			return true
		}
		tm.keys("r")
		time.Sleep(500 * time.Millisecond)
		return false
	})
	time.Sleep(landingGrace)
	switch got, rev, ok := f.scope.get(t, orders); {
	case !keeps && ok:
		t.Errorf("%s = %q at revision %d after the server came back empty, want it absent: the abandoned takeover landed", orders, got, rev)
	case keeps && (!bytes.Equal(got, value) || rev != planted):
		t.Errorf("%s = %q at revision %d after the server came back, want %q at %d: the abandoned takeover landed", orders, got, rev, value, planted)
	}
	lines := checkAudit(t, f.audit, 1)
	if len(lines) == 2 {
		if o := lines[1].Outcome; !slices.Contains([]string{"cancelled", "error", "unknown"}, o) {
			t.Errorf("audit result = %q, want cancelled, error or unknown", o)
		}
		if lines[0].Reason != reason || lines[1].Key != orders {
			t.Errorf("audit lines = %+v, want the takeover of %s for %q", lines, orders, reason)
		}
	}
	for _, l := range lines {
		t.Logf("audit: %s %s %s", l.Action, l.Key, l.Outcome)
	}
}

// TestAbandonedWriteDoesNotLand calls each driver's Update while its server
// is down, gives up on it, and brings the server back: a client that
// queued the write while it reconnected would send it now. The key must
// keep its value.
func TestAbandonedWriteDoesNotLand(t *testing.T) {
	t.Parallel()
	type updater interface {
		Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
		Close() error
	}
	dial := map[string]func(t *testing.T, srv outageServer, sc scope) updater{
		"etcd": func(t *testing.T, srv outageServer, _ scope) updater {
			st, err := etcd.Dial(t.Context(), etcd.Config{Endpoints: []string{"http://" + srv.addr()}})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"nats": func(t *testing.T, srv outageServer, sc scope) updater {
			st, err := natskv.Dial(t.Context(), natskv.Config{URL: "nats://" + srv.addr(), Bucket: sc.(*bucketScope).kv.Bucket()})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
	for _, s := range outageServers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			sc := srv.scope(t, "abandon")
			key := sc.key("orders")
			planted := sc.put(t, key, []byte("before"))
			st := dial[s.name](t, srv, sc)
			defer st.Close()

			srv.stop()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err := st.Update(ctx, key, []byte("after"), planted)
			cancel()
			t.Logf("Update with the server down: %v", err)
			if err == nil {
				t.Fatal("Update succeeded with the server down")
			}
			srv.restart(t)
			// Give the client time to reconnect and flush what it kept.
			deadline := time.Now().Add(20 * time.Second)
			for {
				pctx, cancel := context.WithTimeout(t.Context(), time.Second)
				_, perr := st.Update(pctx, sc.key("probe"), []byte("x"), 1)
				cancel()
				if perr == nil || !errors.Is(perr, context.DeadlineExceeded) && !strings.Contains(perr.Error(), "buffer") && !strings.Contains(perr.Error(), "unavailable") {
					break // the server answered: the client is connected
				}
				if time.Now().After(deadline) {
					t.Fatalf("the client did not reconnect: %v", perr)
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(landingGrace)
			if v, rev, _ := sc.get(t, key); string(v) != "before" || rev != planted {
				t.Errorf("%s = %q at revision %d after the server came back, want %q at %d: the abandoned write landed", key, v, rev, "before", planted)
			}
		})
	}
}

// TestCLIShowsDeadline runs a takeover whose write reaches the store but
// whose answer is held: after a second the command says it is waiting for
// the store, when it gives up and how to abandon it; once it has given up
// (and read the key back), it reports the true outcome.
func TestCLIShowsDeadline(t *testing.T) {
	t.Parallel()
	b := newEtcd(t)
	sc := b.scope(t, "deadline")
	proxy := newCliStallProxy(t, b.addr())
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "operator: %s\naudit_log: %q\nstores:\n%s", operator, audit, sc.storeYAML(storeName, proxy.addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	key := sc.key("exports/orders")
	now := time.Now().Unix()
	seen := sc.put(t, key, record("node-a", now, now+3600))
	proxy.arm(gateValueMarkers(`{"holder_id":"operator:`))
	p := cliStart(t, "--config", conf, "--timeout", "3s", "takeover", key, "--store", storeName,
		"--ttl", "10m", "--reason", "slow store", "--revision", strconv.FormatUint(seen, 10), "--yes")
	select {
	case <-proxy.triggered():
	case <-p.done:
		t.Fatalf("leasectl exited before its write reached the store: %v", p.wait(t))
	}
	notice := regexp.MustCompile(`leasectl: waiting for the store \(gives up at \d\d:\d\d:\d\d; interrupt twice to abandon\)`)
	deadline := time.Now().Add(10 * time.Second)
	for !notice.MatchString(p.stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("leasectl did not say it was waiting for the store and until when; stderr: %q", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // past --timeout: the action gave up on the write
	proxy.release()
	r := p.wait(t)
	trail, _ := cliAudit(t, audit)
	t.Logf("exit %d, audit %v, stderr: %s", r.code, trail, r.stderr)
	if len(trail) != 2 || (trail[1] != "takeover/won" && trail[1] != "takeover/unknown") {
		t.Errorf("audit = %v, want an intent and won (the write landed) or unknown", trail)
	}
}
