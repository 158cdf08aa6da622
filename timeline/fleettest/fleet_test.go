package fleettest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/cli"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
	"github.com/leasectl/leasectl/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sharedEtcd is the embedded etcd of the etcd test, started by it.
var sharedEtcd etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	sharedEtcd.Close()
	os.Exit(code)
}

const (
	key    = "exports/orders"
	ttl    = time.Minute
	width  = 80
	nowSec = 900 // the viewer's clock, seconds after t0
)

// t0 is the fleet's first round: fixed, so that the strip is the same on
// every run.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// clock is the scripted wall clock every replica and the operator read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// at moves the clock to t0 plus s seconds.
func (c *clock) at(s int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t0.Add(time.Duration(s) * time.Second)
}

// fleet runs the scripted replicas on one store.
type fleet struct {
	t        *testing.T
	store    stores.Store
	clock    *clock
	replicas map[string]*lease.Lease
	op       *lease.Operator
	// wrote is told the revision of every write, once it is made.
	wrote func(rev uint64)
}

func newFleet(t *testing.T, s stores.Store, auditPath string, wrote func(uint64)) *fleet {
	t.Helper()
	f := &fleet{t: t, store: s, clock: &clock{t: t0}, replicas: map[string]*lease.Lease{}, wrote: wrote}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		l, err := lease.New(s, key, name, lease.WithClock(f.clock.Now), lease.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		f.replicas[name] = l
	}
	log, err := audit.NewFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	f.op, err = lease.NewOperator(s, "fleet", "alice", lease.WithOperatorClock(f.clock.Now),
		lease.WithAuditor(log), lease.WithHost("test"), lease.WithCallTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// round triggers the replicas in order at s seconds: the first wins, the
// others lose.
func (f *fleet) round(s int, winner string, others ...string) *lease.Guard {
	f.t.Helper()
	f.clock.at(s)
	g, err := f.replicas[winner].TryAcquire(f.t.Context(), ttl)
	if err != nil {
		f.t.Fatalf("t=%d: %s TryAcquire = %v, want won", s, winner, err)
	}
	f.wrote(g.Revision())
	f.lose(s, others...)
	return g
}

// lose triggers replicas that must all lose at s seconds.
func (f *fleet) lose(s int, names ...string) {
	f.t.Helper()
	f.clock.at(s)
	for _, n := range names {
		if g, err := f.replicas[n].TryAcquire(f.t.Context(), ttl); !errors.Is(err, lease.ErrHeld) {
			f.t.Fatalf("t=%d: %s TryAcquire = %v, %v; want ErrHeld", s, n, g, err)
		}
	}
}

func (f *fleet) complete(s int, g *lease.Guard, cursor uint64) {
	f.t.Helper()
	f.clock.at(s)
	if err := g.Complete(f.t.Context(), lease.CursorFromRevision(cursor)); err != nil {
		f.t.Fatalf("t=%d: Complete = %v", s, err)
	}
	f.wrote(g.Revision())
}

func (f *fleet) abandon(s int, g *lease.Guard) {
	f.t.Helper()
	f.clock.at(s)
	before := g.Revision()
	g.Abandon(f.t.Context())
	if g.Revision() == before {
		f.t.Fatalf("t=%d: Abandon wrote nothing", s)
	}
	f.wrote(g.Revision())
}

// corrupt overwrites the record with bytes that are not one, as a broken
// tool would.
func (f *fleet) corrupt(s int) {
	f.t.Helper()
	f.clock.at(s)
	e, err := f.store.Get(f.t.Context(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	rev, err := f.store.Update(f.t.Context(), key, []byte(`{"holder_id":"node-x"`), e.Revision)
	if err != nil {
		f.t.Fatal(err)
	}
	f.wrote(rev)
}

// takeover is alice's audited force takeover at s seconds.
func (f *fleet) takeover(s int, reason string) {
	f.t.Helper()
	f.clock.at(s)
	e, err := f.store.Get(f.t.Context(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.op.Takeover(f.t.Context(), key, ttl, reason, e.Revision)
	if err != nil || res.Outcome != lease.OutcomeWon {
		f.t.Fatalf("t=%d: Takeover = %v, %v; want won", s, res.Outcome, err)
	}
	f.wrote(res.Revision)
}

// run is the script: three replicas with a 60 s period; node-c crashes
// mid-round and stays stopped; node-b abandons a round; the fleet is down
// for three periods; a corrupt write, and alice's takeover of it; the last
// round ends two periods before the viewer looks. 19 writes: etcd's History
// keeps 20, the test's NATS bucket 64.
func (f *fleet) run() {
	g := f.round(0, "node-a", "node-b", "node-c")
	f.complete(12, g, 1)
	g = f.round(60, "node-b", "node-a", "node-c")
	f.complete(70, g, 2)
	f.round(120, "node-c", "node-a", "node-b") // node-c crashes: never completes, never runs again
	f.lose(150, "node-a", "node-b")            // its lease is live: nobody takes it
	g = f.round(180, "node-a", "node-b")
	f.complete(195, g, 3)
	g = f.round(240, "node-b", "node-a")
	f.abandon(250, g)
	g = f.round(300, "node-a", "node-b")
	f.complete(311, g, 4)
	// The fleet is down: no trigger from 360 to 540, three periods.
	g = f.round(540, "node-b", "node-a")
	f.complete(552, g, 5)
	f.corrupt(560)
	f.takeover(570, "corrupt record")
	f.lose(600, "node-a", "node-b") // alice holds it
	g = f.round(660, "node-a", "node-b")
	f.complete(668, g, 6)
	g = f.round(720, "node-b", "node-a")
	f.complete(733, g, 7)
	f.clock.at(nowSec)
}

// writeConfig writes a config naming one store "fleet".
func writeConfig(t *testing.T, auditPath, store string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	conf := fmt.Sprintf("operator: alice\naudit_log: %s\nstores:\n  - name: fleet\n%s", auditPath, store)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// history runs leasectl history in-process at the viewer's clock.
func history(t *testing.T, config string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Now:   func() time.Time { return t0.Add(nowSec * time.Second) },
		Width: func() int { return width },
	}
	if code := cli.Main(t.Context(), append([]string{"--config", config, "history", key}, args...), env); code != 0 {
		t.Fatalf("leasectl history %v: exit %d, stderr %s", args, code, errb.String())
	}
	return out.String()
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;:]*[a-zA-Z]`)

// golden compares got, ANSI stripped, with testdata/name, or rewrites it
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = ansiRE.ReplaceAllString(got, "")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the strip differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	for i, l := range strings.Split(got, "\n") {
		if w := len([]rune(l)); w > width {
			t.Errorf("%s line %d is %d cells wide, want at most %d: %q", name, i+1, w, width, l)
		}
	}
}

// counts is the part of history -o json the fleet's script decides.
type counts struct {
	HistoryKept bool     `json:"history_kept"`
	Sources     []string `json:"sources"`
	Summary     struct {
		Rounds            int            `json:"rounds"`
		Completed         int            `json:"completed"`
		Unfinished        int            `json:"unfinished"`
		Running           int            `json:"running"`
		OperatorRounds    int            `json:"operator_rounds"`
		CompletionRate    float64        `json:"completion_rate"`
		MissedPeriods     int            `json:"missed_periods"`
		LongestGapSeconds int64          `json:"longest_gap_seconds"`
		Wins              map[string]int `json:"wins"`
	} `json:"summary"`
	Current struct {
		State   string `json:"state"`
		Overdue bool   `json:"overdue"`
	} `json:"current"`
	Rounds []struct {
		HolderID   string `json:"holder_id"`
		Unfinished bool   `json:"unfinished"`
		Ending     string `json:"ending"`
		Source     string `json:"source"`
	} `json:"rounds"`
	Gaps []struct {
		Seconds       int64 `json:"seconds"`
		MissedPeriods int   `json:"missed_periods"`
		Trailing      bool  `json:"trailing"`
	} `json:"gaps"`
}

// checkCounts checks history -o json against the script.
func checkCounts(t *testing.T, out string) {
	t.Helper()
	var c counts
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("history -o json: %v\n%s", err, out)
	}
	s := c.Summary
	wantWins := map[string]int{"node-a": 4, "node-b": 4, "node-c": 1, "operator:alice": 1}
	if s.Rounds != 10 || s.Completed != 7 || s.Unfinished != 2 || s.Running != 0 || s.OperatorRounds != 1 ||
		s.MissedPeriods != 5 || s.LongestGapSeconds != 180 || fmt.Sprint(s.Wins) != fmt.Sprint(wantWins) {
		t.Errorf("summary = %+v, want 10 rounds, 7 completed, 2 unfinished, 0 running, 1 operator round, 5 missed periods, longest gap 180 s, wins %v", s, wantWins)
	}
	if want := 7.0 / 9; s.CompletionRate < want-1e-9 || s.CompletionRate > want+1e-9 {
		t.Errorf("completion_rate = %v, want 7/9", s.CompletionRate)
	}
	if c.Current.State != "expired" || !c.Current.Overdue {
		t.Errorf("current = %+v, want expired and overdue (two periods since the last round)", c.Current)
	}
	var missed []int
	for _, g := range c.Gaps {
		if g.MissedPeriods > 0 {
			missed = append(missed, g.MissedPeriods)
		}
	}
	if fmt.Sprint(missed) != "[3 2]" || !c.Gaps[len(c.Gaps)-1].Trailing {
		t.Errorf("gaps = %+v, want 3 missed periods (the fleet down) then 2 (trailing, until now)", c.Gaps)
	}
	var crash, abandoned, operator bool
	for _, r := range c.Rounds {
		crash = crash || r.HolderID == "node-c" && r.Unfinished && r.Ending == "expired"
		abandoned = abandoned || r.HolderID == "node-b" && r.Unfinished && r.Ending == "abandoned"
		operator = operator || r.HolderID == "operator:alice" && strings.Contains(r.Source, "audit")
	}
	if !crash || !abandoned || !operator {
		t.Errorf("rounds = %+v: want node-c's unfinished round (crash), node-b's abandoned one, alice's from the audit log too", c.Rounds)
	}
}

func TestFleetTimelineEtcd(t *testing.T) {
	srv := sharedEtcd.Get(t)
	cli := srv.Client(t)
	s, err := etcd.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	// The server is shared (and -count runs this again): start from an
	// absent key. History stops at the key's creation.
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	newFleet(t, s, auditPath, func(uint64) {}).run()
	config := writeConfig(t, auditPath, fmt.Sprintf("    kind: etcd\n    endpoints: [%s]\n", srv.Endpoints()[0]))
	golden(t, "etcd.golden", history(t, config))
	checkCounts(t, history(t, config, "-o", "json"))
}

func TestFleetTimelineNATS(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	// The bucket keeps 64 values per key (NATS's most): its History setting
	// bounds how far back a timeline reaches.
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "leases", History: 64}); err != nil {
		t.Fatal(err)
	}
	s, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.URL(), Bucket: "leases"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	newFleet(t, s, auditPath, func(uint64) {}).run()
	config := writeConfig(t, auditPath, fmt.Sprintf("    kind: nats\n    url: %s\n    bucket: leases\n", srv.URL()))
	golden(t, "nats.golden", history(t, config))
	checkCounts(t, history(t, config, "-o", "json"))
}

// TestFleetTimelineConsul records the fleet through a watch, as the console
// does for a store that keeps no history, and checks what `leasectl
// history` says without it: only the audit log and the current value.
func TestFleetTimelineConsul(t *testing.T) {
	agent := consultest.Start(t)
	s, err := consul.Dial(t.Context(), consul.Config{Address: agent.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events, err := s.Watch(ctx, "exports/")
	if err != nil {
		t.Fatal(err)
	}
	rec := timeline.NewRecorder(0, 0)
	var f *fleet
	w := newWatcher(events, rec, func() time.Time { return f.clock.Now() })
	w.synced(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	f = newFleet(t, s, auditPath, func(rev uint64) { w.await(t, rev) })
	f.run()

	actions := auditActions(t, auditPath)
	now := t0.Add(nowSec * time.Second)
	tl := timeline.Build(timeline.Input{Key: key, Changes: rec.Changes(key), Actions: actions, Now: now, Thresholds: lease.DefaultThresholds()})
	golden(t, "consul_observed.golden", timeline.Render(tl, width, now, timeline.DefaultStyles(true)))
	checkSummary(t, tl)

	config := writeConfig(t, auditPath, fmt.Sprintf("    kind: consul\n    address: %s\n", agent.Addr()))
	out := history(t, config)
	if !strings.Contains(out, "keeps no history") || !strings.Contains(out, "audit log") {
		t.Errorf("history on Consul does not say that only the audit log and the current value are available:\n%s", out)
	}
	golden(t, "consul_cli.golden", out)
	var c counts
	if err := json.Unmarshal([]byte(history(t, config, "-o", "json")), &c); err != nil {
		t.Fatal(err)
	}
	if c.HistoryKept || c.Summary.Rounds != 2 || c.Summary.OperatorRounds != 1 {
		t.Errorf("history -o json on Consul = %+v, want history_kept false and two rounds: alice's (audit) and the current one (store)", c)
	}
}

// checkSummary checks the observed timeline's summary against the script;
// the observed times add two gaps that miss nothing (after the abandon and
// after the corrupt write, whose times the store's history does not keep).
func checkSummary(t *testing.T, tl timeline.Timeline) {
	t.Helper()
	s := tl.Summary
	if s.Rounds != 10 || s.Completed != 7 || s.Unfinished != 2 || s.OperatorRounds != 1 || s.MissedPeriods != 5 || s.LongestGap != 3*time.Minute {
		t.Errorf("observed summary = %+v, want 10 rounds, 7 completed, 2 unfinished, 1 by an operator, 5 missed periods, longest gap 3m", s)
	}
	if !tl.Health.Flags.Has(lease.Overdue) {
		t.Errorf("observed timeline: current record not overdue")
	}
}

// auditActions reads the audit log's actions on the key.
func auditActions(t *testing.T, path string) []timeline.Action {
	t.Helper()
	entries, err := audit.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return timeline.Actions(entries, "fleet", key)
}

// watcher feeds a watch's changes to a Recorder, stamped with the scripted
// clock, the way the console does.
type watcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	last   uint64
	isSync bool
	err    error
}

func newWatcher(events <-chan stores.Event, rec *timeline.Recorder, now func() time.Time) *watcher {
	w := &watcher{}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		held := map[string]stores.Entry{}
		for ev := range events {
			w.mu.Lock()
			switch ev.Kind {
			case stores.EventPut:
				if w.isSync {
					before, found := held[ev.Entry.Key]
					rec.Observe(ev.Entry, now(), before, found)
				}
				held[ev.Entry.Key] = ev.Entry
				w.last = max(w.last, ev.Entry.Revision)
			case stores.EventSynced:
				w.isSync = true
			case stores.EventError:
				w.err = ev.Err
			}
			w.cond.Broadcast()
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *watcher) synced(t *testing.T) {
	t.Helper()
	w.wait(t, func() bool { return w.isSync }, "the watch's snapshot")
}

// await waits until the watch has delivered revision rev, so that the
// recorder stamps it with the scripted time of the write.
func (w *watcher) await(t *testing.T, rev uint64) {
	t.Helper()
	w.wait(t, func() bool { return w.last >= rev }, fmt.Sprintf("revision %d", rev))
}

func (w *watcher) wait(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.AfterFunc(30*time.Second, func() {
		w.mu.Lock()
		w.err = fmt.Errorf("no %s after 30s", what)
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer deadline.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for !cond() && w.err == nil {
		w.cond.Wait()
	}
	if w.err != nil && !cond() {
		t.Fatalf("watch: %v", w.err)
	}
}

// firstRounds runs history -o json and returns how many rounds it shows
// and when the first was acquired, in seconds after t0.
func firstRounds(t *testing.T, config string) (n int, first int64, missed int) {
	t.Helper()
	out := history(t, config, "-o", "json")
	var d struct {
		Rounds []struct {
			AcquiredAtUnix int64 `json:"acquired_at_unix"`
		} `json:"rounds"`
		Summary struct {
			MissedPeriods int `json:"missed_periods"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Rounds) == 0 {
		t.Fatalf("history -o json shows no rounds:\n%s", out)
	}
	return len(d.Rounds), d.Rounds[0].AcquiredAtUnix - t0.Unix(), d.Summary.MissedPeriods
}

// TestFleetTimelineEtcdCompacted: etcd's compaction bounds how far back a
// timeline reaches. Compacted at node-a's completion of the round at 300 s,
// the history starts there: five rounds (the audit log adds alice's, which
// the history holds too), and the missed periods after it are all still
// counted.
func TestFleetTimelineEtcdCompacted(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	s, err := etcd.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	var revs []uint64
	newFleet(t, s, auditPath, func(rev uint64) { revs = append(revs, rev) }).run()
	if _, err := cli.Compact(t.Context(), int64(revs[10])); err != nil {
		t.Fatal(err)
	}
	config := writeConfig(t, auditPath, fmt.Sprintf("    kind: etcd\n    endpoints: [%s]\n", srv.Endpoints()[0]))
	if n, first, missed := firstRounds(t, config); n != 5 || first != 300 || missed != 5 {
		t.Errorf("after compaction: %d rounds from t0+%ds, %d missed periods; want 5 from t0+300s, 5 missed", n, first, missed)
	}
}

// TestFleetTimelineNATSShallowBucket: a bucket's History bounds how far
// back a timeline reaches. Keeping five values, it holds the last three
// rounds (alice's takeover, node-a's and node-b's); the fleet's outage is
// gone from it, the trailing gap is not.
func TestFleetTimelineNATSShallowBucket(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "leases", History: 5}); err != nil {
		t.Fatal(err)
	}
	s, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.URL(), Bucket: "leases"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	newFleet(t, s, auditPath, func(uint64) {}).run()
	config := writeConfig(t, auditPath, fmt.Sprintf("    kind: nats\n    url: %s\n    bucket: leases\n", srv.URL()))
	if n, first, missed := firstRounds(t, config); n != 3 || first != 570 || missed != 2 {
		t.Errorf("a bucket keeping 5 values: %d rounds from t0+%ds, %d missed periods; want 3 from t0+570s, 2 missed", n, first, missed)
	}
}
