package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/stores"
)

// Errors of the operator API.
var (
	// ErrChanged means the key changed since the operator looked; every
	// *ChangedError matches it and carries the new state.
	ErrChanged = errors.New("lease: changed since you looked")
	// ErrReasonRequired means a takeover or release without a reason.
	ErrReasonRequired = errors.New("lease: a reason is required")
	// ErrNothingToRelease means a release of a key the operator saw absent
	// (revision 0).
	ErrNothingToRelease = errors.New("lease: nothing to release")
	// ErrAuditFailed means the audit trail could not be written; every
	// *AuditError matches it. Writes fail closed: without an intent record,
	// nothing is written to the store.
	ErrAuditFailed = errors.New("lease: audit failed")
)

// Operator actions, as written to Outcome.Action and AuditRecord.Action.
const (
	ActionAcquire  = "acquire"
	ActionTakeover = "takeover"
	ActionRelease  = "release"
)

// Audit outcomes, as written to AuditRecord.Outcome.
const (
	// OutcomePending marks the intent record written before the store write.
	OutcomePending = "pending"
	// OutcomeWon means the action wrote the store.
	OutcomeWon = "won"
	// OutcomeLost means an acquire lost the round: nothing was written.
	OutcomeLost = "lost"
	// OutcomeChanged means the key changed since the operator looked: nothing
	// was written.
	OutcomeChanged = "changed"
	// OutcomeError means the store write failed with an error.
	OutcomeError = "error"
)

// Auditor appends audit records to a durable trail. Audit returns only once
// the record is durable (fsync'd), or an error.
type Auditor interface {
	Audit(ctx context.Context, r AuditRecord) error
}

// AuditRecord is one line of the audit trail. Every operator write produces
// two: an intent record (Outcome OutcomePending) before the store is touched,
// and a result record after.
type AuditRecord struct {
	// Time is the operator's clock when the action began.
	Time time.Time
	// Operator is the operator's name (without the "operator:" prefix).
	Operator string
	// Host is the host the action ran on.
	Host string
	// Store is the configured name of the store.
	Store string
	// Key is the full lease key.
	Key string
	// Action is ActionAcquire, ActionTakeover or ActionRelease.
	Action string
	// Reason is the operator's reason ("" for acquire).
	Reason string
	// RevisionBefore and ValueBefore are the entry the action judged (0 and
	// nil when absent or not yet known).
	RevisionBefore uint64
	ValueBefore    []byte
	// ValueAfter is what the action writes (intent) or wrote (result): nil
	// when it wrote nothing, zero-length for a tombstone.
	ValueAfter []byte
	// RevisionAfter is the revision of the write, 0 when nothing was written.
	RevisionAfter uint64
	// Outcome is one of the Outcome* constants.
	Outcome string
	// Error is the failure, when Outcome is OutcomeError (or another outcome
	// came with an error).
	Error string
}

// AuditError reports that the audit trail could not be written. It matches
// ErrAuditFailed and unwraps to the auditor's error.
type AuditError struct {
	// Ran is false when the intent record failed and the action was refused
	// before touching the store; true when only the result record failed,
	// after the store action ran.
	Ran bool
	// Outcome is the store action's outcome (an Outcome* constant) when Ran
	// is set.
	Outcome string
	// Err is the auditor's error.
	Err error
}

// Error implements error.
func (e *AuditError) Error() string {
	if !e.Ran {
		return fmt.Sprintf("lease: audit failed, action refused, nothing was written: %v", e.Err)
	}
	return fmt.Sprintf("lease: audit failed after the store action ran (outcome %s), the audit trail lacks its result: %v", e.Outcome, e.Err)
}

// Unwrap returns the auditor's error.
func (e *AuditError) Unwrap() error { return e.Err }

// Is reports whether target is ErrAuditFailed.
func (e *AuditError) Is(target error) bool { return target == ErrAuditFailed }

// errNoAuditor is the cause of refusals by an Operator without an Auditor.
var errNoAuditor = errors.New("no auditor configured")

// Observation is what an operator was shown of one key: the raw entry and
// its classification at the operator's clock.
type Observation struct {
	// Store is the configured name of the store.
	Store string
	// Key is the full lease key.
	Key string
	// Found is false when the key was absent.
	Found bool
	// Entry is the raw entry, when Found.
	Entry stores.Entry
	// Status is the classification.
	Status Status
}

// Revision returns the observed revision, 0 when absent: the value to pass
// as seen to Takeover and Release.
func (o Observation) Revision() uint64 { return o.Entry.Revision }

// describe summarises the observation for an error message.
func (o Observation) describe() string {
	switch o.Status.State {
	case Absent:
		return "absent"
	case Held, Expired:
		return fmt.Sprintf("revision %d, %s by %q until %d", o.Entry.Revision, o.Status.State, o.Status.Record.HolderID, o.Status.Record.ExpiresAtUnix)
	}
	return fmt.Sprintf("revision %d, %s", o.Entry.Revision, o.Status.State)
}

// ChangedError reports that the key changed since the operator looked at
// revision Seen; Current is the state now. It matches ErrChanged.
type ChangedError struct {
	// Seen is the revision the operator was shown (0: absent).
	Seen uint64
	// Current is the key's state when the action found the change.
	Current Observation
}

// Error implements error.
func (e *ChangedError) Error() string {
	saw := "it absent"
	if e.Seen != 0 {
		saw = fmt.Sprintf("revision %d", e.Seen)
	}
	return fmt.Sprintf("lease: %q changed since you looked: you saw %s, it is now %s", e.Current.Key, saw, e.Current.describe())
}

// Is reports whether target is ErrChanged.
func (e *ChangedError) Is(target error) bool { return target == ErrChanged }

// Outcome is the result of an operator write action.
type Outcome struct {
	// Action is ActionAcquire, ActionTakeover or ActionRelease.
	Action string
	// Before is the state the action judged; After the state it left (the
	// same as Before when it wrote nothing). Both are zero when the store
	// failed before the key could be read.
	Before, After Observation
	// Written is what the action wrote: nil when nothing, zero-length for a
	// release.
	Written []byte
	// Revision is the revision of the write, 0 when nothing was written.
	Revision uint64
}

// Operator performs the operator actions of SPEC §4 on one store, on the same
// core as the fleet: inspect, acquire, force takeover, release. Every write
// is a compare-and-swap against what the operator was shown, and is audited
// fail-closed: an Operator without an Auditor, or whose Auditor fails the
// intent record, writes nothing. An Operator is safe for concurrent use.
type Operator struct {
	store     stores.Store
	storeName string
	name      string
	host      string
	now       func() time.Time
	th        Thresholds
	auditor   Auditor
}

// OperatorOption configures an Operator.
type OperatorOption func(*Operator) error

// WithOperatorClock makes the Operator read the wall clock from now instead
// of time.Now.
func WithOperatorClock(now func() time.Time) OperatorOption {
	return func(o *Operator) error {
		if now == nil {
			return errors.New("lease: WithOperatorClock: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithThresholds sets the thresholds of the skewed flag (default
// DefaultThresholds).
func WithThresholds(th Thresholds) OperatorOption {
	return func(o *Operator) error {
		if err := th.validate(); err != nil {
			return err
		}
		o.th = th
		return nil
	}
}

// WithAuditor sets the audit trail. Without one, every write is refused.
func WithAuditor(a Auditor) OperatorOption {
	return func(o *Operator) error {
		if a == nil {
			return errors.New("lease: WithAuditor: nil auditor")
		}
		o.auditor = a
		return nil
	}
}

// WithHost sets the host name written to the audit trail (default
// os.Hostname).
func WithHost(host string) OperatorOption {
	return func(o *Operator) error {
		if host == "" {
			return errors.New("lease: WithHost: empty host")
		}
		o.host = host
		return nil
	}
}

// NewOperator returns the Operator operatorName on s, a store configured
// under storeName. A read-only store is accepted: Inspect works, writes fail
// with an error matching stores.ErrReadOnly.
func NewOperator(s stores.Store, storeName, operatorName string, opts ...OperatorOption) (*Operator, error) {
	switch {
	case s == nil:
		return nil, errors.New("lease: nil store")
	case storeName == "":
		return nil, errors.New("lease: empty store name")
	case operatorName == "":
		return nil, errors.New("lease: empty operator name")
	}
	o := &Operator{store: s, storeName: storeName, name: operatorName, now: time.Now, th: DefaultThresholds}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown"
		}
		o.host = h
	}
	return o, nil
}

// HolderID returns the holder id the operator writes: "operator:<name>".
func (o *Operator) HolderID() string { return "operator:" + o.name }

// Inspect reads key and classifies it at the operator's clock. A store
// failure is returned wrapped; an absent key is an Observation, not an error.
func (o *Operator) Inspect(ctx context.Context, key string) (Observation, error) {
	return o.inspect(ctx, key, o.now())
}

func (o *Operator) inspect(ctx context.Context, key string, now time.Time) (Observation, error) {
	e, err := o.store.Get(ctx, key)
	switch {
	case errors.Is(err, stores.ErrNotFound):
		return o.observe(key, stores.Entry{}, false, now), nil
	case err != nil:
		return Observation{}, fmt.Errorf("lease: inspect %q: %w", key, err)
	}
	return o.observe(key, e, true, now), nil
}

func (o *Operator) observe(key string, e stores.Entry, found bool, now time.Time) Observation {
	if !found {
		e = stores.Entry{Key: key}
	}
	return Observation{Store: o.storeName, Key: key, Found: found, Entry: e, Status: ClassifyEntry(e, found, now, o.th)}
}

// AcquireOption changes how Operator.Acquire acquires.
type AcquireOption func(*acquireOptions) error

type acquireOptions struct{ holder string }

// AsHolder makes Acquire write holder instead of "operator:<name>", e.g. to
// hold a lease on behalf of a replica from a runbook. It must be non-empty,
// valid UTF-8.
func AsHolder(holder string) AcquireOption {
	return func(o *acquireOptions) error {
		if holder == "" || !utf8.ValidString(holder) {
			return fmt.Errorf("lease: holder id %q: must be non-empty, valid UTF-8", holder)
		}
		o.holder = holder
		return nil
	}
}

// FreshRecord returns the record Takeover would write now with a lease of
// ttl, for showing the operator before and after.
func (o *Operator) FreshRecord(ttl time.Duration) Record {
	return freshRecord(o.HolderID(), UnixSeconds(o.now()), ttl)
}

// Acquire runs the fleet's acquire algorithm as holder "operator:<name>" with
// a lease of ttl, e.g. to pause exports during an incident: it wins only when
// the key is absent, a tombstone, expired or corrupt. When it loses, it
// returns the Outcome with an error matching ErrHeld.
func (o *Operator) Acquire(ctx context.Context, key string, ttl time.Duration, opts ...AcquireOption) (Outcome, error) {
	out := Outcome{Action: ActionAcquire}
	ao := acquireOptions{holder: o.HolderID()}
	for _, opt := range opts {
		if err := opt(&ao); err != nil {
			return out, err
		}
	}
	if err := checkTTL(ttl); err != nil {
		return out, err
	}
	if err := o.checkWrite(key); err != nil {
		return out, err
	}
	now := o.now()
	n := UnixSeconds(now)
	value := freshRecord(ao.holder, n, ttl).Encode()
	ar := o.auditRecord(now, key, ActionAcquire, "")
	ar.ValueAfter = value
	if err := o.intent(ctx, ar); err != nil {
		return out, err
	}
	a, err := acquire(ctx, o.store, key, value, n)
	ar.RevisionBefore, ar.ValueBefore = a.seen.Revision, a.seen.Value
	if err == nil || a.found {
		out.Before = o.observe(key, a.seen, a.found, now)
		out.After = out.Before
	}
	switch {
	case err != nil:
		ar.ValueAfter = nil
		return out, o.result(ctx, ar, OutcomeError, err)
	case !a.won:
		ar.ValueAfter = nil
		return out, o.result(ctx, ar, OutcomeLost, a.lost(key))
	}
	out.Written, out.Revision = value, a.rev
	out.After = o.observe(key, stores.Entry{Key: key, Value: value, Revision: a.rev}, true, now)
	ar.RevisionAfter = a.rev
	return out, o.result(ctx, ar, OutcomeWon, nil)
}

// Takeover writes a fresh operator record with a lease of ttl over whatever
// key holds — even a live lease — provided the key is still at revision seen,
// the revision the operator was shown (0: the operator saw it absent, and the
// write is a create). When the key has changed since, nothing is written and
// the error is a *ChangedError (matching ErrChanged) with the new state.
func (o *Operator) Takeover(ctx context.Context, key string, ttl time.Duration, reason string, seen uint64) (Outcome, error) {
	if err := checkTTL(ttl); err != nil {
		return Outcome{Action: ActionTakeover}, err
	}
	return o.overwrite(ctx, ActionTakeover, key, ttl, reason, seen)
}

// Release writes a tombstone (a zero-length value) so that the fleet's next
// trigger wins at once, provided the key is still at revision seen. A seen of
// 0 (the operator saw the key absent) fails with ErrNothingToRelease. When the
// key has changed since, nothing is written and the error is a *ChangedError
// (matching ErrChanged) with the new state.
func (o *Operator) Release(ctx context.Context, key, reason string, seen uint64) (Outcome, error) {
	if seen == 0 {
		return Outcome{Action: ActionRelease}, fmt.Errorf("lease: release %q: %w (it was absent when you looked)", key, ErrNothingToRelease)
	}
	return o.overwrite(ctx, ActionRelease, key, 0, reason, seen)
}

// overwrite is Takeover and Release: a compare-and-swap against seen.
func (o *Operator) overwrite(ctx context.Context, action, key string, ttl time.Duration, reason string, seen uint64) (Outcome, error) {
	out := Outcome{Action: action}
	if strings.TrimSpace(reason) == "" {
		return out, fmt.Errorf("lease: %s %q: %w", action, key, ErrReasonRequired)
	}
	if err := o.checkWrite(key); err != nil {
		return out, err
	}
	now := o.now()
	// Read first: the audit trail records the value being replaced, and a
	// change is reported before anything is written.
	before, err := o.inspect(ctx, key, now)
	if err != nil {
		return out, err
	}
	out.Before, out.After = before, before
	if before.Revision() != seen {
		return out, &ChangedError{Seen: seen, Current: before}
	}
	value := []byte{}
	if action == ActionTakeover {
		value = freshRecord(o.HolderID(), UnixSeconds(now), ttl).Encode()
	}
	ar := o.auditRecord(now, key, action, reason)
	ar.RevisionBefore, ar.ValueBefore, ar.ValueAfter = seen, before.Entry.Value, value
	if err := o.intent(ctx, ar); err != nil {
		return out, err
	}
	var rev uint64
	if seen == 0 {
		rev, err = o.store.Create(ctx, key, value)
	} else {
		rev, err = o.store.Update(ctx, key, value, seen)
	}
	switch {
	case err == nil:
	case isChanged(err):
		ar.ValueAfter = nil
		cur, rerr := o.inspect(context.WithoutCancel(ctx), key, o.now())
		if rerr != nil {
			return out, o.result(ctx, ar, OutcomeChanged, fmt.Errorf("lease: %s %q: %w (re-reading it failed: %w)", action, key, ErrChanged, rerr))
		}
		out.After = cur
		return out, o.result(ctx, ar, OutcomeChanged, &ChangedError{Seen: seen, Current: cur})
	default:
		ar.ValueAfter = nil
		return out, o.result(ctx, ar, OutcomeError, fmt.Errorf("lease: %s %q at revision %d: %w", action, key, seen, err))
	}
	out.Written, out.Revision = value, rev
	out.After = o.observe(key, stores.Entry{Key: key, Value: value, Revision: rev}, true, now)
	ar.RevisionAfter = rev
	return out, o.result(ctx, ar, OutcomeWon, nil)
}

// checkWrite refuses a write action before anything is audited or written.
func (o *Operator) checkWrite(key string) error {
	switch {
	case key == "":
		return errors.New("lease: empty key")
	case stores.IsReadOnly(o.store):
		return fmt.Errorf("lease: store %q: %w", o.storeName, stores.ErrReadOnly)
	case o.auditor == nil:
		return &AuditError{Err: errNoAuditor}
	}
	if err := stores.CheckKey(o.store, key); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	return nil
}

func (o *Operator) auditRecord(now time.Time, key, action, reason string) AuditRecord {
	return AuditRecord{
		Time:     now,
		Operator: o.name,
		Host:     o.host,
		Store:    o.storeName,
		Key:      key,
		Action:   action,
		Reason:   reason,
	}
}

// intent writes the intent record; a failure refuses the action.
func (o *Operator) intent(ctx context.Context, ar AuditRecord) error {
	ar.Outcome = OutcomePending
	if err := o.auditor.Audit(ctx, ar); err != nil {
		return &AuditError{Err: err}
	}
	return nil
}

// result writes the result record of an action that ended with outcome and
// actionErr, and returns actionErr joined with the audit failure, if any. It
// does not heed ctx's cancellation: the store action has run and the trail
// must say so.
func (o *Operator) result(ctx context.Context, ar AuditRecord, outcome string, actionErr error) error {
	ar.Outcome = outcome
	if actionErr != nil {
		ar.Error = actionErr.Error()
	}
	if err := o.auditor.Audit(context.WithoutCancel(ctx), ar); err != nil {
		return errors.Join(actionErr, &AuditError{Ran: true, Outcome: outcome, Err: err})
	}
	return actionErr
}
