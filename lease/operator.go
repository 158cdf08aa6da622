package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/leasectl/leasectl/stores"
)

// ErrInvalidRequest matches every *RequestError: an operator request that
// broke a rule and was refused before anything was audited or written.
var ErrInvalidRequest = errors.New("lease: invalid request")

// RequestError reports an operator request refused by the rules (a ttl out
// of range, a missing reason, an invalid key, a key outside the store's
// prefix, a read-only store…) before anything was audited or written. It
// matches ErrInvalidRequest and unwraps to the rule's own error.
type RequestError struct{ Err error }

// Error implements error.
func (e *RequestError) Error() string { return e.Err.Error() }

// Unwrap returns the rule's error.
func (e *RequestError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidRequest.
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

// Request is one operator action, fully specified by what the operator saw
// and typed.
type Request struct {
	// Action is what to do.
	Action Action
	// Key is the full lease key.
	Key string
	// TTL is the lease an acquire or takeover writes.
	TTL time.Duration
	// Reason goes to the audit trail: required for takeover, release and
	// revert, optional for acquire.
	Reason string
	// Seen is the revision the operator was shown (0: the key was absent).
	// Every action is a compare-and-swap against it: if the key has
	// changed since, nothing is written and the error is a *ChangedError.
	// For a revert it is the revision the reverted action wrote, never 0.
	Seen uint64
	// Value is, for ActionRevert only, the exact bytes to write back (the
	// value the reverted action replaced; zero-length for a tombstone,
	// never nil). Every other action builds its own value.
	Value []byte
	// Reverts is, for ActionRevert only, the audit ID of the action it
	// reverts: it goes to the audit trail.
	Reverts string
	// AnyRevision makes an acquire run the fleet's own algorithm on
	// whatever the key holds, as a replica would, instead of against Seen.
	// Only for ActionAcquire (runbooks that did not look first).
	AnyRevision bool
	// Holder replaces OperatorHolder(name) as the holder an acquire
	// writes, e.g. to hold a lease on behalf of a replica. Only for
	// ActionAcquire.
	Holder string
}

// Result is what an operator action did.
type Result struct {
	// Action is the action's kind.
	Action Action
	// Outcome is how it ended; zero when it was refused before it was
	// audited.
	Outcome Outcome
	// Before is the state the action judged; After the state it left (the
	// same as Before when it wrote nothing). Both are zero when the key
	// could not be read.
	Before, After Observation
	// Written is what the action wrote: nil when nothing, zero-length for
	// a release.
	Written []byte
	// Revision is the revision of the write, 0 when nothing was written.
	Revision uint64
}

// Operator performs the operator actions on one store, on the same core as
// the fleet: inspect, acquire, force takeover, release, and the revert of
// an earlier won action (see audit.RevertRequest). Every write is a
// compare-and-swap against what the operator was shown, and every attempt
// that passes the rules is audited fail-closed: an intent record before the
// store is touched (an Operator without an Auditor, or whose Auditor fails
// it, does nothing) and a result record with the true outcome — checked by
// reading the key back when the store's answer was lost. An Operator is safe
// for concurrent use.
type Operator struct {
	store       stores.Store
	storeName   string
	name        string
	host        string
	scope       string
	now         func() time.Time
	th          Thresholds
	auditor     Auditor
	callTimeout time.Duration
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
// DefaultThresholds()); their MaxPeriod is also the longest ttl accepted.
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

// WithScope confines writes to the keys under prefix, the prefix the store
// is configured with (see CheckScope). The default, "", allows every key.
func WithScope(prefix string) OperatorOption {
	return func(o *Operator) error {
		o.scope = prefix
		return nil
	}
}

// WithCallTimeout bounds each store call an action makes (a read, a write,
// the read-back of a write whose answer was lost) to d, so that a hung
// store fails the call instead of hanging; 0, the default, leaves the
// bounds to the caller's context. Time spent by a person (a prompt, a
// dialog) is never counted: only store calls are.
func WithCallTimeout(d time.Duration) OperatorOption {
	return func(o *Operator) error {
		if d < 0 {
			return fmt.Errorf("lease: WithCallTimeout: negative timeout %v", d)
		}
		o.callTimeout = d
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
	o := &Operator{store: s, storeName: storeName, name: operatorName, now: time.Now, th: DefaultThresholds()}
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

// HolderID returns the holder id the operator writes: OperatorHolder(name).
func (o *Operator) HolderID() string { return OperatorHolder(o.name) }

// Thresholds returns the thresholds the operator classifies with.
func (o *Operator) Thresholds() Thresholds { return o.th }

// Inspect reads key and classifies it at the operator's clock. A store
// failure is returned wrapped; an absent key is an Observation, not an error.
func (o *Operator) Inspect(ctx context.Context, key string) (Observation, error) {
	ctx, cancel := o.callContext(ctx)
	defer cancel()
	return o.inspect(ctx, key, o.now())
}

func (o *Operator) inspect(ctx context.Context, key string, now time.Time) (Observation, error) {
	e, err := o.store.Get(ctx, key)
	switch {
	case errors.Is(err, stores.ErrNotFound):
		return Observe(o.storeName, stores.Entry{Key: key}, false, now, o.th), nil
	case err != nil:
		return Observation{}, fmt.Errorf("lease: inspect %q: %w", key, err)
	}
	e.Key = key
	return Observe(o.storeName, e, true, now, o.th), nil
}

// FreshRecord returns the record an acquire or takeover would write now
// with a lease of ttl, for showing the operator before and after.
func (o *Operator) FreshRecord(ttl time.Duration) Record {
	return NewRecord(o.HolderID(), o.now(), ttl)
}

// AcquireOption changes how Operator.Acquire acquires.
type AcquireOption func(*Request) error

// AsHolder makes Acquire write holder instead of OperatorHolder(name), e.g.
// to hold a lease on behalf of a replica from a runbook (see CheckHolder).
func AsHolder(holder string) AcquireOption {
	return func(r *Request) error {
		if err := CheckHolder(holder); err != nil {
			return &RequestError{Err: err}
		}
		r.Holder = holder
		return nil
	}
}

// AtRevision makes Acquire a compare-and-swap against seen, the revision
// the operator was shown (0: absent, and the write is a create), instead of
// the fleet's algorithm on whatever the key holds.
func AtRevision(seen uint64) AcquireOption {
	return func(r *Request) error {
		r.Seen, r.AnyRevision = seen, false
		return nil
	}
}

// WithReason records reason for an acquire in the audit trail.
func WithReason(reason string) AcquireOption {
	return func(r *Request) error {
		r.Reason = reason
		return nil
	}
}

// Acquire acquires key for the operator with a lease of ttl, e.g. to pause
// exports during an incident: it wins only when the key is absent, a
// tombstone, expired or corrupt. By default it runs the fleet's own
// algorithm on whatever the key holds; with AtRevision it is a
// compare-and-swap against what the operator saw. When it loses, the error
// matches ErrHeld; see Do for the rest.
func (o *Operator) Acquire(ctx context.Context, key string, ttl time.Duration, opts ...AcquireOption) (Result, error) {
	req := Request{Action: ActionAcquire, Key: key, TTL: ttl, AnyRevision: true}
	for _, opt := range opts {
		if err := opt(&req); err != nil {
			return Result{Action: ActionAcquire}, err
		}
	}
	return o.Do(ctx, req)
}

// Takeover writes a fresh operator record with a lease of ttl over whatever
// key holds — even a live lease — provided the key is still at revision seen
// (0: the operator saw it absent, and the write is a create). See Do.
func (o *Operator) Takeover(ctx context.Context, key string, ttl time.Duration, reason string, seen uint64) (Result, error) {
	return o.Do(ctx, Request{Action: ActionTakeover, Key: key, TTL: ttl, Reason: reason, Seen: seen})
}

// Release writes a tombstone (a zero-length value) so that the fleet's next
// trigger wins at once, provided the key is still at revision seen. See Do.
func (o *Operator) Release(ctx context.Context, key, reason string, seen uint64) (Result, error) {
	return o.Do(ctx, Request{Action: ActionRelease, Key: key, Reason: reason, Seen: seen})
}

// Check applies the rules to req without any I/O: the error is a
// *RequestError (matching ErrInvalidRequest) for a broken rule, and an
// *AuditError when the Operator has no audit trail. Do checks first too;
// callers check before asking a person to confirm.
func (o *Operator) Check(req Request) error {
	refuse := func(err error) error { return &RequestError{Err: err} }
	switch req.Action {
	case ActionAcquire, ActionTakeover, ActionRelease, ActionRevert:
	default:
		return refuse(fmt.Errorf("lease: unknown action %v", req.Action))
	}
	if err := stores.CheckKey(o.store, req.Key); err != nil {
		return refuse(err)
	}
	if err := CheckScope(req.Key, o.scope); err != nil {
		return refuse(err)
	}
	if stores.IsReadOnly(o.store) {
		return refuse(fmt.Errorf("%w: store %q", stores.ErrReadOnly, o.storeName))
	}
	if req.Action != ActionRelease && req.Action != ActionRevert {
		maxTTL := o.th.MaxPeriod
		if maxTTL <= 0 {
			maxTTL = MaxTTL
		}
		if err := checkTTLRange(req.TTL, maxTTL); err != nil {
			return refuse(err)
		}
	}
	if err := CheckReason(req.Action, req.Reason); err != nil {
		return refuse(err)
	}
	if req.Action != ActionAcquire && (req.AnyRevision || req.Holder != "") {
		return refuse(fmt.Errorf("lease: a holder or any-revision is for acquire only, not for a %s", req.Action))
	}
	if req.Holder != "" {
		if err := CheckHolder(req.Holder); err != nil {
			return refuse(err)
		}
	}
	if req.Action == ActionRelease && req.Seen == 0 {
		return refuse(fmt.Errorf("%w: %q was absent when you looked", ErrNothingToRelease, req.Key))
	}
	if err := CheckRevert(req); err != nil {
		return refuse(err)
	}
	if o.auditor == nil {
		return &AuditError{Err: errNoAuditor}
	}
	return nil
}

// Do performs req. The outcome is in the Result and the error:
//   - refused by the rules (Check): a *RequestError or *AuditError, nothing
//     audited or written, Outcome zero;
//   - the intent record could not be written: an *AuditError, nothing read
//     or written;
//   - OutcomeWon: nil error (the write landed, confirmed by the store or by
//     reading the key back after its answer was lost);
//   - OutcomeChanged: a *ChangedError with the key's state now;
//   - OutcomeLost (acquire over a live lease): an error matching ErrHeld;
//   - OutcomeCancelled: ctx ended before the write was sent;
//   - OutcomeError: the store failed and the write did not land;
//   - OutcomeUnknown: the write was sent and its fate is unknown.
//
// When the result record cannot be written, the error joins the action's
// error with an *AuditError whose Ran is set. Cancelling ctx abandons the
// action at once, even a write in flight (whose fate is then checked by
// reading the key back, within the call timeout).
//
// Every action that passes the rules gets a fresh audit ID (NewAuditID),
// written on both its records. A revert writes req.Value as it is, by
// compare-and-swap against req.Seen.
func (o *Operator) Do(ctx context.Context, req Request) (Result, error) {
	res := Result{Action: req.Action}
	if err := o.Check(req); err != nil {
		return res, err
	}
	now := o.now()
	holder := o.HolderID()
	if req.Holder != "" {
		holder = req.Holder
	}
	var value []byte
	switch req.Action {
	case ActionRelease:
		value = []byte{}
	case ActionRevert:
		// Written as it was, not a fresh record: a copy, so that the
		// caller's slice cannot change what is written after the audit.
		value = append([]byte{}, req.Value...)
	default:
		value = NewRecord(holder, now, req.TTL).Encode()
	}
	ar := AuditRecord{
		ID: NewAuditID(), Time: now, Operator: o.name, Host: o.host, Store: o.storeName,
		Key: req.Key, Action: req.Action, Reason: req.Reason, Reverts: req.Reverts,
		RevisionBefore: req.Seen, ValueAfter: value, Outcome: OutcomePending,
	}
	if err := o.auditor.Audit(ctx, ar); err != nil {
		return res, &AuditError{Err: err}
	}
	var err error
	if req.AnyRevision {
		res, err = o.acquireAny(ctx, req, value, now)
	} else {
		res, err = o.casAgainstSeen(ctx, req, value, now)
	}
	ar.RevisionBefore, ar.ValueBefore = res.Before.Revision(), nil
	if res.Before.Found {
		// Present, so never nil: a tombstone is zero bytes, not "absent".
		ar.ValueBefore = append([]byte{}, res.Before.Entry.Value...)
	}
	ar.ValueAfter, ar.RevisionAfter = res.Written, res.Revision
	ar.Outcome, ar.Error = res.Outcome, ""
	if err != nil {
		ar.Error = err.Error()
	}
	// The result record is written whatever ctx says: the action has run
	// and the trail must say how it ended.
	if aerr := o.auditor.Audit(context.WithoutCancel(ctx), ar); aerr != nil {
		return res, errors.Join(err, &AuditError{Ran: true, Outcome: res.Outcome, Err: aerr})
	}
	return res, err
}

// casAgainstSeen is every action pinned to the revision the operator saw:
// read the key, refuse if it moved on (or, for acquire, is live), else
// create (seen 0) or compare-and-swap against seen.
func (o *Operator) casAgainstSeen(ctx context.Context, req Request, value []byte, now time.Time) (Result, error) {
	res := Result{Action: req.Action}
	rctx, cancel := o.callContext(ctx)
	before, err := o.inspect(rctx, req.Key, now)
	cancel()
	if err != nil {
		return o.notSent(ctx, res, req, err)
	}
	res.Before, res.After = before, before
	if before.Revision() != req.Seen {
		res.Outcome = OutcomeChanged
		return res, &ChangedError{Seen: req.Seen, Current: before}
	}
	if req.Action == ActionAcquire && before.Status.State == Held {
		res.Outcome = OutcomeLost
		return res, attempt{seen: before.Entry, found: true}.lost(req.Key)
	}
	if ctx.Err() != nil {
		return o.notSent(ctx, res, req, ctx.Err())
	}
	wctx, cancel := o.callContext(ctx)
	var rev uint64
	if req.Seen == 0 {
		rev, err = o.store.Create(wctx, req.Key, value)
	} else {
		rev, err = o.store.Update(wctx, req.Key, value, req.Seen)
	}
	cancel()
	if err != nil {
		return o.settle(ctx, res, req, value, req.Seen, err)
	}
	return o.won(res, req.Key, value, rev, now), nil
}

// acquireAny is a fleet-style acquire: the algorithm of TryAcquire on
// whatever the key holds.
func (o *Operator) acquireAny(ctx context.Context, req Request, value []byte, now time.Time) (Result, error) {
	res := Result{Action: req.Action}
	if ctx.Err() != nil {
		return o.notSent(ctx, res, req, ctx.Err())
	}
	a, err := acquire(ctx, o.store, req.Key, value, UnixSeconds(now), o.callTimeout)
	if a.found {
		res.Before = Observe(o.storeName, a.seen, true, now, o.th)
		res.After = res.Before
	} else if err == nil {
		res.Before = Observe(o.storeName, stores.Entry{Key: req.Key}, false, now, o.th)
		res.After = res.Before
	}
	switch {
	case err != nil && a.wrote:
		return o.settle(ctx, res, req, value, a.seen.Revision, err)
	case err != nil:
		return o.notSent(ctx, res, req, err)
	case !a.won:
		res.Outcome = OutcomeLost
		return res, a.lost(req.Key)
	}
	return o.won(res, req.Key, value, a.rev, now), nil
}

// won fills res for a write that landed at rev.
func (o *Operator) won(res Result, key string, value []byte, rev uint64, now time.Time) Result {
	res.Outcome, res.Written, res.Revision = OutcomeWon, value, rev
	res.After = Observe(o.storeName, stores.Entry{Key: key, Value: value, Revision: rev}, true, now, o.th)
	return res
}

// notSent ends an action that failed or was abandoned before its write was
// sent: nothing was written.
func (o *Operator) notSent(ctx context.Context, res Result, req Request, err error) (Result, error) {
	if ctx.Err() != nil {
		res.Outcome = OutcomeCancelled
		return res, fmt.Errorf("lease: %s %q abandoned before anything was written: %w", req.Action, req.Key, context.Cause(ctx))
	}
	res.Outcome = OutcomeError
	return res, fmt.Errorf("lease: %s %q: %w", req.Action, req.Key, err)
}

// settle finds out how a write that was sent and failed with err ended. A
// conflict is a change since the operator looked; a refusal by the driver
// itself (an invalid key, a read-only store, a request it did not send)
// wrote nothing; anything else — a deadline, a cancelled call, a lost
// connection — leaves the write in doubt, so the key is read back (with a
// fresh bound, even when ctx was cancelled) and the outcome is what it
// shows: won when it holds exactly the bytes written at a new revision,
// error when it is unchanged and the store said why, unknown otherwise.
func (o *Operator) settle(ctx context.Context, res Result, req Request, value []byte, seen uint64, err error) (Result, error) {
	werr := fmt.Errorf("lease: %s %q at revision %d: %w", req.Action, req.Key, seen, err)
	if errors.Is(err, stores.ErrInvalidKey) || errors.Is(err, stores.ErrReadOnly) || errors.Is(err, stores.ErrNotSent) {
		res.Outcome = OutcomeError
		return res, werr
	}
	rctx, cancel := o.readBackContext(ctx)
	cur, rerr := o.inspect(rctx, req.Key, o.now())
	cancel()
	changed := isChanged(err)
	switch {
	case rerr == nil && changed:
		res.Outcome, res.After = OutcomeChanged, cur
		return res, &ChangedError{Seen: seen, Current: cur}
	case changed:
		res.Outcome = OutcomeChanged
		return res, fmt.Errorf("lease: %s %q: %w (re-reading it failed: %w)", req.Action, req.Key, ErrChanged, rerr)
	case rerr == nil && cur.Found && cur.Revision() != seen && bytes.Equal(cur.Entry.Value, value):
		res.Outcome, res.Written, res.Revision, res.After = OutcomeWon, value, cur.Revision(), cur
		return res, nil
	case rerr == nil && cur.Revision() == seen && !inDoubt(err):
		res.Outcome, res.After = OutcomeError, cur
		return res, werr
	case rerr == nil:
		res.Outcome, res.After = OutcomeUnknown, cur
		return res, fmt.Errorf("%w; read back, the key is at revision %d and does not hold what was sent: the write may still land", werr, cur.Revision())
	}
	res.Outcome = OutcomeUnknown
	return res, fmt.Errorf("%w; reading the key back failed too (%w): the write may have landed", werr, rerr)
}

// inDoubt reports whether a failed write may still have reached the store:
// the caller stopped waiting (a deadline or a cancellation), as opposed to
// a store that answered with an error.
func inDoubt(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// readBackTimeout bounds the read-back of a write in doubt when the
// Operator has no call timeout of its own.
const readBackTimeout = 5 * time.Second

// callContext bounds one store call by the call timeout.
func (o *Operator) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.callTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.callTimeout)
}

// readBackContext bounds the read-back of a write in doubt. It does not end
// with ctx: an abandoned write is exactly the one whose fate must be known.
func (o *Operator) readBackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := o.callTimeout
	if d <= 0 {
		d = readBackTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
