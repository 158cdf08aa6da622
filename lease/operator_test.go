package lease_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// recordingAuditor keeps every audit record, notes each in the shared event
// log, and fails when told to.
type recordingAuditor struct {
	log *events

	mu      sync.Mutex
	records []lease.AuditRecord
	// fail makes Audit fail for records with this outcome (0 never).
	fail lease.Outcome
}

func (a *recordingAuditor) Audit(_ context.Context, r lease.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != 0 && r.Outcome == a.fail {
		a.log.add("audit %s failed", r.Outcome)
		return errors.New("disk full")
	}
	a.log.add("audit %s", r.Outcome)
	a.records = append(a.records, r)
	return nil
}

func (a *recordingAuditor) all() []lease.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.records)
}

// opFixture is an Operator on a memory store behind a callStore, with a
// recording auditor and a fixed clock at t0+100.
type opFixture struct {
	log     *events
	cs      *callStore
	m       *memory.Store
	auditor *recordingAuditor
	clk     *clock
	op      *lease.Operator
}

func newOpFixture(t *testing.T, opts ...lease.OperatorOption) *opFixture {
	t.Helper()
	f := &opFixture{log: &events{}, clk: newClock(t0 + 100)}
	f.cs, f.m = newCallStore(f.log)
	f.auditor = &recordingAuditor{log: f.log}
	opts = append([]lease.OperatorOption{
		lease.WithOperatorClock(f.clk.Now), lease.WithAuditor(f.auditor), lease.WithHost("bastion-1"),
	}, opts...)
	op, err := lease.NewOperator(f.cs, "prod", "alice", opts...)
	if err != nil {
		t.Fatalf("NewOperator = %v", err)
	}
	f.op = op
	return f
}

// plant writes value under key directly (not through the recorded store).
func (f *opFixture) plant(t *testing.T, value []byte) uint64 {
	t.Helper()
	return mustCreate(t, f.m, key, value)
}

func (f *opFixture) calls() []string { return f.log.all() }

var (
	liveA    = lease.Record{HolderID: "node-a", AcquiredAtUnix: t0, ExpiresAtUnix: t0 + 300}.Encode()
	expiredA = lease.Record{HolderID: "node-a", AcquiredAtUnix: t0 - 600, ExpiresAtUnix: t0 - 300}.Encode()
	// aliceAt100 is the operator record written at t0+100 with ttl 10m.
	aliceAt100 = lease.Record{HolderID: "operator:alice", AcquiredAtUnix: t0 + 100, ExpiresAtUnix: t0 + 700}.Encode()
)

func TestNewOperator(t *testing.T) {
	m := memory.New()
	tests := []struct {
		name            string
		s               stores.Store
		store, operator string
		opts            []lease.OperatorOption
	}{
		{"nil store", nil, "prod", "alice", nil},
		{"empty store name", m, "", "alice", nil},
		{"empty operator", m, "prod", "", nil},
		{"nil clock", m, "prod", "alice", []lease.OperatorOption{lease.WithOperatorClock(nil)}},
		{"nil auditor", m, "prod", "alice", []lease.OperatorOption{lease.WithAuditor(nil)}},
		{"empty host", m, "prod", "alice", []lease.OperatorOption{lease.WithHost("")}},
		{"negative threshold", m, "prod", "alice", []lease.OperatorOption{lease.WithThresholds(lease.Thresholds{SkewTolerance: -1})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if op, err := lease.NewOperator(tt.s, tt.store, tt.operator, tt.opts...); err == nil {
				t.Errorf("NewOperator(%q, %q) = %v, nil; want an error", tt.store, tt.operator, op)
			}
		})
	}
	op, err := lease.NewOperator(stores.ReadOnly(m), "prod", "alice")
	if err != nil {
		t.Fatalf("NewOperator on a read-only store = %v, want it accepted for inspection", err)
	}
	if op.HolderID() != "operator:alice" {
		t.Errorf("HolderID() = %q, want operator:alice", op.HolderID())
	}
}

func TestInspect(t *testing.T) {
	completedLive := lease.Record{HolderID: "node-a", AcquiredAtUnix: t0, ExpiresAtUnix: t0 + 300, CompletedCursorHex: "2a", CompletedAtUnix: u64(t0 + 42)}.Encode()
	skewed := lease.Record{HolderID: "node-fast", AcquiredAtUnix: t0 + 3600, ExpiresAtUnix: t0 + 3900}.Encode()
	tests := []struct {
		name   string
		plant  []byte // nil: absent
		state  lease.State
		flags  lease.Flags
		reason string
	}{
		{"absent", nil, lease.Absent, 0, ""},
		{"tombstone", []byte{}, lease.Tombstone, 0, ""},
		{"held", liveA, lease.Held, 0, ""},
		{"held completed", completedLive, lease.Held, lease.Completed, ""},
		{"held skewed", skewed, lease.Held, lease.Skewed, ""},
		{"expired", expiredA, lease.Expired, lease.Overdue | lease.Unfinished, ""},
		{"corrupt", []byte(`{"holder_id":"node-a","holder_id":"node-b"}`), lease.Corrupt, 0, "duplicate field holder_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOpFixture(t)
			var rev uint64
			if tt.plant != nil {
				rev = f.plant(t, tt.plant)
			}
			obs, err := f.op.Inspect(t.Context(), key)
			if err != nil {
				t.Fatalf("Inspect = %v", err)
			}
			if obs.Store != "prod" || obs.Key != key || obs.Found != (tt.plant != nil) || obs.Revision() != rev {
				t.Errorf("Inspect = %+v, want store prod, key %q, found %v, revision %d", obs, key, tt.plant != nil, rev)
			}
			if !bytes.Equal(obs.Entry.Value, tt.plant) {
				t.Errorf("Inspect raw value = %q, want %q", obs.Entry.Value, tt.plant)
			}
			if obs.Status.State != tt.state || obs.Status.Flags != tt.flags || obs.Status.Reason != tt.reason {
				t.Errorf("Inspect status = %v %v %q, want %v %v %q", obs.Status.State, obs.Status.Flags, obs.Status.Reason, tt.state, tt.flags, tt.reason)
			}
			if len(f.auditor.all()) != 0 {
				t.Errorf("Inspect wrote audit records: %+v", f.auditor.all())
			}
		})
	}
}

func TestInspectStoreError(t *testing.T) {
	f := newOpFixture(t)
	boom := errors.New("boom")
	f.cs.set(func(s *callStore) { s.getErr = boom })
	if _, err := f.op.Inspect(t.Context(), key); !errors.Is(err, boom) {
		t.Errorf("Inspect with a failing store = %v, want %v", err, boom)
	}
}

func TestOperatorAcquire(t *testing.T) {
	tests := []struct {
		name   string
		plant  []byte
		won    bool
		before lease.State
		calls  []string
	}{
		{"absent", nil, true, lease.Absent, []string{"audit pending", "create " + key, "audit won"}},
		{"expired", expiredA, true, lease.Expired, []string{"audit pending", "create " + key, "update " + key + "@1", "audit won"}},
		{"tombstone", []byte{}, true, lease.Tombstone, []string{"audit pending", "create " + key, "update " + key + "@1", "audit won"}},
		{"corrupt", []byte("junk"), true, lease.Corrupt, []string{"audit pending", "create " + key, "update " + key + "@1", "audit won"}},
		{"held", liveA, false, lease.Held, []string{"audit pending", "create " + key, "audit lost"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOpFixture(t)
			var rev uint64
			if tt.plant != nil {
				rev = f.plant(t, tt.plant)
			}
			out, err := f.op.Acquire(t.Context(), key, 10*time.Minute)
			if got := f.calls(); !reflect.DeepEqual(got, tt.calls) {
				t.Errorf("calls = %q, want %q", got, tt.calls)
			}
			if out.Action != lease.ActionAcquire || out.Before.Status.State != tt.before || out.Before.Revision() != rev {
				t.Errorf("Outcome = %+v, want action acquire, before %v at %d", out, tt.before, rev)
			}
			recs := f.auditor.all()
			if len(recs) != 2 {
				t.Fatalf("audit records = %+v, want intent and result", recs)
			}
			intent, result := recs[0], recs[1]
			if intent.Operator != "alice" || intent.Host != "bastion-1" || intent.Store != "prod" || intent.Key != key ||
				intent.Action != lease.ActionAcquire || !bytes.Equal(intent.ValueAfter, aliceAt100) || !intent.Time.Equal(time.Unix(t0+100, 0)) {
				t.Errorf("intent record = %+v", intent)
			}
			if result.RevisionBefore != rev || !bytes.Equal(result.ValueBefore, tt.plant) {
				t.Errorf("result record before = %d %q, want %d %q", result.RevisionBefore, result.ValueBefore, rev, tt.plant)
			}
			e, _ := f.m.Get(t.Context(), key)
			if !tt.won {
				if !errors.Is(err, lease.ErrHeld) {
					t.Fatalf("Acquire on a held lease = %v, want ErrHeld", err)
				}
				if out.Written != nil || out.Revision != 0 || out.After.Status.State != lease.Held || !bytes.Equal(e.Value, tt.plant) {
					t.Errorf("lost Acquire: outcome %+v, store %q; want nothing written", out, e.Value)
				}
				if result.Outcome != lease.OutcomeLost || result.ValueAfter != nil || result.RevisionAfter != 0 || result.Error == "" {
					t.Errorf("result record = %+v, want lost with nothing written", result)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire = %v, want a win", err)
			}
			if !bytes.Equal(e.Value, aliceAt100) || out.Revision != e.Revision || !bytes.Equal(out.Written, aliceAt100) {
				t.Errorf("Acquire wrote %q at %d (outcome %q at %d), want %q", e.Value, e.Revision, out.Written, out.Revision, aliceAt100)
			}
			if out.After.Status.State != lease.Held || out.After.Status.Record.HolderID != "operator:alice" || out.After.Revision() != e.Revision {
				t.Errorf("Outcome.After = %+v", out.After)
			}
			if result.Outcome != lease.OutcomeWon || !bytes.Equal(result.ValueAfter, aliceAt100) || result.RevisionAfter != e.Revision || result.Error != "" {
				t.Errorf("result record = %+v", result)
			}
		})
	}
}

func TestOperatorAcquireRejectsShortTTL(t *testing.T) {
	f := newOpFixture(t)
	if _, err := f.op.Acquire(t.Context(), key, 500*time.Millisecond); !errors.Is(err, lease.ErrInvalidTTL) {
		t.Errorf("Acquire(ttl 500ms) = %v, want ErrInvalidTTL", err)
	}
	if _, err := f.op.Takeover(t.Context(), key, 0, "incident", 0); !errors.Is(err, lease.ErrInvalidTTL) {
		t.Errorf("Takeover(ttl 0) = %v, want ErrInvalidTTL", err)
	}
	if got := f.calls(); len(got) != 0 {
		t.Errorf("calls = %q, want none", got)
	}
}

func TestTakeoverLiveLease(t *testing.T) {
	f := newOpFixture(t)
	rev := f.plant(t, liveA)
	obs, err := f.op.Inspect(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.op.Takeover(t.Context(), key, 10*time.Minute, "INC-42: exports stuck", obs.Revision())
	if err != nil {
		t.Fatalf("Takeover of a live lease = %v", err)
	}
	want := []string{"get " + key, "audit pending", "get " + key, "update " + key + "@1", "audit won"}
	if got := f.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q (intent before the store is touched)", got, want)
	}
	e := mustGet(t, f.m, key)
	if !bytes.Equal(e.Value, aliceAt100) || e.Revision != out.Revision || !bytes.Equal(out.Written, aliceAt100) {
		t.Errorf("store %q at %d, outcome %q at %d; want %q", e.Value, e.Revision, out.Written, out.Revision, aliceAt100)
	}
	if out.Before.Status.State != lease.Held || out.Before.Status.Record.HolderID != "node-a" || out.After.Status.Record.HolderID != "operator:alice" {
		t.Errorf("Outcome before/after = %+v / %+v", out.Before.Status, out.After.Status)
	}
	recs := f.auditor.all()
	if len(recs) != 2 {
		t.Fatalf("audit records = %+v", recs)
	}
	for i, r := range recs {
		if r.Action != lease.ActionTakeover || r.Reason != "INC-42: exports stuck" || r.RevisionBefore != rev {
			t.Errorf("audit record %d = %+v", i, r)
		}
	}
	// The intent comes before the read: it names the revision the operator
	// saw; the result, the value the action judged.
	if recs[0].Outcome != lease.OutcomePending || recs[0].RevisionAfter != 0 || !bytes.Equal(recs[0].ValueAfter, aliceAt100) || recs[0].ValueBefore != nil {
		t.Errorf("intent = %+v", recs[0])
	}
	if !bytes.Equal(recs[1].ValueBefore, liveA) {
		t.Errorf("result value before = %q, want %q", recs[1].ValueBefore, liveA)
	}
	if recs[1].Outcome != lease.OutcomeWon || recs[1].RevisionAfter != e.Revision || !bytes.Equal(recs[1].ValueAfter, aliceAt100) {
		t.Errorf("result = %+v", recs[1])
	}
}

func TestTakeoverOfAbsentKeyCreates(t *testing.T) {
	f := newOpFixture(t)
	out, err := f.op.Takeover(t.Context(), key, 10*time.Minute, "pause exports", 0)
	if err != nil {
		t.Fatalf("Takeover(seen 0) of an absent key = %v", err)
	}
	want := []string{"audit pending", "get " + key, "create " + key, "audit won"}
	if got := f.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if e := mustGet(t, f.m, key); !bytes.Equal(e.Value, aliceAt100) || out.Before.Found {
		t.Errorf("store %q, before %+v; want %q over an absent key", e.Value, out.Before, aliceAt100)
	}
}

// TestStaleSeen covers takeover and release with a revision the key has
// moved on from, noticed before anything is written.
func TestStaleSeen(t *testing.T) {
	tests := []struct {
		name   string
		plant  []byte
		seen   uint64
		act    func(op *lease.Operator, ctx context.Context, seen uint64) (lease.Result, error)
		action lease.Action
	}{
		{"takeover of a key that moved on", liveA, 99, takeover, lease.ActionTakeover},
		{"takeover of a key seen absent", liveA, 0, takeover, lease.ActionTakeover},
		{"takeover of a key that vanished", nil, 5, takeover, lease.ActionTakeover},
		{"release of a key that moved on", liveA, 99, release, lease.ActionRelease},
		{"release of a key that vanished", nil, 5, release, lease.ActionRelease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOpFixture(t)
			if tt.plant != nil {
				f.plant(t, tt.plant)
			}
			out, err := tt.act(f.op, t.Context(), tt.seen)
			ce, ok := errors.AsType[*lease.ChangedError](err)
			if !ok || !errors.Is(err, lease.ErrChanged) {
				t.Fatalf("%s with seen %d = %v, want a *ChangedError", tt.action, tt.seen, err)
			}
			if ce.Seen != tt.seen || ce.Current.Found != (tt.plant != nil) || !bytes.Equal(ce.Current.Entry.Value, tt.plant) {
				t.Errorf("ChangedError = %+v, want seen %d and the current state %q", ce, tt.seen, tt.plant)
			}
			if !containsAll(err.Error(), "changed since you looked") {
				t.Errorf("error %q does not say the key changed since you looked", err)
			}
			if out.Action != tt.action || out.Outcome != lease.OutcomeChanged || out.Written != nil || out.Revision != 0 {
				t.Errorf("Result = %+v, want changed, nothing written", out)
			}
			// The attempt is audited whichever check caught the change.
			want := []string{"audit pending", "get " + key, "audit changed"}
			if got := f.calls(); !reflect.DeepEqual(got, want) {
				t.Errorf("calls = %q, want %q", got, want)
			}
			recs := f.auditor.all()
			if len(recs) != 2 || recs[0].RevisionBefore != tt.seen || recs[1].Outcome != lease.OutcomeChanged || recs[1].Error == "" || recs[1].ValueAfter != nil {
				t.Errorf("audit records = %+v, want the intent at the seen revision, then changed", recs)
			}
		})
	}
}

func takeover(op *lease.Operator, ctx context.Context, seen uint64) (lease.Result, error) {
	return op.Takeover(ctx, key, 10*time.Minute, "incident", seen)
}

func release(op *lease.Operator, ctx context.Context, seen uint64) (lease.Result, error) {
	return op.Release(ctx, key, "incident", seen)
}

// TestChangedDuringWrite makes the fleet write the key between the
// operator's read and its compare-and-swap: the CAS must fail, the result be
// audited as changed, and the error carry the fleet's record.
func TestChangedDuringWrite(t *testing.T) {
	for _, act := range []struct {
		name string
		fn   func(op *lease.Operator, ctx context.Context, seen uint64) (lease.Result, error)
	}{{"takeover", takeover}, {"release", release}} {
		t.Run(act.name, func(t *testing.T) {
			f := newOpFixture(t)
			rev := f.plant(t, expiredA)
			fleet := lease.Record{HolderID: "node-b", AcquiredAtUnix: t0 + 100, ExpiresAtUnix: t0 + 400}.Encode()
			var once sync.Once
			f.cs.set(func(s *callStore) {
				s.beforeUpdate = func(ctx context.Context, key string) {
					once.Do(func() {
						if _, err := f.m.Update(ctx, key, fleet, rev); err != nil {
							t.Errorf("fleet write: %v", err)
						}
					})
				}
			})
			out, err := act.fn(f.op, t.Context(), rev)
			ce, ok := errors.AsType[*lease.ChangedError](err)
			if !ok {
				t.Fatalf("%s racing the fleet = %v, want a *ChangedError", act.name, err)
			}
			if !bytes.Equal(ce.Current.Entry.Value, fleet) || ce.Current.Status.State != lease.Held || ce.Current.Status.Record.HolderID != "node-b" {
				t.Errorf("ChangedError.Current = %+v, want node-b's record", ce.Current)
			}
			if !bytes.Equal(mustGet(t, f.m, key).Value, fleet) {
				t.Errorf("store = %q, want the fleet's record untouched", mustGet(t, f.m, key).Value)
			}
			if out.Written != nil || !bytes.Equal(out.After.Entry.Value, fleet) {
				t.Errorf("Outcome = %+v, want nothing written and After = the fleet's record", out)
			}
			recs := f.auditor.all()
			if len(recs) != 2 || recs[0].Outcome != lease.OutcomePending || recs[1].Outcome != lease.OutcomeChanged || recs[1].ValueAfter != nil || recs[1].Error == "" {
				t.Errorf("audit records = %+v, want pending then changed", recs)
			}
		})
	}
}

func TestReleaseWritesATombstone(t *testing.T) {
	f := newOpFixture(t)
	rev := f.plant(t, liveA)
	out, err := f.op.Release(t.Context(), key, "stuck export", rev)
	if err != nil {
		t.Fatalf("Release = %v", err)
	}
	e := mustGet(t, f.m, key)
	if e.Value == nil || len(e.Value) != 0 || e.Revision != out.Revision || out.Written == nil || len(out.Written) != 0 {
		t.Errorf("after Release the store holds %q at %d, outcome wrote %q at %d; want zero bytes", e.Value, e.Revision, out.Written, out.Revision)
	}
	if out.Before.Status.State != lease.Held || out.After.Status.State != lease.Tombstone {
		t.Errorf("Outcome before/after = %v/%v, want held/tombstone", out.Before.Status.State, out.After.Status.State)
	}
	want := []string{"audit pending", "get " + key, "update " + key + "@1", "audit won"}
	if got := f.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	recs := f.auditor.all()
	if len(recs) != 2 || recs[1].Action != lease.ActionRelease || recs[1].ValueAfter == nil || len(recs[1].ValueAfter) != 0 || !bytes.Equal(recs[1].ValueBefore, liveA) {
		t.Errorf("audit records = %+v", recs)
	}
	// The fleet's next trigger wins at once.
	if _, err := newLease(t, f.m, key, "node-b", lease.WithClock(f.clk.Now)).TryAcquire(t.Context(), ttl); err != nil {
		t.Errorf("TryAcquire after Release = %v, want a win", err)
	}
}

func TestReleaseOfAbsentKey(t *testing.T) {
	f := newOpFixture(t)
	if _, err := f.op.Release(t.Context(), key, "why not", 0); !errors.Is(err, lease.ErrNothingToRelease) {
		t.Errorf("Release(seen 0) = %v, want ErrNothingToRelease", err)
	}
	if got := f.calls(); len(got) != 0 {
		t.Errorf("calls = %q, want none", got)
	}
}

func TestReasonRequired(t *testing.T) {
	for _, reason := range []string{"", "  \t\n"} {
		f := newOpFixture(t)
		rev := f.plant(t, liveA)
		if _, err := f.op.Takeover(t.Context(), key, time.Minute, reason, rev); !errors.Is(err, lease.ErrReasonRequired) {
			t.Errorf("Takeover(reason %q) = %v, want ErrReasonRequired", reason, err)
		}
		if _, err := f.op.Release(t.Context(), key, reason, rev); !errors.Is(err, lease.ErrReasonRequired) {
			t.Errorf("Release(reason %q) = %v, want ErrReasonRequired", reason, err)
		}
		if got := f.calls(); len(got) != 0 {
			t.Errorf("calls = %q, want none without a reason", got)
		}
	}
}

// TestFailingAuditorRefuses checks fail-closed auditing: when the intent
// record cannot be written, nothing reaches the store.
func TestFailingAuditorRefuses(t *testing.T) {
	actions := map[string]func(op *lease.Operator, ctx context.Context, seen uint64) (lease.Result, error){
		"acquire": func(op *lease.Operator, ctx context.Context, _ uint64) (lease.Result, error) {
			return op.Acquire(ctx, key, time.Minute)
		},
		"takeover": takeover,
		"release":  release,
	}
	for name, act := range actions {
		t.Run(name, func(t *testing.T) {
			f := newOpFixture(t)
			f.auditor.fail = lease.OutcomePending
			rev := f.plant(t, expiredA)
			_, err := act(f.op, t.Context(), rev)
			ae, ok := errors.AsType[*lease.AuditError](err)
			if !ok || !errors.Is(err, lease.ErrAuditFailed) || ae.Ran {
				t.Fatalf("%s with a failing auditor = %v, want an AuditError before the write", name, err)
			}
			if !containsAll(err.Error(), "nothing was written", "disk full") {
				t.Errorf("error %q does not say nothing was written and why", err)
			}
			for _, c := range f.calls() {
				if c != "get "+key && c != "audit pending failed" {
					t.Errorf("calls = %q: a write reached the store", f.calls())
				}
			}
			if e := mustGet(t, f.m, key); e.Revision != rev || !bytes.Equal(e.Value, expiredA) {
				t.Errorf("store = %q at %d, want unchanged", e.Value, e.Revision)
			}
		})
	}
}

// TestResultAuditFailure checks that when only the result record fails, the
// outcome is returned with an error that says the write happened.
func TestResultAuditFailure(t *testing.T) {
	f := newOpFixture(t)
	f.auditor.fail = lease.OutcomeWon
	rev := f.plant(t, liveA)
	out, err := f.op.Takeover(t.Context(), key, 10*time.Minute, "incident", rev)
	ae, ok := errors.AsType[*lease.AuditError](err)
	if !ok || !errors.Is(err, lease.ErrAuditFailed) || !ae.Ran || ae.Outcome != lease.OutcomeWon {
		t.Fatalf("Takeover with a failing result audit = %v, want an AuditError after the write", err)
	}
	if !containsAll(err.Error(), "after the store action ran", "won") {
		t.Errorf("error %q does not say the write happened", err)
	}
	e := mustGet(t, f.m, key)
	if !bytes.Equal(e.Value, aliceAt100) || out.Revision != e.Revision || !bytes.Equal(out.Written, aliceAt100) {
		t.Errorf("store %q at %d, outcome %+v; want the takeover written and reported", e.Value, e.Revision, out)
	}
}

// TestResultAuditFailureKeepsActionError checks both errors survive when a
// lost acquire's result cannot be audited.
func TestResultAuditFailureKeepsActionError(t *testing.T) {
	f := newOpFixture(t)
	f.auditor.fail = lease.OutcomeLost
	f.plant(t, liveA)
	_, err := f.op.Acquire(t.Context(), key, time.Minute)
	if !errors.Is(err, lease.ErrHeld) || !errors.Is(err, lease.ErrAuditFailed) {
		t.Errorf("Acquire = %v, want ErrHeld and ErrAuditFailed", err)
	}
}

func TestNoAuditorRefusesWrites(t *testing.T) {
	log := &events{}
	cs, m := newCallStore(log)
	op, err := lease.NewOperator(cs, "prod", "alice")
	if err != nil {
		t.Fatal(err)
	}
	rev := mustCreate(t, m, key, expiredA)
	if _, err := op.Inspect(t.Context(), key); err != nil {
		t.Errorf("Inspect without an auditor = %v, want it to work", err)
	}
	if _, err := op.Acquire(t.Context(), key, time.Minute); !errors.Is(err, lease.ErrAuditFailed) {
		t.Errorf("Acquire without an auditor = %v, want ErrAuditFailed", err)
	}
	if _, err := op.Takeover(t.Context(), key, time.Minute, "x", rev); !errors.Is(err, lease.ErrAuditFailed) {
		t.Errorf("Takeover without an auditor = %v, want ErrAuditFailed", err)
	}
	if _, err := op.Release(t.Context(), key, "x", rev); !errors.Is(err, lease.ErrAuditFailed) {
		t.Errorf("Release without an auditor = %v, want ErrAuditFailed", err)
	}
	if got := log.all(); !reflect.DeepEqual(got, []string{"get " + key}) {
		t.Errorf("calls = %q, want only Inspect's read", got)
	}
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	m := memory.New()
	rev := mustCreate(t, m, key, expiredA)
	a := &recordingAuditor{log: &events{}}
	op, err := lease.NewOperator(stores.ReadOnly(m), "prod", "alice", lease.WithAuditor(a))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Acquire(t.Context(), key, time.Minute); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("Acquire on a read-only store = %v, want ErrReadOnly", err)
	}
	if _, err := op.Takeover(t.Context(), key, time.Minute, "x", rev); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("Takeover on a read-only store = %v, want ErrReadOnly", err)
	}
	if len(a.all()) != 0 {
		t.Errorf("audit records %+v for refused writes, want none", a.all())
	}
}

func TestOperatorStoreErrorIsAudited(t *testing.T) {
	f := newOpFixture(t)
	rev := f.plant(t, liveA)
	boom := errors.New("boom")
	f.cs.set(func(s *callStore) { s.updateErr = boom })
	out, err := f.op.Takeover(t.Context(), key, time.Minute, "incident", rev)
	if !errors.Is(err, boom) || errors.Is(err, lease.ErrChanged) {
		t.Fatalf("Takeover with a failing store = %v, want %v", err, boom)
	}
	if out.Written != nil {
		t.Errorf("Outcome.Written = %q, want nil", out.Written)
	}
	recs := f.auditor.all()
	if len(recs) != 2 || recs[1].Outcome != lease.OutcomeError || !containsAll(recs[1].Error, "boom") {
		t.Errorf("audit records = %+v, want pending then error", recs)
	}
}

func TestOperatorThresholds(t *testing.T) {
	f := newOpFixture(t, lease.WithThresholds(lease.Thresholds{SkewTolerance: time.Second, MaxPeriod: time.Minute}))
	f.plant(t, liveA) // a 300 s period: over a 1 min cap
	obs, err := f.op.Inspect(t.Context(), key)
	if err != nil || !obs.Status.Flags.Has(lease.Skewed) {
		t.Errorf("Inspect with a 1 min cap = %+v, %v; want skewed", obs.Status, err)
	}
}

func TestOperatorAcquireStoreError(t *testing.T) {
	f := newOpFixture(t)
	boom := errors.New("boom")
	f.cs.set(func(s *callStore) { s.createErr = boom })
	out, err := f.op.Acquire(t.Context(), key, time.Minute)
	if !errors.Is(err, boom) || errors.Is(err, lease.ErrHeld) {
		t.Fatalf("Acquire with a failing store = %v, want %v", err, boom)
	}
	if out.Before.Status.State != 0 || out.Written != nil {
		t.Errorf("Outcome = %+v, want no observation and nothing written", out)
	}
	recs := f.auditor.all()
	if len(recs) != 2 || recs[1].Outcome != lease.OutcomeError || !containsAll(recs[1].Error, "boom") {
		t.Errorf("audit records = %+v, want pending then error", recs)
	}
}
