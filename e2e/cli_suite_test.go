package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The CLI suite runs the real binary against each real store for what an
// adversarial run of the command line found: store data reaching the
// terminal raw, writes outside the store's prefix, attempts missing from the
// audit trail, and signals or stalls during a write.

func TestCLIEtcd(t *testing.T)   { cliSuite(t, newEtcd(t)) }
func TestCLINATS(t *testing.T)   { cliSuite(t, newNATS(t)) }
func TestCLIConsul(t *testing.T) { cliSuite(t, newConsul(t)) }

func cliSuite(t *testing.T, b backend) {
	t.Run("hostile", func(t *testing.T) { cliTestHostile(t, b) })
	if _, isNATS := b.(*natsBackend); !isNATS {
		// A NATS store's scope is its bucket: nothing lies outside it.
		t.Run("outside-prefix", func(t *testing.T) { cliTestOutsidePrefix(t, b) })
	}
	t.Run("stale-revision-audited", func(t *testing.T) { cliTestStaleAudited(t, b) })
	t.Run("takeover-race-audited", func(t *testing.T) { cliTestTakeoverRace(t, b) })
	t.Run("stall", func(t *testing.T) { cliTestStall(t, b) })
}

// cliHostileHolder would retitle the window, clear the screen, turn text
// red, reverse the line and start a C1 CSI if it reached a terminal raw.
const cliHostileHolder = "\x1b]0;pwned\x07 \x1b]2;x\x07 \x1b[2J \x1b[31m \u202e \u009b"

// cliCheckSafe fails when s holds anything a terminal could interpret: a
// C0 control other than newline (ESC, BEL…), DEL, a C1 control, a bidi
// control (U+202E…) or invalid UTF-8.
func cliCheckSafe(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not valid UTF-8: %q", what, s)
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c {
			t.Errorf("%s holds %U: %q", what, r, s)
			return
		}
	}
}

// cliAudit returns the lines of the audit log at path as "action/outcome",
// and the lines themselves; none when the log does not exist or is empty.
func cliAudit(t *testing.T, path string) ([]string, []auditLine) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || len(b) == 0 {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	var lines []auditLine
	for _, raw := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("audit line %q: %v", raw, err)
		}
		trail = append(trail, l.Action+"/"+l.Outcome)
		lines = append(lines, l)
	}
	return trail, lines
}

func cliTestHostile(t *testing.T, b backend) {
	f := newFixture(t, b, "hostile", false)
	now := time.Now().Unix()
	evil := record(cliHostileHolder, now, now+3600)
	keys := map[string]string{}
	for _, k := range []string{"held", "stale", "takeover", "release"} {
		keys[k] = f.scope.key("exports/evil-" + k)
		f.scope.put(t, keys[k], evil)
	}
	stale := f.scope.put(t, keys["stale"], evil) // seen below at its first revision
	corrupt := f.scope.key("exports/evil-corrupt")
	f.scope.put(t, corrupt, []byte(cliHostileHolder))
	s := func(rev uint64) string { return strconv.FormatUint(rev, 10) }
	runs := []struct {
		name string
		args []string
		code int
	}{
		{"acquire held", []string{"acquire", keys["held"], "--ttl", "1m"}, 3},
		{"acquire at a stale revision", []string{"acquire", keys["stale"], "--ttl", "1m", "--revision", s(stale - 1)}, 3},
		{"takeover at a stale revision", []string{"takeover", keys["stale"], "--ttl", "1m", "--reason", "r", "--revision", s(stale - 1), "--yes"}, 3},
		{"release at a stale revision", []string{"release", keys["stale"], "--reason", "r", "--revision", s(stale - 1), "--yes"}, 3},
		{"takeover", []string{"takeover", keys["takeover"], "--ttl", "1m", "--reason", "r", "--yes"}, 0},
		{"release", []string{"release", keys["release"], "--reason", "r", "--yes"}, 0},
		{"get table", []string{"get", keys["held"]}, 0},
		{"get json", []string{"get", keys["held"], "-o", "json"}, 0},
		{"get corrupt", []string{"get", corrupt}, 0},
		{"ls table", []string{"ls"}, 0},
		{"ls json", []string{"ls", "-o", "json"}, 0},
		{"invalid key", []string{"get", f.scope.key("exports/\x1b]0;typed\x07\u202e")}, -1},
		{"acquire invalid key", []string{"acquire", f.scope.key("exports/\x1b[2J\u009b"), "--ttl", "1m"}, -1},
	}
	for _, tt := range runs {
		t.Run(tt.name, func(t *testing.T) {
			r := f.run(t, append(tt.args, "--store", storeName)...)
			t.Logf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			if tt.code >= 0 && r.code != tt.code {
				t.Errorf("%v; want exit %d", r, tt.code)
			}
			cliCheckSafe(t, "stdout", r.stdout)
			cliCheckSafe(t, "stderr", r.stderr)
			if strings.HasSuffix(tt.name, "json") {
				var v any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, r.stdout)
				}
				if !strings.Contains(fmt.Sprint(v), cliHostileHolder) {
					t.Errorf("the JSON does not carry the holder exactly: %s", r.stdout)
				}
			}
			if strings.HasPrefix(tt.name, "acquire held") && !strings.Contains(r.stderr, "held") {
				t.Errorf("acquire does not say the lease is held: %v", r)
			}
			if strings.HasPrefix(tt.name, "takeover") || strings.HasPrefix(tt.name, "release") {
				if !strings.Contains(r.stderr, "node-") && !strings.Contains(r.stderr, "␛]0;pwned␇") {
					t.Errorf("the holder is not shown, made visible: %v", r)
				}
			}
		})
	}
}

func cliTestOutsidePrefix(t *testing.T, b backend) {
	f := newFixture(t, b, "scoped", false)
	outside := "app/feature-flags"
	rev := f.scope.put(t, outside, []byte("on"))
	for _, args := range [][]string{
		{"acquire", outside, "--ttl", "1m"},
		{"takeover", outside, "--ttl", "1m", "--reason", "r", "--yes"},
		{"release", outside, "--reason", "r", "--yes"},
	} {
		r := f.run(t, append(args, "--store", storeName)...)
		if r.code != 2 || !strings.Contains(r.stderr, "--allow-outside-prefix") {
			t.Errorf("%v; want exit 2 naming --allow-outside-prefix", r)
		}
	}
	if v, got, _ := f.scope.get(t, outside); string(v) != "on" || got != rev {
		t.Errorf("%s = %q at %d after refused writes, want %q at %d", outside, v, got, "on", rev)
	}
	if trail, _ := cliAudit(t, f.audit); len(trail) != 0 {
		t.Errorf("refused writes left audit lines: %v", trail)
	}
	r := f.run(t, "acquire", outside, "--ttl", "1m", "--allow-outside-prefix", "--store", storeName)
	if r.code != 0 {
		t.Errorf("%v; want exit 0 with --allow-outside-prefix", r)
	}
	if v, _, _ := f.scope.get(t, outside); !bytes.Contains(v, []byte("operator:"+operator)) {
		t.Errorf("%s = %q after acquire --allow-outside-prefix", outside, v)
	}
}

// cliTestStaleAudited runs a takeover and a release at a revision the key
// has moved past: each must leave an intent and a changed result.
func cliTestStaleAudited(t *testing.T, b backend) {
	f := newFixture(t, b, "stale", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	seen := f.scope.put(t, key, record("node-a", now, now+3600))
	moved := f.scope.put(t, key, record("node-b", now, now+3600))
	for _, args := range [][]string{
		{"takeover", key, "--ttl", "1m", "--reason", "stale"},
		{"release", key, "--reason", "stale"},
	} {
		r := f.run(t, append(args, "--revision", strconv.FormatUint(seen, 10), "--yes", "--store", storeName)...)
		if r.code != 3 || !strings.Contains(r.stderr, "changed since you looked") {
			t.Errorf("%v; want exit 3, changed since you looked", r)
		}
	}
	if _, rev, _ := f.scope.get(t, key); rev != moved {
		t.Errorf("a stale action wrote: revision %d, want %d", rev, moved)
	}
	trail, lines := cliAudit(t, f.audit)
	want := []string{"takeover/pending", "takeover/changed", "release/pending", "release/changed"}
	if fmt.Sprint(trail) != fmt.Sprint(want) {
		t.Fatalf("audit = %v, want %v", trail, want)
	}
	for i, l := range lines {
		wantRev := seen // the intent records the revision the operator gave
		if l.Outcome == "changed" {
			wantRev = moved // the result, the revision the action found
		}
		if l.RevisionBefore != wantRev || l.Reason != "stale" {
			t.Errorf("audit line %d = %+v, want revision_before %d and reason stale", i, l, wantRev)
		}
	}
}

// cliTakeoverRacers and cliTakeoverRounds size the takeover race: several
// processes take the same key over at the same seen revision, with no
// barrier, so that most losers find the key changed only after the winner
// wrote (the case the command line's own check of --revision used to
// refuse without an audit line).
const (
	cliTakeoverRacers = 6
	cliTakeoverRounds = 3
)

func cliTestTakeoverRace(t *testing.T, b backend) {
	f := newFixture(t, b, "takeover-race", false)
	now := time.Now().Unix()
	for round := range cliTakeoverRounds {
		key := f.scope.key(fmt.Sprintf("exports/race-%d", round))
		seen := f.scope.put(t, key, record("node-a", now, now+3600))
		procs := make([]*proc, cliTakeoverRacers)
		for i := range procs {
			procs[i] = command(t, f.args("takeover", key, "--store", storeName, "--ttl", "1m", "--reason", fmt.Sprintf("racer %d", i),
				"--revision", strconv.FormatUint(seen, 10), "--yes")...)
		}
		for _, p := range procs {
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		codes := map[int]int{}
		for _, p := range procs {
			r := p.wait(t)
			codes[r.code]++
			if r.code == 3 && !strings.Contains(r.stderr, "changed since you looked") {
				t.Errorf("round %d: a loser does not say the key changed: %v", round, r)
			}
		}
		if codes[0] != 1 || codes[3] != cliTakeoverRacers-1 {
			t.Errorf("round %d: exit codes %v, want one 0 and %d times 3", round, codes, cliTakeoverRacers-1)
		}
	}
	trail, lines := cliAudit(t, f.audit)
	counts := map[string]int{}
	for _, e := range trail {
		counts[e]++
	}
	want := map[string]int{
		"takeover/pending": cliTakeoverRacers * cliTakeoverRounds,
		"takeover/won":     cliTakeoverRounds,
		"takeover/changed": (cliTakeoverRacers - 1) * cliTakeoverRounds,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("audit = %v, want %v: every attempt leaves an intent and a result", counts, want)
	}
	results := map[string]bool{}
	for _, l := range lines {
		if l.Outcome != "pending" {
			results[l.Key+"/"+l.Reason] = true
		}
	}
	if len(results) != cliTakeoverRacers*cliTakeoverRounds {
		t.Errorf("%d attempts have a result line, want all %d", len(results), cliTakeoverRacers*cliTakeoverRounds)
	}
}
