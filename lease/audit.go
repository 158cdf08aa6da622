package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Action is an operator write action.
type Action int

// The operator write actions. The zero Action is none of them.
const (
	// ActionAcquire runs the fleet's acquire as the operator: it wins only
	// over an absent, tombstone, expired or corrupt key.
	ActionAcquire Action = iota + 1
	// ActionTakeover writes a fresh operator record over whatever is
	// there, even a live lease.
	ActionTakeover
	// ActionRelease writes a tombstone so that the fleet's next trigger
	// wins at once.
	ActionRelease
	// ActionRevert writes back, as they were, the bytes an earlier won
	// action replaced (Request.Value), by compare-and-swap against the
	// revision that action wrote: it undoes a mistaken takeover or
	// release only when nothing has written the key since.
	ActionRevert
)

var actionNames = [...]string{ActionAcquire: "acquire", ActionTakeover: "takeover", ActionRelease: "release", ActionRevert: "revert"}

// String returns the action's lower-case name, as written to the audit log.
func (a Action) String() string {
	if a >= ActionAcquire && a <= ActionRevert {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// MarshalText implements encoding.TextMarshaler with String.
func (a Action) MarshalText() ([]byte, error) {
	if a < ActionAcquire || a > ActionRevert {
		return nil, fmt.Errorf("lease: invalid action %d", int(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting the names
// String returns.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n != "" && n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("lease: unknown action %q", b)
}

// Outcome is how an operator action ended, as the audit trail records it.
type Outcome int

// The outcomes. The zero Outcome is none: the action was refused before it
// was audited (a rule it broke, or an audit trail that could not be written).
const (
	// OutcomePending marks the intent record written before the store is
	// touched.
	OutcomePending Outcome = iota + 1
	// OutcomeWon means the action wrote the store.
	OutcomeWon
	// OutcomeLost means an acquire found the lease live: nothing was
	// written.
	OutcomeLost
	// OutcomeChanged means the key was not at the revision the operator
	// saw: nothing was written.
	OutcomeChanged
	// OutcomeError means the action failed and the store was not written
	// (checked by reading the key back when the failure left it in doubt).
	OutcomeError
	// OutcomeUnknown means the write was sent but its fate could not be
	// learned: the store did not answer in time and reading the key back
	// did not show it landed. It may still land.
	OutcomeUnknown
	// OutcomeCancelled means the operator abandoned the action before the
	// write was sent: nothing was written.
	OutcomeCancelled
)

var outcomeNames = [...]string{
	OutcomePending: "pending", OutcomeWon: "won", OutcomeLost: "lost", OutcomeChanged: "changed",
	OutcomeError: "error", OutcomeUnknown: "unknown", OutcomeCancelled: "cancelled",
}

// String returns the outcome's lower-case name, as written to the audit log.
func (o Outcome) String() string {
	if o >= OutcomePending && o <= OutcomeCancelled {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText implements encoding.TextMarshaler with String.
func (o Outcome) MarshalText() ([]byte, error) {
	if o < OutcomePending || o > OutcomeCancelled {
		return nil, fmt.Errorf("lease: invalid outcome %d", int(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting the names
// String returns.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n != "" && n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("lease: unknown outcome %q", b)
}

// Wrote reports whether the store holds what the action wrote (won). It is
// false for an unknown outcome, which may yet land: say so to the operator.
func (o Outcome) Wrote() bool { return o == OutcomeWon }

// Auditor appends audit records to a durable trail. Audit returns only once
// the record is durable (fsync'd), or an error.
type Auditor interface {
	Audit(ctx context.Context, r AuditRecord) error
}

// AuditRecord is one line of the audit trail. Every operator action that
// passes the rules produces two: an intent record (OutcomePending) before the
// store is read or written, and a result record once the outcome is known.
// A trail that ends in an intent record means the process died in between.
// Both records of one action carry the same ID.
type AuditRecord struct {
	// ID names the action: 12 lower-case hex digits, random, the same on
	// its intent and result records (see NewAuditID).
	ID string
	// Time is the operator's clock when the action began.
	Time time.Time
	// Operator is the operator's name (without OperatorHolderPrefix).
	Operator string
	// Host is the host the action ran on.
	Host string
	// Store is the configured name of the store.
	Store string
	// Key is the full lease key.
	Key string
	// Action is what the operator did.
	Action Action
	// Reason is the operator's reason (may be "" for acquire).
	Reason string
	// Reverts is, for ActionRevert, the ID of the action it reverts; ""
	// otherwise.
	Reverts string
	// RevisionBefore is, in the intent record, the revision the operator
	// saw (0: absent, or not given for a fleet-style acquire); in the
	// result record, the revision of the entry the action judged.
	RevisionBefore uint64
	// ValueBefore is the value the action judged (result record only): nil
	// when the key was absent or never read, zero-length for a tombstone.
	ValueBefore []byte
	// ValueAfter is what the action writes (intent) or wrote (result): nil
	// when it wrote nothing, zero-length for a tombstone.
	ValueAfter []byte
	// RevisionAfter is the revision of the write, 0 when nothing was
	// written (or the outcome is unknown).
	RevisionAfter uint64
	// Outcome is OutcomePending in the intent record, the action's outcome
	// in the result record.
	Outcome Outcome
	// Error says what went wrong, or what is known of an unknown outcome.
	Error string
}

// AuditError reports that the audit trail could not be written. It matches
// ErrAuditFailed and unwraps to the auditor's error.
type AuditError struct {
	// Ran is false when the intent record failed and the action was refused
	// before touching the store; true when only the result record failed,
	// after the action ran.
	Ran bool
	// Outcome is the action's outcome when Ran is set.
	Outcome Outcome
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

// ErrAuditFailed means the audit trail could not be written; every
// *AuditError matches it. Writes fail closed: without an intent record,
// nothing is read or written.
var ErrAuditFailed = errors.New("lease: audit failed")

// errNoAuditor is the cause of refusals by an Operator without an Auditor.
var errNoAuditor = errors.New("no auditor configured")

// AuditIDLen is the length of an audit ID: 12 lower-case hex digits, 48
// random bits, so that ids in one log do not collide (a million actions
// give odds of about one in five hundred of any pair colliding) while a
// person can still read one out or type a prefix of it.
const AuditIDLen = 12

// NewAuditID returns a fresh random audit ID of AuditIDLen lower-case hex
// digits.
func NewAuditID() string {
	var b [AuditIDLen / 2]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b[:])
}
