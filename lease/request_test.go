package lease_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// TestAcquireAtRevision covers an operator's acquire pinned to the revision
// on screen: a create when it was absent, a compare-and-swap against it
// otherwise, "changed" when the key moved on, "lost" over a live lease —
// and every attempt audited.
func TestAcquireAtRevision(t *testing.T) {
	other := lease.Record{HolderID: "node-b", AcquiredAtUnix: t0 - 900, ExpiresAtUnix: t0 - 600}.Encode()
	tests := []struct {
		name    string
		plant   []byte // nil: absent
		moveOn  bool   // someone writes the key after the operator looked
		outcome lease.Outcome
		wantErr error
		calls   []string
	}{
		{"absent", nil, false, lease.OutcomeWon, nil,
			[]string{"audit pending", "get " + key, "create " + key, "audit won"}},
		{"expired", expiredA, false, lease.OutcomeWon, nil,
			[]string{"audit pending", "get " + key, "update " + key + "@1", "audit won"}},
		{"tombstone", []byte{}, false, lease.OutcomeWon, nil,
			[]string{"audit pending", "get " + key, "update " + key + "@1", "audit won"}},
		{"corrupt", []byte("app config, not a lease"), false, lease.OutcomeWon, nil,
			[]string{"audit pending", "get " + key, "update " + key + "@1", "audit won"}},
		{"live", liveA, false, lease.OutcomeLost, lease.ErrHeld,
			[]string{"audit pending", "get " + key, "audit lost"}},
		{"expired, then rewritten", expiredA, true, lease.OutcomeChanged, lease.ErrChanged,
			[]string{"audit pending", "get " + key, "audit changed"}},
		{"absent, then created", nil, true, lease.OutcomeChanged, lease.ErrChanged,
			[]string{"audit pending", "get " + key, "audit changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOpFixture(t)
			var seen uint64
			if tt.plant != nil {
				seen = f.plant(t, tt.plant)
			}
			current := tt.plant
			if tt.moveOn {
				current = other
				var err error
				if seen == 0 {
					_, err = f.m.Create(t.Context(), key, other)
				} else {
					_, err = f.m.Update(t.Context(), key, other, seen)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			res, err := f.op.Acquire(t.Context(), key, 10*time.Minute, lease.AtRevision(seen))
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Acquire(AtRevision(%d)) = %v, want %v", seen, err, tt.wantErr)
			}
			if res.Outcome != tt.outcome {
				t.Errorf("Outcome = %v, want %v", res.Outcome, tt.outcome)
			}
			if got := f.calls(); !reflect.DeepEqual(got, tt.calls) {
				t.Errorf("calls = %q, want %q", got, tt.calls)
			}
			e, gerr := f.m.Get(t.Context(), key)
			if tt.outcome == lease.OutcomeWon {
				if gerr != nil || !bytes.Equal(e.Value, aliceAt100) || e.Revision != res.Revision {
					t.Errorf("store = %q at %d (%v), want %q at %d", e.Value, e.Revision, gerr, aliceAt100, res.Revision)
				}
			} else if gerr == nil && !bytes.Equal(e.Value, current) || gerr != nil && current != nil {
				t.Errorf("store = %q (%v), want %q untouched", e.Value, gerr, current)
			}
			recs := f.auditor.all()
			if len(recs) != 2 || recs[0].RevisionBefore != seen || recs[1].Outcome != tt.outcome {
				t.Errorf("audit = %+v, want the intent at revision %d, then %v", recs, seen, tt.outcome)
			}
		})
	}
}

// TestRulesRefuseBeforeAudit checks that a request breaking a rule is refused
// with a *RequestError naming the rule, before anything is audited or sent.
func TestRulesRefuseBeforeAudit(t *testing.T) {
	long := strings.Repeat("x", lease.MaxReasonLen+1)
	tests := []struct {
		name string
		opts []lease.OperatorOption
		req  lease.Request
		want error
	}{
		{"unknown action", nil, lease.Request{Key: key, TTL: time.Minute}, lease.ErrInvalidRequest},
		{"empty key", nil, lease.Request{Action: lease.ActionTakeover, TTL: time.Minute, Reason: "x"}, stores.ErrInvalidKey},
		{"ttl under a second", nil, lease.Request{Action: lease.ActionAcquire, Key: key, TTL: 999 * time.Millisecond}, lease.ErrInvalidTTL},
		{"ttl over the skew cap", nil, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: 1752000 * time.Hour, Reason: "x"}, lease.ErrInvalidTTL},
		{"ttl over a custom cap", []lease.OperatorOption{lease.WithThresholds(lease.Thresholds{SkewTolerance: time.Second, MaxPeriod: time.Hour})},
			lease.Request{Action: lease.ActionAcquire, Key: key, TTL: 2 * time.Hour}, lease.ErrInvalidTTL},
		{"takeover without a reason", nil, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: time.Minute, Reason: " \t"}, lease.ErrReasonRequired},
		{"release without a reason", nil, lease.Request{Action: lease.ActionRelease, Key: key, Seen: 3}, lease.ErrReasonRequired},
		{"reason too long", nil, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: time.Minute, Reason: long}, lease.ErrInvalidReason},
		{"reason not UTF-8", nil, lease.Request{Action: lease.ActionAcquire, Key: key, TTL: time.Minute, Reason: "\xff"}, lease.ErrInvalidReason},
		{"release of an absent key", nil, lease.Request{Action: lease.ActionRelease, Key: key, Reason: "x"}, lease.ErrNothingToRelease},
		{"empty holder", nil, lease.Request{Action: lease.ActionAcquire, Key: key, TTL: time.Minute, Holder: "\xff"}, lease.ErrInvalidHolder},
		{"holder on a takeover", nil, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: time.Minute, Reason: "x", Holder: "node-a"}, lease.ErrInvalidRequest},
		{"any revision on a release", nil, lease.Request{Action: lease.ActionRelease, Key: key, Reason: "x", Seen: 1, AnyRevision: true}, lease.ErrInvalidRequest},
		{"outside the prefix", []lease.OperatorOption{lease.WithScope("exports/")},
			lease.Request{Action: lease.ActionAcquire, Key: "app/feature-flags", TTL: time.Minute}, lease.ErrOutsideScope},
		{"revert without a reason", nil, lease.Request{Action: lease.ActionRevert, Key: key, Seen: 3, Value: []byte{}, Reverts: "abcdef012345"}, lease.ErrReasonRequired},
		{"revert without a value", nil, lease.Request{Action: lease.ActionRevert, Key: key, Seen: 3, Reason: "x", Reverts: "abcdef012345"}, lease.ErrInvalidRevert},
		{"revert without the id it reverts", nil, lease.Request{Action: lease.ActionRevert, Key: key, Seen: 3, Reason: "x", Value: []byte{}}, lease.ErrInvalidRevert},
		{"revert at revision 0", nil, lease.Request{Action: lease.ActionRevert, Key: key, Reason: "x", Value: liveA, Reverts: "abcdef012345"}, lease.ErrInvalidRevert},
		{"revert outside the prefix", []lease.OperatorOption{lease.WithScope("exports/")},
			lease.Request{Action: lease.ActionRevert, Key: "app/feature-flags", Seen: 3, Reason: "x", Value: liveA, Reverts: "abcdef012345"}, lease.ErrOutsideScope},
		{"revert as a holder", nil, lease.Request{Action: lease.ActionRevert, Key: key, Seen: 3, Reason: "x", Value: liveA, Reverts: "abcdef012345", Holder: "node-a"}, lease.ErrInvalidRequest},
		{"revert at any revision", nil, lease.Request{Action: lease.ActionRevert, Key: key, Seen: 3, Reason: "x", Value: liveA, Reverts: "abcdef012345", AnyRevision: true}, lease.ErrInvalidRequest},
		{"a value on a takeover", nil, lease.Request{Action: lease.ActionTakeover, Key: key, TTL: time.Minute, Reason: "x", Value: liveA}, lease.ErrInvalidRevert},
		{"reverts on a release", nil, lease.Request{Action: lease.ActionRelease, Key: key, Seen: 1, Reason: "x", Reverts: "abcdef012345"}, lease.ErrInvalidRevert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOpFixture(t, tt.opts...)
			res, err := f.op.Do(t.Context(), tt.req)
			if !errors.Is(err, tt.want) || !errors.Is(err, lease.ErrInvalidRequest) {
				t.Fatalf("Do(%+v) = %v, want %v and ErrInvalidRequest", tt.req, err, tt.want)
			}
			if res.Outcome != 0 {
				t.Errorf("Outcome = %v, want none", res.Outcome)
			}
			if got := f.calls(); len(got) != 0 {
				t.Errorf("calls = %q, want none: a refused request is neither audited nor sent", got)
			}
			if cerr := f.op.Check(tt.req); !errors.Is(cerr, tt.want) {
				t.Errorf("Check = %v, want %v like Do", cerr, tt.want)
			}
		})
	}
	// Within the prefix, the same store takes the write.
	f := newOpFixture(t, lease.WithScope("exports/"))
	if _, err := f.op.Acquire(t.Context(), key, time.Minute); err != nil {
		t.Errorf("Acquire(%q) within scope exports/ = %v", key, err)
	}
}

// TestWriteInDoubt covers a write whose answer was lost: the outcome is what
// reading the key back shows, never an error for a write that landed.
func TestWriteInDoubt(t *testing.T) {
	deadline := fmt.Errorf("rpc: %w", context.DeadlineExceeded)
	tests := []struct {
		name     string
		landed   bool  // the store carried the write out
		writeErr error // what the caller got instead of the answer
		readBack error // the read-back fails with this
		outcome  lease.Outcome
	}{
		{"landed, answer lost", true, deadline, nil, lease.OutcomeWon},
		{"landed, connection reset", true, errors.New("connection reset by peer"), nil, lease.OutcomeWon},
		{"not landed, deadline", false, deadline, nil, lease.OutcomeUnknown},
		{"not landed, refused by the store", false, errors.New("permission denied"), nil, lease.OutcomeError},
		{"landed, read-back fails", true, deadline, errors.New("store down"), lease.OutcomeUnknown},
		// A driver that knows it sent nothing says so: no read-back needed,
		// and "error" is the truth even with the store unreachable.
		{"not sent, store down", false, fmt.Errorf("natskv: %w: reconnecting", stores.ErrNotSent), errors.New("store down"), lease.OutcomeError},
	}
	for _, action := range []string{"takeover", "acquire"} {
		for _, tt := range tests {
			t.Run(action+"/"+tt.name, func(t *testing.T) {
				f := newOpFixture(t)
				seen := f.plant(t, expiredA)
				f.cs.set(func(s *callStore) {
					if tt.landed {
						s.lostAnswer = tt.writeErr
					} else {
						s.updateErr = tt.writeErr
					}
					writes := 0
					s.beforeUpdate = func(context.Context, string) { writes++ }
					s.getHook = func() error {
						if writes > 0 {
							return tt.readBack
						}
						return nil
					}
				})
				var (
					res lease.Result
					err error
				)
				if action == "takeover" {
					res, err = f.op.Takeover(t.Context(), key, 10*time.Minute, "incident", seen)
				} else {
					res, err = f.op.Acquire(t.Context(), key, 10*time.Minute)
				}
				if res.Outcome != tt.outcome {
					t.Fatalf("%s = %v, %v; want outcome %v", action, res.Outcome, err, tt.outcome)
				}
				e := mustGet(t, f.m, key)
				switch tt.outcome {
				case lease.OutcomeWon:
					if err != nil || res.Revision != e.Revision || !bytes.Equal(res.Written, aliceAt100) {
						t.Errorf("won: err %v, result %+v; store at %d", err, res, e.Revision)
					}
				default:
					if err == nil || !errors.Is(err, tt.writeErr) {
						t.Errorf("err = %v, want it to wrap %v", err, tt.writeErr)
					}
					if res.Revision != 0 || res.Written != nil {
						t.Errorf("result %+v claims a write", res)
					}
				}
				recs := f.auditor.all()
				if len(recs) != 2 || recs[1].Outcome != tt.outcome {
					t.Fatalf("audit = %+v, want pending then %v", recs, tt.outcome)
				}
				if tt.outcome == lease.OutcomeWon && (recs[1].RevisionAfter != e.Revision || !bytes.Equal(recs[1].ValueAfter, aliceAt100)) {
					t.Errorf("result record = %+v, want the write at %d", recs[1], e.Revision)
				}
			})
		}
	}
}

// TestCancel covers an operator who abandons an action: before the write is
// sent nothing is written and the trail says cancelled; once in flight, the
// outcome is read back with a fresh context.
func TestCancel(t *testing.T) {
	t.Run("before the write", func(t *testing.T) {
		f := newOpFixture(t)
		seen := f.plant(t, liveA)
		ctx, cancel := context.WithCancel(t.Context())
		f.cs.set(func(s *callStore) {
			s.getHook = func() error { cancel(); return nil } // while reading what is there
		})
		res, err := f.op.Takeover(ctx, key, time.Minute, "incident", seen)
		if res.Outcome != lease.OutcomeCancelled || !errors.Is(err, context.Canceled) {
			t.Fatalf("Takeover cancelled during its read = %v, %v; want cancelled", res.Outcome, err)
		}
		if e := mustGet(t, f.m, key); !bytes.Equal(e.Value, liveA) {
			t.Errorf("store = %q, want untouched", e.Value)
		}
		want := []string{"audit pending", "get " + key, "audit cancelled"}
		if got := f.calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %q, want %q", got, want)
		}
	})
	t.Run("in flight, landed", func(t *testing.T) {
		f := newOpFixture(t)
		seen := f.plant(t, liveA)
		ctx, cancel := context.WithCancel(t.Context())
		f.cs.set(func(s *callStore) {
			s.afterUpdate = cancel // the operator gives up as the write lands
			s.lostAnswer = context.Canceled
		})
		res, err := f.op.Takeover(ctx, key, time.Minute, "incident", seen)
		if res.Outcome != lease.OutcomeWon || err != nil {
			t.Fatalf("Takeover whose write landed as it was cancelled = %v, %v; want won", res.Outcome, err)
		}
		if recs := f.auditor.all(); len(recs) != 2 || recs[1].Outcome != lease.OutcomeWon {
			t.Errorf("audit = %+v, want pending then won", recs)
		}
	})
}

func TestActionAndOutcomeText(t *testing.T) {
	for _, a := range []lease.Action{lease.ActionAcquire, lease.ActionTakeover, lease.ActionRelease, lease.ActionRevert} {
		b, err := a.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText() = %v", a, err)
		}
		var back lease.Action
		if err := back.UnmarshalText(b); err != nil || back != a || string(b) != a.String() {
			t.Errorf("Action %v → %q → %v, %v", a, b, back, err)
		}
	}
	for o := lease.OutcomePending; o <= lease.OutcomeCancelled; o++ {
		b, err := o.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText() = %v", o, err)
		}
		var back lease.Outcome
		if err := back.UnmarshalText(b); err != nil || back != o || string(b) != o.String() {
			t.Errorf("Outcome %v → %q → %v, %v", o, b, back, err)
		}
	}
	if lease.ActionRevert.String() != "revert" {
		t.Errorf("ActionRevert.String() = %q, want revert", lease.ActionRevert)
	}
	if _, err := lease.Action(0).MarshalText(); err == nil {
		t.Error("Action(0).MarshalText() = nil error, want one")
	}
	var a lease.Action
	if err := a.UnmarshalText([]byte("delete")); err == nil {
		t.Error(`UnmarshalText("delete") = nil error, want one`)
	}
	if !lease.OutcomeWon.Wrote() || lease.OutcomeUnknown.Wrote() {
		t.Error("Wrote() must be true for won only")
	}
}

func TestConfirmWord(t *testing.T) {
	tests := []struct{ key, word string }{
		{"exports/orders", "orders"},
		{"orders", "orders"},
		{"a.b.c", "c"},
		{"exports/v1.2", "2"},
		{"exports/", "exports/"},
		{"/", "/"},
	}
	for _, tt := range tests {
		if got := lease.ConfirmWord(tt.key); got != tt.word {
			t.Errorf("ConfirmWord(%q) = %q, want %q", tt.key, got, tt.word)
		}
	}
	shown := func(s string) string { return strings.ReplaceAll(s, "\x1b", "␛") }
	for _, tt := range []struct {
		key, typed string
		ok         bool
	}{
		{"exports/orders", "orders", true},
		{"exports/orders", "  orders\n", true},
		{"exports/orders", "order", false},
		{"exports/orders", "exports/orders", false},
		{"exports/orders", "ORDERS", false},
		{"exports/\x1borders", "␛orders", true},
		{"exports/\x1borders", "\x1borders", true},
		{"exports/\x1borders", "orders", false},
	} {
		if got := lease.Confirmed(tt.key, tt.typed, shown); got != tt.ok {
			t.Errorf("Confirmed(%q, %q) = %v, want %v", tt.key, tt.typed, got, tt.ok)
		}
	}
}

func TestCheckReleasable(t *testing.T) {
	now := time.Unix(t0, 0)
	th := lease.DefaultThresholds()
	for _, tt := range []struct {
		e     stores.Entry
		found bool
		ok    bool
	}{
		{stores.Entry{Key: key}, false, false},
		{stores.Entry{Key: key, Value: []byte{}, Revision: 4}, true, false},
		{stores.Entry{Key: key, Value: liveA, Revision: 4}, true, true},
		{stores.Entry{Key: key, Value: []byte("junk"), Revision: 4}, true, true},
	} {
		o := lease.Observe("prod", tt.e, tt.found, now, th)
		if err := lease.CheckReleasable(o); (err == nil) != tt.ok || (err != nil && !errors.Is(err, lease.ErrNothingToRelease)) {
			t.Errorf("CheckReleasable(%v) = %v, want ok %v", o.Status.State, err, tt.ok)
		}
	}
}

func TestObserve(t *testing.T) {
	now := time.Unix(t0+100, 0)
	o := lease.Observe("prod", stores.Entry{Key: key, Value: liveA, Revision: 7}, true, now, lease.DefaultThresholds())
	if o.Store != "prod" || o.Key != key || !o.Found || o.Revision() != 7 || o.Status.State != lease.Held || o.Status.Record.HolderID != "node-a" {
		t.Errorf("Observe(live) = %+v", o)
	}
	a := lease.Observe("prod", stores.Entry{Key: key, Value: liveA, Revision: 7}, false, now, lease.DefaultThresholds())
	if a.Found || a.Revision() != 0 || a.Entry.Value != nil || a.Status.State != lease.Absent || a.Key != key {
		t.Errorf("Observe(absent) = %+v, want absent with the key and nothing else", a)
	}
}
