package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// operator is the operator name in every config.
	operator = "alice"
	// storeName is the name of the one store in every config.
	storeName = "e2e"
	// racers is how many leasectl processes race for one key.
	racers = 16
	// raceRounds is how many keys each race test races for.
	raceRounds = 5
	// raceAttempts bounds how often a round is run again because not every
	// racer was at the gate when it opened.
	raceAttempts = 3
	// raceCallTimeout is the racers' --timeout: a held write must outlast
	// the gate.
	raceCallTimeout = 2 * gateTimeout
)

func TestEtcd(t *testing.T)   { runSuite(t, newEtcd(t)) }
func TestNATS(t *testing.T)   { runSuite(t, newNATS(t)) }
func TestConsul(t *testing.T) { runSuite(t, newConsul(t)) }

// runSuite runs every cross-process test against one store server; each
// test has a scope (prefix or bucket), a config and an audit log of its own.
func runSuite(t *testing.T, b backend) {
	t.Run("race", func(t *testing.T) { testRace(t, b, false) })
	t.Run("race-expired", func(t *testing.T) { testRace(t, b, true) })
	t.Run("list", func(t *testing.T) { testList(t, b) })
	t.Run("exact-bytes", func(t *testing.T) { testExactBytes(t, b) })
	t.Run("takeover-release", func(t *testing.T) { testTakeoverRelease(t, b) })
}

// fixture is one test's scope of a store and a leasectl config naming it.
type fixture struct {
	scope  scope
	config string
	audit  string
	// gate, when set, stands between leasectl and the store.
	gate *gate
}

// newFixture returns a fixture for a scope called name; with gated, leasectl
// reaches the store through a gate.
func newFixture(t *testing.T, b backend, name string, gated bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{scope: b.scope(t, name), config: filepath.Join(dir, "config.yaml"), audit: filepath.Join(dir, "audit.jsonl")}
	addr := b.addr()
	if gated {
		f.gate = newGate(t, addr)
		addr = f.gate.addr()
	}
	conf := fmt.Sprintf("operator: %s\naudit_log: %q\nstores:\n%s", operator, f.audit, f.scope.storeYAML(storeName, addr))
	if err := os.WriteFile(f.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// args prefixes args with the fixture's config.
func (f *fixture) args(args ...string) []string {
	return append([]string{"--config", f.config}, args...)
}

// run runs leasectl with the fixture's config.
func (f *fixture) run(t *testing.T, args ...string) result {
	t.Helper()
	return leasectl(t, f.args(args...)...)
}

// record returns a lease record in the wire format, with holder encoded as
// a JSON string (control characters as \u escapes).
func record(holder string, acquired, expires int64) []byte {
	h, _ := json.Marshal(holder)
	return fmt.Appendf(nil, `{"holder_id":%s,"acquired_at_unix":%d,"expires_at_unix":%d}`, h, acquired, expires)
}

// holderOf returns the holder_id of a stored record.
func holderOf(t *testing.T, value []byte) string {
	t.Helper()
	var r struct {
		HolderID string `json:"holder_id"`
	}
	if err := json.Unmarshal(value, &r); err != nil {
		t.Fatalf("stored value %q is not a record: %v", value, err)
	}
	return r.HolderID
}

var doneAt = regexp.MustCompile(`done at revision (\d+)`)

// doneRevision returns the revision a successful write command reports.
func doneRevision(t *testing.T, r result) uint64 {
	t.Helper()
	m := doneAt.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no revision in the output of %v", r)
	}
	rev, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// testRace starts racers acquire processes on one key at once, for
// raceRounds keys: exactly one wins (exit 0), every other loses (exit 3), and
// the key holds the winner's record. With expired, each key first holds an
// expired record, so that every racer's create fails and they race on the
// compare-and-swap.
//
// The processes meet at a gate in front of the store that holds each one's
// first write until all racers have sent theirs. A round counts only when
// every racer was at the gate as it opened: otherwise (a slow machine
// starting processes one after another) it is run again on a fresh key, up
// to raceAttempts times, and the test fails when no attempt raced.
func testRace(t *testing.T, b backend, expired bool) {
	name := "race"
	if expired {
		name = "race-expired"
	}
	f := newFixture(t, b, name, true)
	start := time.Now()
	plantedAt := map[string]uint64{}
	attempts := 0
	for round := range raceRounds {
		raced := false
		for attempt := 1; attempt <= raceAttempts && !raced; attempt++ {
			attempts++
			key := f.scope.key(fmt.Sprintf("exports/race-%d-%d", round, attempt))
			raced = raceOnce(t, f, key, round, expired, plantedAt)
		}
		if !raced {
			t.Fatalf("round %d: in %d attempts the %d racers were never all at the gate when it opened (it waits %v after the first): the processes ran one after another, which proves nothing about a race",
				round, raceAttempts, racers, gateTimeout)
		}
	}
	full, late := f.gate.stats()
	t.Logf("%d rounds of %d processes in %v (%d attempts); the gate held every racer in %d attempts, opened on its timeout in %d",
		raceRounds, racers, time.Since(start).Round(time.Millisecond), attempts, full, late)

	lines := checkAudit(t, f.audit, racers*attempts)
	outcomes := map[string]int{}
	casLosers := 0 // losers that judged the expired record, so lost the CAS
	for _, l := range lines {
		outcomes[l.Outcome]++
		if l.Action != "acquire" {
			t.Errorf("audit line with action %q, want acquire", l.Action)
		}
		if l.Outcome == "lost" && expired && l.RevisionBefore == plantedAt[l.Key] {
			casLosers++
		}
	}
	if expired {
		t.Logf("%d of %d losers lost the compare-and-swap; the others read the winner's record", casLosers, (racers-1)*attempts)
	}
	want := map[string]int{"pending": racers * attempts, "won": attempts, "lost": (racers - 1) * attempts}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("audit outcomes = %v, want %v", outcomes, want)
	}
}

// raceMarkers are the start of every racer's record ({"holder_id":"p<i>"…)
// on the wire: the gate holds a racer from its first write on.
var raceMarkers = gateValueMarkers(`{"holder_id":"p`)

// raceOnce races racers acquire processes for key through the fixture's
// gate, checks that exactly one won, and reports whether every racer was
// at the gate when it opened.
func raceOnce(t *testing.T, f *fixture, key string, round int, expired bool, plantedAt map[string]uint64) bool {
	t.Helper()
	var planted uint64
	if expired {
		now := time.Now().Unix()
		planted = f.scope.put(t, key, record("crashed-node", now-600, now-300))
		plantedAt[key] = planted
	}
	procs := make([]*proc, racers)
	for i := range procs {
		// A racer waits at the gate with its write in flight: give the
		// write a bound well past the gate's.
		procs[i] = command(t, f.args("--timeout", raceCallTimeout.String(), "acquire", key, "--store", storeName, "--ttl", "1m", "--holder", fmt.Sprintf("p%d", i))...)
	}
	// Start them all before waiting on any; the gate holds their writes
	// until all have sent theirs, then lets them go at once.
	r := f.gate.arm(racers, raceMarkers)
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start leasectl: %v", err)
		}
	}
	results := make([]result, racers)
	var winners []int
	for i, p := range procs {
		results[i] = p.wait(t)
		switch results[i].code {
		case 0:
			winners = append(winners, i)
		case 3:
			if !strings.Contains(results[i].stderr, "held") {
				t.Errorf("round %d: a loser does not say the lease is held: %v", round, results[i])
			}
		default:
			t.Errorf("round %d: %v; want exit 0 or 3", round, results[i])
		}
	}
	full, arrived := f.gate.settle(r)
	if !full {
		t.Logf("round %d (%s): the gate opened on its timeout with %d of %d racers at it", round, key, arrived, racers)
	}
	if len(winners) != 1 {
		t.Fatalf("round %d (%s): winners %v, want exactly one of %d", round, key, winners, racers)
	}
	w := winners[0]
	value, rev, ok := f.scope.get(t, key)
	if !ok {
		t.Fatalf("round %d: %s is absent after the race", round, key)
	}
	if got, want := holderOf(t, value), fmt.Sprintf("p%d", w); got != want {
		t.Errorf("round %d: %s holds %q, want the winner %q", round, key, got, want)
	}
	if got := doneRevision(t, results[w]); got != rev {
		t.Errorf("round %d: the winner reports revision %d, the store says %d", round, got, rev)
	}
	if expired && rev <= planted {
		t.Errorf("round %d: revision %d after the race, want past the planted %d", round, rev, planted)
	}
	return full
}

// lsEntry is one lease in `leasectl ls -o json` or `get -o json`.
type lsEntry struct {
	Store              string   `json:"store"`
	Key                string   `json:"key"`
	State              string   `json:"state"`
	Flags              []string `json:"flags"`
	HolderID           *string  `json:"holder_id"`
	AcquiredAtUnix     *uint64  `json:"acquired_at_unix"`
	ExpiresAtUnix      *uint64  `json:"expires_at_unix"`
	CompletedCursorHex string   `json:"completed_cursor_hex"`
	CompletedAtUnix    *uint64  `json:"completed_at_unix"`
	Revision           uint64   `json:"revision"`
	Error              string   `json:"error"`
}

// testList plants values of every kind with the native client and checks
// how `ls` shows them, as JSON and as a table.
func testList(t *testing.T, b backend) {
	f := newFixture(t, b, "list", false)
	now := time.Now().Unix()
	const evil = "\x1b]0;pwned\x07\x1b[2Jnode-evil-with-a-very-long-holder-name"
	planted := []struct {
		suffix string
		value  []byte
		state  string
		flags  []string
		holder string // "" when none is shown
		reason string // part of the corrupt reason
	}{
		{"exports/live", record("node-a", now, now+3600), "held", nil, "node-a", ""},
		{"exports/expired", record("node-b", now-1200, now-300), "expired", []string{"unfinished"}, "node-b", ""},
		{"exports/tombstone", []byte{}, "tombstone", nil, "", ""},
		{"exports/not-json", []byte("not json"), "corrupt", nil, "", ""},
		{"exports/duplicate", []byte(`{"holder_id":"x","holder_id":"y","acquired_at_unix":1,"expires_at_unix":2}`), "corrupt", nil, "", "duplicate field holder_id"},
		{"exports/evil", record(evil, now, now+3600), "held", nil, evil, ""},
		{"exports/completed", fmt.Appendf(nil, `{"holder_id":"node-c","acquired_at_unix":%d,"expires_at_unix":%d,"completed_cursor_hex":"000000000000002a","completed_at_unix":%d}`, now-60, now+3600, now-30),
			"held", []string{"completed"}, "node-c", ""},
		{"exports/future", record("node-d", now+7200, now+7500), "held", []string{"skewed"}, "node-d", ""},
	}
	revs := map[string]uint64{}
	for _, p := range planted {
		key := f.scope.key(p.suffix)
		revs[key] = f.scope.put(t, key, p.value)
	}
	var gone []string // keys that must not be listed
	switch s := f.scope.(type) {
	case *bucketScope:
		for _, op := range []string{"deleted", "purged"} {
			key := s.key("exports/" + op)
			s.put(t, key, record("node-z", now, now+3600))
			var err error
			if op == "deleted" {
				err = s.kv.Delete(t.Context(), key)
			} else {
				err = s.kv.Purge(t.Context(), key)
			}
			if err != nil {
				t.Fatalf("%s %s: %v", op, key, err)
			}
			gone = append(gone, key)
		}
	case *prefixScope:
		key := "elsewhere/exports/live"
		s.put(t, key, record("node-x", now, now+3600))
		gone = append(gone, key)
	}

	r := f.run(t, "ls", "-o", "json", "--store", storeName)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	var got []lsEntry
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("ls -o json output is not a JSON array: %v\n%s", err, r.stdout)
	}
	byKey := map[string]lsEntry{}
	for _, e := range got {
		if _, dup := byKey[e.Key]; dup {
			t.Errorf("ls lists %s twice", e.Key)
		}
		byKey[e.Key] = e
	}
	for _, key := range gone {
		if e, ok := byKey[key]; ok {
			t.Errorf("ls lists %s (%s), which is deleted, purged or outside the store's scope", key, e.State)
		}
	}
	if len(got) != len(planted) {
		t.Errorf("ls lists %d keys, want the %d planted", len(got), len(planted))
	}
	for _, p := range planted {
		key := f.scope.key(p.suffix)
		e, ok := byKey[key]
		if !ok {
			t.Errorf("ls does not list %s", key)
			continue
		}
		if e.Store != storeName || e.State != p.state || !slices.Equal(e.Flags, p.flags) {
			t.Errorf("ls %s = store %q, state %q, flags %q; want %q, %q, %q", key, e.Store, e.State, e.Flags, storeName, p.state, p.flags)
		}
		if e.Flags == nil {
			t.Errorf("ls %s: flags is null, want an array", key)
		}
		if e.Revision != revs[key] {
			t.Errorf("ls %s revision = %d, want the native revision %d", key, e.Revision, revs[key])
		}
		holder := ""
		if e.HolderID != nil {
			holder = *e.HolderID
		}
		if holder != p.holder {
			t.Errorf("ls %s holder_id = %q, want %q", key, holder, p.holder)
		}
		if (p.state == "corrupt") != (e.Error != "") || !strings.Contains(e.Error, p.reason) {
			t.Errorf("ls %s error = %q, want a reason exactly for corrupt values (containing %q)", key, e.Error, p.reason)
		}
	}
	if e := byKey[f.scope.key("exports/completed")]; e.CompletedCursorHex != "000000000000002a" || e.CompletedAtUnix == nil || *e.CompletedAtUnix != uint64(now-30) {
		t.Errorf("ls completed record = cursor %q at %v, want 000000000000002a at %d", e.CompletedCursorHex, e.CompletedAtUnix, now-30)
	}
	if e := byKey[f.scope.key("exports/live")]; e.ExpiresAtUnix == nil || *e.ExpiresAtUnix != uint64(now+3600) || e.AcquiredAtUnix == nil || *e.AcquiredAtUnix != uint64(now) {
		t.Errorf("ls live record = acquired %v expires %v, want %d and %d", e.AcquiredAtUnix, e.ExpiresAtUnix, now, now+3600)
	}

	table := f.run(t, "ls", "--store", storeName)
	if table.code != 0 {
		t.Fatalf("%v", table)
	}
	t.Logf("ls table:\n%s", table.stdout)
	lines := strings.Split(strings.TrimRight(table.stdout, "\n"), "\n")
	if len(lines) != len(planted)+1 {
		t.Errorf("ls table has %d lines, want a header and %d rows:\n%s", len(lines), len(planted), table.stdout)
	}
	for _, line := range lines {
		if !utf8.ValidString(line) {
			t.Errorf("ls table line is not UTF-8: %q", line)
		}
		for _, c := range line {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				t.Errorf("ls table printed control character %U: %q", c, line)
				break
			}
		}
	}
	// Into a pipe nothing is cut: every key is in its row, whole.
	keyCells := map[string]bool{}
	for _, line := range lines[1:] {
		if fs := strings.Fields(line); len(fs) > 1 {
			keyCells[fs[1]] = true
		}
	}
	for _, p := range planted {
		if key := f.scope.key(p.suffix); !keyCells[key] {
			t.Errorf("ls table into a pipe lacks the whole key %s:\n%s", key, table.stdout)
		}
		if !strings.Contains(table.stdout, p.state) {
			t.Errorf("ls table lacks state %s:\n%s", p.state, table.stdout)
		}
	}
	if strings.Contains(table.stderr+r.stderr, "\x1b") {
		t.Errorf("ls wrote an escape sequence to stderr: %q", table.stderr+r.stderr)
	}
}

// testExactBytes acquires as the operator and reads the raw value with the
// native client: it must be the wire format to the byte.
func testExactBytes(t *testing.T, b backend) {
	f := newFixture(t, b, "bytes", false)
	key := f.scope.key("exports/bytes")
	before := time.Now().Unix()
	r := f.run(t, "acquire", key, "--store", storeName, "--ttl", "5m")
	after := time.Now().Unix()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	value, rev, ok := f.scope.get(t, key)
	if !ok {
		t.Fatalf("%s is absent after acquire", key)
	}
	var want []byte
	for n := before; n <= after; n++ {
		candidate := fmt.Appendf(nil, `{"holder_id":"operator:%s","acquired_at_unix":%d,"expires_at_unix":%d}`, operator, n, n+300)
		if bytes.Equal(value, candidate) {
			want = candidate
		}
	}
	if want == nil {
		t.Errorf("acquire wrote %q; want exactly {\"holder_id\":\"operator:%s\",\"acquired_at_unix\":N,\"expires_at_unix\":N+300} with N in [%d, %d]", value, operator, before, after)
	}
	if got := doneRevision(t, r); got != rev {
		t.Errorf("acquire reports revision %d, the store says %d", got, rev)
	}
	lines := checkAudit(t, f.audit, 1)
	if len(lines) == 2 {
		if !bytes.Equal(lines[0].ValueAfter, value) || lines[1].Outcome != "won" || !bytes.Equal(lines[1].ValueAfter, value) || lines[1].RevisionAfter != rev {
			t.Errorf("audit = %+v, want the intent and the won result of %q at revision %d", lines, value, rev)
		}
	}
}

// testTakeoverRelease takes a live lease over and releases it, each time at
// the revision `get` showed, with the stale revision refused in between.
func testTakeoverRelease(t *testing.T, b backend) {
	f := newFixture(t, b, "takeover", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	planted := f.scope.put(t, key, record("node-a", now, now+3600))

	g := f.run(t, "get", key, "--store", storeName, "-o", "json")
	if g.code != 0 {
		t.Fatalf("%v", g)
	}
	var seen lsEntry
	if err := json.Unmarshal([]byte(g.stdout), &seen); err != nil {
		t.Fatalf("get -o json output: %v\n%s", err, g.stdout)
	}
	if seen.Revision != planted || seen.State != "held" || seen.HolderID == nil || *seen.HolderID != "node-a" {
		t.Fatalf("get %s = %+v, want held by node-a at revision %d", key, seen, planted)
	}
	rev := strconv.FormatUint(seen.Revision, 10)

	r := f.run(t, "takeover", key, "--store", storeName, "--ttl", "10m", "--revision", rev, "--yes", "--reason", "x")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	value, rev2, _ := f.scope.get(t, key)
	if h := holderOf(t, value); h != "operator:"+operator || rev2 <= planted {
		t.Fatalf("after takeover %s holds %q at revision %d, want operator:%s after %d", key, value, rev2, operator, planted)
	}
	if got := doneRevision(t, r); got != rev2 {
		t.Errorf("takeover reports revision %d, the store says %d", got, rev2)
	}

	stale := f.run(t, "takeover", key, "--store", storeName, "--ttl", "10m", "--revision", rev, "--yes", "--reason", "x")
	if stale.code != 3 || !strings.Contains(stale.stderr, "changed since you looked") {
		t.Errorf("takeover at the old revision: %v; want exit 3, changed since you looked", stale)
	}
	if v, r, _ := f.scope.get(t, key); !bytes.Equal(v, value) || r != rev2 {
		t.Errorf("a refused takeover changed %s: %q at %d, want %q at %d", key, v, r, value, rev2)
	}

	rel := f.run(t, "release", key, "--store", storeName, "--revision", strconv.FormatUint(rev2, 10), "--yes", "--reason", "y")
	if rel.code != 0 {
		t.Fatalf("%v", rel)
	}
	value, rev3, ok := f.scope.get(t, key)
	if !ok || len(value) != 0 || rev3 <= rev2 {
		t.Errorf("after release %s = %q at %d (present %v), want a zero-length value after %d", key, value, rev3, ok, rev2)
	}
	if got := doneRevision(t, rel); got != rev3 {
		t.Errorf("release reports revision %d, the store says %d", got, rev3)
	}
	if s, isNATS := f.scope.(*bucketScope); isNATS {
		m := s.lastMessage(t, key)
		if op := m.Header.Get("KV-Operation"); op != "" || len(m.Data) != 0 || m.Sequence != rev3 {
			t.Errorf("release stored a message with KV-Operation %q, %d bytes, sequence %d; want a plain put of 0 bytes at %d", op, len(m.Data), m.Sequence, rev3)
		}
		e, err := s.kv.Get(t.Context(), key)
		if err != nil || e.Operation() != jetstream.KeyValuePut {
			t.Errorf("kv.Get(%q) after release = %v, %v; want a put entry", key, e, err)
		}
	}

	// Each attempt left an intent and a result, the stale takeover too:
	// the lease core found the key changed and wrote nothing to the store.
	lines := checkAudit(t, f.audit, 3)
	var got []string
	for _, l := range lines {
		got = append(got, l.Action+"/"+l.Outcome)
	}
	if want := []string{"takeover/pending", "takeover/won", "takeover/pending", "takeover/changed", "release/pending", "release/won"}; !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	if len(lines) == 6 {
		if lines[1].Reason != "x" || lines[1].RevisionBefore != planted || lines[1].RevisionAfter != rev2 {
			t.Errorf("takeover audit = %+v, want reason x, revisions %d -> %d", lines[1], planted, rev2)
		}
		if lines[3].RevisionBefore != rev2 || lines[3].RevisionAfter != 0 || len(lines[3].ValueAfter) != 0 {
			t.Errorf("stale takeover audit = %+v, want the revision found (%d) and nothing written", lines[3], rev2)
		}
		if lines[5].Reason != "y" || lines[5].RevisionBefore != rev2 || lines[5].RevisionAfter != rev3 || lines[5].ValueAfter == nil || len(lines[5].ValueAfter) != 0 {
			t.Errorf("release audit = %+v, want reason y, revisions %d -> %d, an empty value after", lines[5], rev2, rev3)
		}
	}
}

// auditLine is one line of the audit log.
type auditLine struct {
	Time           string `json:"time"`
	Operator       string `json:"operator"`
	Host           string `json:"host"`
	Store          string `json:"store"`
	Key            string `json:"key"`
	Action         string `json:"action"`
	Reason         string `json:"reason"`
	RevisionBefore uint64 `json:"revision_before"`
	ValueBefore    []byte `json:"value_before"`
	ValueAfter     []byte `json:"value_after"`
	RevisionAfter  uint64 `json:"revision_after"`
	Outcome        string `json:"outcome"`
}

// auditFields are the fields every audit line has (docs/design.md §4).
var auditFields = []string{"time", "operator", "host", "store", "key", "action", "revision_before", "value_before", "value_after", "revision_after", "outcome"}

// checkAudit checks that the audit log at path is private (0600) and holds
// two JSON lines per write action — as many intents ("pending") as results —
// and returns its lines.
func checkAudit(t *testing.T, path string, actions int) []auditLine {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Errorf("audit log does not end with a newline: %q", b)
	}
	var lines []auditLine
	pending := 0
	for _, raw := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			t.Errorf("audit line %q is not a JSON object: %v", raw, err)
			continue
		}
		for _, k := range auditFields {
			if _, ok := fields[k]; !ok {
				t.Errorf("audit line %s lacks %q", raw, k)
			}
		}
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Errorf("audit line %q: %v", raw, err)
			continue
		}
		if l.Operator != operator || l.Store != storeName {
			t.Errorf("audit line %s: operator %q, store %q; want %q, %q", raw, l.Operator, l.Store, operator, storeName)
		}
		if l.Outcome == "pending" {
			pending++
		}
		lines = append(lines, l)
	}
	if len(lines) != 2*actions || pending != actions {
		t.Errorf("audit log has %d lines, %d of them intents; want %d lines for %d actions (an intent and a result each)", len(lines), pending, 2*actions, actions)
	}
	return lines
}
