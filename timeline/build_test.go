package timeline

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// raw is a record acquired at a, expiring at e (seconds after t0), with a
// completion at done when done >= 0.
func raw(holder string, a, e, done int) []byte {
	r := lease.Record{HolderID: holder, AcquiredAtUnix: uint64(at(a).Unix()), ExpiresAtUnix: uint64(at(e).Unix())}
	if done >= 0 {
		c := uint64(at(done).Unix())
		r.CompletedAtUnix, r.CompletedCursorHex = &c, "2a"
	}
	return r.Encode()
}

// ch is a change at revision rev; seen >= 0 gives it an observed time.
func ch(rev uint64, v []byte, src Source, seen int) Change {
	c := Change{Entry: stores.Entry{Key: "k", Value: v, Revision: rev}, Source: src}
	if seen >= 0 {
		c.At = at(seen)
	}
	return c
}

// roundsText renders rounds compactly: holder@acquired-end ending, with
// c for completed and the sources.
func roundsText(rs []Round) string {
	var parts []string
	for _, r := range rs {
		done := ""
		if r.Completed {
			done = " c"
		}
		parts = append(parts, fmt.Sprintf("%s@%d-%d %s%s %s", r.Holder, int(r.Acquired.Sub(t0)/time.Second),
			int(r.End.Sub(t0)/time.Second), r.Ending, done, r.Sources))
	}
	return strings.Join(parts, "; ")
}

func gapsText(gs []Gap) string {
	var parts []string
	for _, g := range gs {
		s := fmt.Sprintf("%d-%d/%d", int(g.From.Sub(t0)/time.Second), int(g.To.Sub(t0)/time.Second), g.Missed)
		if g.Trailing {
			s += " trailing"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestBuild(t *testing.T) {
	th := lease.DefaultThresholds()
	release := Action{ID: "r1", Time: at(70), Operator: "bob", Action: lease.ActionRelease, Outcome: lease.OutcomeWon, RevisionAfter: 2, ValueAfter: []byte{}}
	tests := []struct {
		name    string
		changes []Change
		actions []Action
		now     int
		th      lease.Thresholds
		rounds  string
		gaps    string
		summary string // rounds completed unfinished running missed longest
	}{
		{name: "nothing", now: 100, summary: "0 0 0 0 0 0s"},
		{
			name:    "running round",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1)},
			now:     30, rounds: "a@0-30 running store", summary: "1 0 0 1 0 0s",
		},
		{
			name:    "the completion is the same round",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, raw("a", 0, 60, 10), FromStore, -1)},
			now:     60, rounds: "a@0-60 expired c store", summary: "1 1 0 0 0 0s",
		},
		{
			name:    "a crash is unfinished, then the next round",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, raw("b", 60, 120, 65), FromStore, -1)},
			now:     120, rounds: "a@0-60 expired store; b@60-120 expired c store", summary: "2 1 1 0 0 0s",
		},
		{
			name:    "three periods missed, and two until now",
			changes: []Change{ch(5, raw("a", 0, 60, 5), FromStore, -1), ch(9, raw("b", 240, 300, 250), FromStore, -1)},
			now:     420, rounds: "a@0-60 expired c store; b@240-300 expired c store",
			gaps: "60-240/3; 300-420/2 trailing", summary: "2 2 0 0 5 3m00s",
		},
		{
			name:    "the period is capped at MaxPeriod",
			changes: []Change{ch(1, raw("a", 0, 600, -1), FromStore, -1), ch(2, raw("b", 1000, 1060, -1), FromStore, -1)},
			th:      lease.Thresholds{SkewTolerance: time.Minute, MaxPeriod: 100 * time.Second},
			now:     1010, rounds: "a@0-600 expired store; b@1000-1010 running store",
			gaps: "600-1000/4", summary: "2 0 1 1 4 6m40s",
		},
		{
			name:    "taken over before its expiry",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, raw("operator:alice", 20, 80, -1), FromStore, -1)},
			now:     80, rounds: "a@0-20 taken over store; operator:alice@20-80 expired store", summary: "2 0 1 0 0 0s",
		},
		{
			name:    "an abandon seen by the watch ends the round then",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromObserved, 0), ch(2, []byte{}, FromObserved, 15), ch(3, raw("b", 60, 120, 70), FromObserved, 60)},
			now:     120, rounds: "a@0-15 abandoned observed; b@60-120 expired c observed",
			gaps: "15-60/0", summary: "2 1 1 0 0 45s",
		},
		{
			name:    "an unseen tombstone ends the round at its expiry",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, []byte{}, FromStore, -1), ch(3, raw("b", 90, 150, -1), FromStore, -1)},
			now:     100, rounds: "a@0-60 abandoned store; b@90-100 running store", gaps: "60-90/0", summary: "2 0 1 1 0 30s",
		},
		{
			name:    "an audited release",
			changes: []Change{ch(1, raw("a", 0, 600, -1), FromStore, -1), ch(2, []byte{}, FromStore, -1)},
			actions: []Action{release},
			now:     100, rounds: "a@0-70 released store", gaps: "70-100/0 trailing", summary: "1 0 1 0 0 30s",
		},
		{
			name:    "a corrupt write overwrites the round",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, []byte("{"), FromObserved, 30), ch(3, raw("b", 40, 100, -1), FromStore, -1)},
			now:     60, rounds: "a@0-30 overwritten store; b@40-60 running store", gaps: "30-40/0", summary: "2 0 1 1 0 10s",
		},
		{
			name:    "one revision from two sources is one change",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(1, raw("a", 0, 60, -1), FromObserved, 3)},
			now:     30, rounds: "a@0-30 running store+observed", summary: "1 0 0 1 0 0s",
		},
		{
			name:    "a round only the audit log knows",
			changes: []Change{ch(9, raw("a", 200, 260, 210), FromStore, -1)},
			actions: []Action{{Time: at(0), Operator: "alice", Action: lease.ActionTakeover, Outcome: lease.OutcomeWon, RevisionAfter: 4, ValueAfter: raw("operator:alice", 0, 100, -1)}},
			now:     260, rounds: "operator:alice@0-100 expired audit; a@200-260 expired c store",
			gaps: "100-200/1", summary: "2 1 0 0 1 1m40s",
		},
		{
			name: "a revert writes the round back: it goes on",
			changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, raw("operator:alice", 10, 70, -1), FromStore, -1),
				ch(3, raw("a", 0, 60, -1), FromStore, -1), ch(4, raw("a", 0, 60, 30), FromStore, -1)},
			actions: []Action{
				{ID: "t", Time: at(10), Operator: "alice", Action: lease.ActionTakeover, Outcome: lease.OutcomeWon, RevisionAfter: 2, ValueAfter: raw("operator:alice", 10, 70, -1)},
				{ID: "v", Time: at(20), Operator: "alice", Action: lease.ActionRevert, Outcome: lease.OutcomeWon, RevisionAfter: 3, ValueAfter: raw("a", 0, 60, -1)},
			},
			now: 90, rounds: "a@0-60 expired c store+audit; operator:alice@10-20 reverted store+audit",
			gaps: "60-90/0 trailing", summary: "2 1 0 0 0 30s",
		},
		{
			name:    "out of order, sorted by revision",
			changes: []Change{ch(2, raw("b", 60, 120, -1), FromStore, -1), ch(1, raw("a", 0, 60, 1), FromStore, -1)},
			now:     100, rounds: "a@0-60 expired c store; b@60-100 running store", summary: "2 1 0 1 0 0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.th == (lease.Thresholds{}) {
				tt.th = th
			}
			tl := Build(Input{Key: "k", Changes: tt.changes, Actions: tt.actions, Now: at(tt.now), Thresholds: tt.th})
			if got := roundsText(tl.Rounds); got != tt.rounds {
				t.Errorf("rounds = %q, want %q", got, tt.rounds)
			}
			if got := gapsText(tl.Gaps); got != tt.gaps {
				t.Errorf("gaps = %q, want %q", got, tt.gaps)
			}
			s := tl.Summary
			if got := fmt.Sprintf("%d %d %d %d %d %s", s.Rounds, s.Completed, s.Unfinished, s.Running, s.MissedPeriods, precise(s.LongestGap)); got != tt.summary {
				t.Errorf("summary = %q, want %q", got, tt.summary)
			}
		})
	}
}

func TestBuildEvents(t *testing.T) {
	release := Action{ID: "r1", Time: at(70), Operator: "bob", Action: lease.ActionRelease, Outcome: lease.OutcomeWon, RevisionAfter: 2, ValueAfter: []byte{}}
	refused := Action{ID: "t1", Time: at(80), Operator: "carol", Action: lease.ActionTakeover, Outcome: lease.OutcomeChanged}
	tl := Build(Input{
		Key:     "k",
		Changes: []Change{ch(1, raw("a", 0, 600, -1), FromStore, -1), ch(2, []byte{}, FromStore, -1), ch(3, []byte("nope"), FromStore, -1)},
		Actions: []Action{refused, release},
		Now:     at(100), Thresholds: lease.DefaultThresholds(),
	})
	var got []string
	for _, ev := range tl.Events {
		s := fmt.Sprintf("%s@%d", ev.Kind, int(ev.At.Sub(t0)/time.Second))
		if ev.Approx {
			s += "~"
		}
		if ev.Action != nil {
			s += " " + ev.Action.ID
		}
		if ev.Written {
			s += " written"
		}
		got = append(got, s)
	}
	// The corrupt write came after the release, when is not known: it is
	// placed at the last time known before it.
	want := "tombstone@70 r1; corrupt@70~; action@70 r1 written; action@80 t1"
	if strings.Join(got, "; ") != want {
		t.Errorf("events = %q, want %q", strings.Join(got, "; "), want)
	}
	if r := tl.Rounds[0]; r.Ending != Released || r.EndAction == nil || r.EndAction.Operator != "bob" {
		t.Errorf("round = %+v, want released by bob", r)
	}
	if tl.Current.State != lease.Corrupt {
		t.Errorf("current = %v, want corrupt", tl.Current.State)
	}
	if got := tl.Sources.String(); got != "store+audit" {
		t.Errorf("sources = %q, want store+audit", got)
	}
}

func TestBuildOverdue(t *testing.T) {
	for _, tt := range []struct {
		now     int
		overdue bool
	}{{59, false}, {60, false}, {120, false}, {121, true}} {
		tl := Build(Input{Key: "k", Changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1)}, Now: at(tt.now), Thresholds: lease.DefaultThresholds()})
		if got := tl.Health.Flags.Has(lease.Overdue); got != tt.overdue {
			t.Errorf("now t0+%ds: overdue = %v, want %v (%+v)", tt.now, got, tt.overdue, tl.Health)
		}
	}
}

// TestBuildOverdueAfterAbandon: a key whose last round was abandoned and
// whose fleet then stopped is overdue, judged by the newest record.
func TestBuildOverdueAfterAbandon(t *testing.T) {
	tl := Build(Input{Key: "k", Changes: []Change{ch(1, raw("a", 0, 60, -1), FromStore, -1), ch(2, []byte{}, FromStore, -1)},
		Now: at(200), Thresholds: lease.DefaultThresholds()})
	if !tl.Health.Flags.Has(lease.Overdue) || tl.Health.Flags.Has(lease.Unfinished) || tl.Current.State != lease.Tombstone {
		t.Errorf("health = %+v, current %v; want overdue, not unfinished, a tombstone", tl.Health, tl.Current.State)
	}
}
