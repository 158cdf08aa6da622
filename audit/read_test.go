package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// legacyLog is a log as leasectl wrote it before lines had ids.
const legacyLog = "testdata/legacy.jsonl"

// hexID is the shape of every audit id.
var hexID = regexp.MustCompile(`^[0-9a-f]{12}$`)

// legacyID derives an id the way the package documentation says, written
// apart from derivedID so that the two check each other.
func legacyID(tm, operator, host, store, key, action string) string {
	var b strings.Builder
	for _, f := range []string{tm, operator, host, store, key, action} {
		fmt.Fprintf(&b, "%d:%s", len(f), f)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:12]
}

// brief is an entry in a line: id, action, key, outcome.
func brief(e Entry) string {
	return fmt.Sprintf("%s %s %s %s", e.ID, e.Action, e.Key, e.Outcome)
}

func TestReadLegacyLog(t *testing.T) {
	entries, err := ReadFile(legacyLog)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", legacyLog, err)
	}
	takeoverID := legacyID("2024-06-10T06:15:00.123456789Z", "alice", "bastion-1", "prod", "exports/orders", "takeover")
	if takeoverID != "e3861c2da8d3" {
		// The derived id of an old line must never change: a person may
		// have written it down.
		t.Errorf("derived id of the fixture's takeover = %s, want e3861c2da8d3 (ids of old lines must be stable)", takeoverID)
	}
	want := []string{
		takeoverID + " takeover exports/orders won",
		legacyID("2024-06-10T07:00:00Z", "bob", "laptop", "prod", "exports/invoices", "release") + " release exports/invoices changed",
		legacyID("2024-06-10T07:00:00.5Z", "carol", "ops-2", "staging", "exports/eu.orders", "acquire") + " acquire exports/eu.orders won",
		legacyID("2024-06-10T09:00:00Z", "alice", "bastion-1", "prod", "exports/orders", "release") + " release exports/orders pending",
		legacyID("2024-06-10T09:30:00Z", "dave", "ops-3", "prod", "exports/refunds", "takeover") + " takeover exports/refunds won",
	}
	var got []string
	for _, e := range entries {
		got = append(got, brief(e))
		if !hexID.MatchString(e.ID) {
			t.Errorf("entry id %q is not 12 lower-case hex digits", e.ID)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ReadFile(%s) =\n%s\nwant (torn, garbage and unknown-action lines skipped, pairs joined in the order they began)\n%s",
			legacyLog, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	liveA := `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`
	op := `{"holder_id":"operator:alice","acquired_at_unix":1718000100,"expires_at_unix":1718000700}`
	tk := entries[0]
	if tk.Time != time.Date(2024, 6, 10, 6, 15, 0, 123456789, time.UTC) || tk.Operator != "alice" || tk.Host != "bastion-1" ||
		tk.Store != "prod" || tk.Reason != "INC-42: exports stuck" || tk.Seen != 7 || tk.RevisionBefore != 7 ||
		string(tk.ValueBefore) != liveA || string(tk.ValueAfter) != op || tk.RevisionAfter != 8 || tk.Error != "" || tk.Reverts != "" {
		t.Errorf("takeover entry = %+v", tk)
	}
	ch := entries[1]
	if ch.Seen != 3 || ch.RevisionBefore != 4 || ch.ValueAfter != nil || ch.RevisionAfter != 0 || !strings.Contains(ch.Error, "changed since revision 3") {
		t.Errorf("changed release = %+v: want seen 3 from the intent line, the rest from the result line", ch)
	}
	if acq := entries[2]; acq.ValueBefore != nil || acq.Reason != "" || acq.RevisionAfter != 12 {
		t.Errorf("acquire over an absent key = %+v: want value before nil", acq)
	}
	if p := entries[3]; p.ValueBefore != nil || p.ValueAfter == nil || len(p.ValueAfter) != 0 || p.Seen != 8 {
		t.Errorf("pending release = %+v: want the intent's tombstone as value after", p)
	}
	if orphan := entries[4]; orphan.ValueBefore == nil || len(orphan.ValueBefore) != 0 || orphan.Seen != 0 {
		t.Errorf("result without intent = %+v: want value before a tombstone (not nil)", orphan)
	}
}

// TestLegacyFixtureIsWhatTheLogWrote checks that the fixture's lines are
// byte for byte what File writes for a record without an id, so that the
// fixture is a log of the old format and not a guess at it.
func TestLegacyFixtureIsWhatTheLogWrote(t *testing.T) {
	b, err := os.ReadFile(legacyLog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, raw := range bytes.SplitAfter(b, []byte("\n")) {
		p, ok := parseLine(raw)
		if !ok {
			continue
		}
		n++
		r := lease.AuditRecord{
			Time: p.time, Operator: p.Operator, Host: p.Host, Store: p.Store, Key: p.Key, Action: p.action,
			Reason: p.Reason, RevisionBefore: p.RevisionBefore, ValueBefore: p.ValueBefore, ValueAfter: p.ValueAfter,
			RevisionAfter: p.RevisionAfter, Outcome: p.outcome, Error: p.Error,
		}
		got, err := encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("the log writes\n%s\nthe fixture holds\n%s", got, raw)
		}
	}
	if n != 8 {
		t.Errorf("fixture has %d lines that parse, want 8", n)
	}
}

// line returns r as the log writes it.
func lineOf(t *testing.T, r lease.AuditRecord) []byte {
	t.Helper()
	b, err := encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logOf writes records as the log writes them (File appends exactly what
// encode returns) and returns the log's path.
func logOf(t *testing.T, recs ...lease.AuditRecord) string {
	t.Helper()
	var b []byte
	for _, r := range recs {
		b = append(b, lineOf(t, r)...)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// action returns the intent and result records of one action with id.
func action(id string, i int, a lease.Action, outcome lease.Outcome) (intent, result lease.AuditRecord) {
	intent = lease.AuditRecord{
		ID: id, Time: time.Unix(1718000000+int64(i), 0), Operator: "alice", Host: "ops-1", Store: "prod",
		Key: fmt.Sprintf("exports/k%d", i), Action: a, Reason: "r", RevisionBefore: 7,
		ValueAfter: []byte("new"), Outcome: lease.OutcomePending,
	}
	result = intent
	result.ValueBefore, result.Outcome = []byte("old"), outcome
	if outcome == lease.OutcomeWon {
		result.RevisionAfter = 8
	} else {
		result.ValueAfter = nil
	}
	return intent, result
}

func TestReadJoinsByID(t *testing.T) {
	i1, r1 := action("aaaaaaaaaaa1", 1, lease.ActionTakeover, lease.OutcomeWon)
	i2, r2 := action("aaaaaaaaaaa2", 1, lease.ActionTakeover, lease.OutcomeChanged) // same fields, other id
	i3, r3 := action("bbbbbbbbbbb3", 3, lease.ActionRevert, lease.OutcomeWon)
	i3.Reverts, r3.Reverts = "aaaaaaaaaaa1", "aaaaaaaaaaa1"
	path := logOf(t, i1, i2, r2, i3, r1, r3)
	entries, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, brief(e)+" reverts="+e.Reverts)
	}
	want := []string{
		"aaaaaaaaaaa1 takeover exports/k1 won reverts=",
		"aaaaaaaaaaa2 takeover exports/k1 changed reverts=",
		"bbbbbbbbbbb3 revert exports/k3 won reverts=aaaaaaaaaaa1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`{"id":"bbbbbbbbbbb3",`)) || !bytes.Contains(b, []byte(`"reverts":"aaaaaaaaaaa1"`)) ||
		bytes.Count(b, []byte(`"reverts"`)) != 2 {
		t.Errorf("log lines lack id first or reverts (only on the revert's two lines):\n%s", b)
	}
}

func TestReadSkipsWhatDoesNotParse(t *testing.T) {
	i1, r1 := action("cccccccccccc", 1, lease.ActionRelease, lease.OutcomeWon)
	good := lineOf(t, i1)
	tests := []struct {
		name string
		log  string
		want int
	}{
		{"empty", "", 0},
		{"blank lines", "\n\n  \n", 0},
		{"torn last line", string(good) + string(lineOf(t, r1)[:40]), 1},
		{"no newline at the end", strings.TrimSuffix(string(good), "\n"), 1},
		{"not an object", "[1,2]\n\"x\"\n" + string(good), 1},
		{"bad time", strings.Replace(string(good), "2024-06-10", "yesterday", 1), 0},
		{"unknown outcome", strings.Replace(string(good), `"pending"`, `"maybe"`, 1), 0},
		{"wrong type", strings.Replace(string(good), `"revision_before":7`, `"revision_before":"7"`, 1), 0},
		{"crlf", strings.Replace(string(good), "\n", "\r\n", 1), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := Read(strings.NewReader(tt.log))
			if err != nil || len(entries) != tt.want {
				t.Errorf("Read(%q) = %d entries, %v; want %d", tt.log, len(entries), err, tt.want)
			}
		})
	}
}

func TestReadFileMissingOrDirectory(t *testing.T) {
	dir := t.TempDir()
	entries, err := ReadFile(filepath.Join(dir, "none", "audit.jsonl"))
	if err != nil || len(entries) != 0 {
		t.Errorf("ReadFile(missing) = %v, %v; want no entries, no error", entries, err)
	}
	if _, err := ReadFile(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(a directory) = %v, want ErrNotRegular", err)
	}
}

// longValue is a value far beyond bufio.Scanner's default token size.
var longValue = bytes.Repeat([]byte("x"), 1<<20)

func TestReadLongLines(t *testing.T) {
	i, r := action("dddddddddddd", 1, lease.ActionTakeover, lease.OutcomeWon)
	i.ValueAfter, r.ValueAfter, r.ValueBefore = longValue, longValue, longValue
	entries, err := ReadFile(logOf(t, i, r))
	if err != nil || len(entries) != 1 || !bytes.Equal(entries[0].ValueBefore, longValue) {
		t.Fatalf("ReadFile of a 1 MiB value = %d entries, %v", len(entries), err)
	}
}

func TestFilterMatch(t *testing.T) {
	base := Entry{ID: "abcdef012345", Time: time.Unix(1000, 0), Operator: "alice", Store: "prod", Key: "exports/orders", Action: lease.ActionTakeover, Outcome: lease.OutcomeWon}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"zero filter", Filter{}, true},
		{"store", Filter{Store: "prod"}, true},
		{"other store", Filter{Store: "staging"}, false},
		{"key", Filter{Key: "exports/orders"}, true},
		{"key prefix is not the key", Filter{Key: "exports/"}, false},
		{"operator", Filter{Operator: "alice"}, true},
		{"other operator", Filter{Operator: "bob"}, false},
		{"outcome", Filter{Outcome: lease.OutcomeWon}, true},
		{"other outcome", Filter{Outcome: lease.OutcomeChanged}, false},
		{"since equal", Filter{Since: time.Unix(1000, 0)}, true},
		{"since before", Filter{Since: time.Unix(999, 0)}, true},
		{"since after", Filter{Since: time.Unix(1001, 0)}, false},
		{"all", Filter{Store: "prod", Key: "exports/orders", Operator: "alice", Outcome: lease.OutcomeWon, Since: time.Unix(1, 0)}, true},
		{"all but one", Filter{Store: "prod", Key: "exports/orders", Operator: "alice", Outcome: lease.OutcomeLost}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(base); got != tt.want {
				t.Errorf("%+v.Match = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	entries := []Entry{
		{ID: "abcdef012345"}, {ID: "abcd99999999"}, {ID: "0123456789ab"},
		{ID: "feedfeedfeed"}, {ID: "feedfeedfeed"}, // two old lines with one derived id
		{ID: "abc"},
	}
	tests := []struct {
		id   string
		want string
		err  error
	}{
		{"abcdef012345", "abcdef012345", nil},
		{"ABCDEF012345", "abcdef012345", nil},
		{" abcdef0 ", "abcdef012345", nil},
		{"abcde", "abcdef012345", nil},
		{"abcd9", "abcd99999999", nil},
		{"0123", "0123456789ab", nil},
		{"abcd", "", ErrAmbiguous},
		{"abc", "abc", nil}, // exact, however short
		{"012", "", ErrNoEntry},
		{"feedfeedfeed", "", ErrAmbiguous},
		{"feed", "", ErrAmbiguous},
		{"ffff", "", ErrNoEntry},
		{"", "", ErrNoEntry},
		{"abcdef0123456", "", ErrNoEntry},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			e, err := Find(entries, tt.id)
			if e.ID != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Find(%q) = %q, %v; want %q, %v", tt.id, e.ID, err, tt.want, tt.err)
			}
		})
	}
	if _, err := Find(entries, "ab"); err == nil || !strings.Contains(err.Error(), "at least its first 4") {
		t.Errorf("Find(too short a prefix) = %v, want it to say a prefix needs 4 characters", err)
	}
}

func TestRevertRequest(t *testing.T) {
	won := Entry{
		ID: "abcdef012345", Store: "prod", Key: "exports/orders", Action: lease.ActionTakeover,
		RevisionBefore: 7, ValueBefore: []byte("old"), ValueAfter: []byte("new"), RevisionAfter: 8, Outcome: lease.OutcomeWon,
	}
	tests := []struct {
		name  string
		edit  func(e *Entry)
		value []byte // nil: refused
	}{
		{"takeover over a record", func(*Entry) {}, []byte("old")},
		{"over a tombstone", func(e *Entry) { e.ValueBefore = []byte{} }, []byte{}},
		{"over an absent key: a tombstone", func(e *Entry) { e.ValueBefore = nil }, []byte{}},
		{"a revert", func(e *Entry) { e.Action, e.Reverts = lease.ActionRevert, "000000000000" }, []byte("old")},
		{"changed", func(e *Entry) { e.Outcome, e.RevisionAfter = lease.OutcomeChanged, 0 }, nil},
		{"lost", func(e *Entry) { e.Outcome = lease.OutcomeLost }, nil},
		{"pending", func(e *Entry) { e.Outcome = lease.OutcomePending }, nil},
		{"unknown", func(e *Entry) { e.Outcome = lease.OutcomeUnknown }, nil},
		{"error", func(e *Entry) { e.Outcome = lease.OutcomeError }, nil},
		{"cancelled", func(e *Entry) { e.Outcome = lease.OutcomeCancelled }, nil},
		{"won without a revision", func(e *Entry) { e.RevisionAfter = 0 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := won
			tt.edit(&e)
			req, err := RevertRequest(e, "undo INC-42")
			if tt.value == nil {
				if !errors.Is(err, ErrNotRevertible) {
					t.Errorf("RevertRequest(%s) = %+v, %v; want ErrNotRevertible", e.Outcome, req, err)
				}
				return
			}
			want := lease.Request{Action: lease.ActionRevert, Key: "exports/orders", Seen: 8, Value: tt.value, Reason: "undo INC-42", Reverts: "abcdef012345"}
			if err != nil || req.Action != want.Action || req.Key != want.Key || req.Seen != want.Seen || req.Reason != want.Reason ||
				req.Reverts != want.Reverts || req.Value == nil || !bytes.Equal(req.Value, want.Value) || req.TTL != 0 {
				t.Errorf("RevertRequest = %+v, %v; want %+v", req, err, want)
			}
			if len(e.ValueBefore) > 0 && &req.Value[0] == &e.ValueBefore[0] {
				t.Error("the request shares the entry's bytes; want a copy")
			}
		})
	}
}

func TestBlankIDIsDerived(t *testing.T) {
	i, _ := action("  ", 1, lease.ActionTakeover, lease.OutcomeWon)
	entries, err := Read(bytes.NewReader(lineOf(t, i)))
	want := legacyID(i.Time.UTC().Format(time.RFC3339Nano), "alice", "ops-1", "prod", "exports/k1", "takeover")
	if err != nil || len(entries) != 1 || entries[0].ID != want {
		t.Errorf("a line with a blank id = %+v, %v; want the derived id %s", entries, err, want)
	}
}
