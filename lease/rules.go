package lease

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The rules an operator action must pass before anything is audited or
// written. The console, the command line and the browser gateway ask these
// functions rather than re-deriving them, so the rules cannot drift apart.

// OperatorHolderPrefix starts the holder id of every record an operator
// writes: "operator:alice". Replicas never use it, so a glance at a holder
// tells a human hand from the fleet.
const OperatorHolderPrefix = "operator:"

// OperatorHolder returns the holder id operator name writes.
func OperatorHolder(name string) string { return OperatorHolderPrefix + name }

// MinTTL is the shortest ttl accepted: expiry has whole-second resolution, so
// anything shorter gives no suppression at all.
const MinTTL = time.Second

// MaxTTL is the longest ttl accepted. It is the default skew cap
// (DefaultMaxPeriod): a longer lease would be flagged skewed by every viewer,
// which is the sign of a unit error (milliseconds for seconds), not of a
// real round.
const MaxTTL = DefaultMaxPeriod

// MaxReasonLen bounds an operator's reason in bytes: a sentence or two for
// the audit trail, not a document.
const MaxReasonLen = 1024

// CheckTTL returns an error matching ErrInvalidTTL unless MinTTL <= ttl <=
// MaxTTL.
func CheckTTL(ttl time.Duration) error { return checkTTLRange(ttl, MaxTTL) }

// checkTTLRange is CheckTTL with the upper bound of a given skew cap.
func checkTTLRange(ttl, maxTTL time.Duration) error {
	switch {
	case ttl < MinTTL:
		return fmt.Errorf("%w %v: want at least %v", ErrInvalidTTL, ttl, MinTTL)
	case ttl > maxTTL:
		return fmt.Errorf("%w %v: want at most %v (a longer lease would be flagged skewed)", ErrInvalidTTL, ttl, maxTTL)
	}
	return nil
}

// CheckReason checks an operator's reason for action: takeover, release
// and revert need one that is not blank; any reason must be valid UTF-8 of at most
// MaxReasonLen bytes. It returns an error matching ErrReasonRequired or
// ErrInvalidReason.
func CheckReason(action Action, reason string) error {
	switch {
	case strings.TrimSpace(reason) == "" && action != ActionAcquire:
		return fmt.Errorf("%w for a %s: it goes to the audit log", ErrReasonRequired, action)
	case !utf8.ValidString(reason):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidReason)
	case len(reason) > MaxReasonLen:
		return fmt.Errorf("%w: %d bytes, want at most %d", ErrInvalidReason, len(reason), MaxReasonLen)
	}
	return nil
}

// CheckHolder checks a holder id an operator asks to write instead of
// OperatorHolder's: non-empty, valid UTF-8.
func CheckHolder(holder string) error {
	if holder == "" || !utf8.ValidString(holder) {
		return fmt.Errorf("%w %q: want a non-empty, valid UTF-8 string", ErrInvalidHolder, holder)
	}
	return nil
}

// CheckReleasable reports whether there is anything to release in what the
// operator saw: an absent key or a tombstone has no lease to give back. It
// returns an error matching ErrNothingToRelease.
func CheckReleasable(o Observation) error {
	switch o.Status.State {
	case Absent:
		return fmt.Errorf("%w: %q is absent", ErrNothingToRelease, o.Key)
	case Tombstone:
		return fmt.Errorf("%w: %q is already a tombstone", ErrNothingToRelease, o.Key)
	}
	return nil
}

// CheckRevert checks the parts of req that are a revert's own: a revert
// needs the bytes to write back (Value: zero-length for a tombstone, never
// nil), the audit ID of the action it reverts (Reverts), and the revision
// that action wrote (Seen): a revert is always a compare-and-swap against
// it, never a create. Value and Reverts belong to a revert only. It returns
// nil for any other request without them, and otherwise an error matching
// ErrInvalidRevert.
func CheckRevert(req Request) error {
	if req.Action != ActionRevert {
		if req.Value != nil || req.Reverts != "" {
			return fmt.Errorf("%w: a value to write or an id to revert is for a revert only, not for a %s", ErrInvalidRevert, req.Action)
		}
		return nil
	}
	switch {
	case req.Value == nil:
		return fmt.Errorf("%w: no value to write back (a tombstone is zero bytes, not none)", ErrInvalidRevert)
	case req.Reverts == "":
		return fmt.Errorf("%w: no audit id of the action it reverts", ErrInvalidRevert)
	case !utf8.ValidString(req.Reverts) || len(req.Reverts) > MaxReasonLen:
		return fmt.Errorf("%w: the id of the action it reverts is not a short UTF-8 string", ErrInvalidRevert)
	case req.Seen == 0:
		return fmt.Errorf("%w: a revert writes over the revision the reverted action wrote, and revision 0 is none", ErrInvalidRevert)
	}
	return nil
}

// CheckScope reports whether key lies within the store's scope, the prefix
// it is configured with ("" is the whole store). A write outside it is
// almost always a typo that would overwrite a key that is not a lease (any
// value that is not a record reads as corrupt, and corrupt is stealable).
// It returns an error matching ErrOutsideScope.
func CheckScope(key, scope string) error {
	if !strings.HasPrefix(key, scope) {
		return fmt.Errorf("%w: %q is not under %q", ErrOutsideScope, key, scope)
	}
	return nil
}

// ConfirmWord is what an operator types to confirm a takeover, a release or
// a revert:
// the key's last segment, after its last '/' or '.', or the whole key when
// it has none (or ends in one). It is short enough to type during an
// incident and specific enough that muscle memory cannot confirm the wrong
// key.
func ConfirmWord(key string) string {
	if i := strings.LastIndexAny(key, "/."); i >= 0 && i < len(key)-1 {
		return key[i+1:]
	}
	return key
}

// Confirmed reports whether typed (surrounding spaces ignored) confirms an
// action on key: it must be ConfirmWord(key), or that word as the operator
// was shown it — shown is the display's cleaning function (control
// characters in a key cannot be typed, only their visible stand-ins).
func Confirmed(key, typed string, shown func(string) string) bool {
	typed = strings.TrimSpace(typed)
	word := ConfirmWord(key)
	return typed == word || (shown != nil && typed == shown(word))
}

// Errors of the operator rules.
var (
	// ErrReasonRequired means a takeover, release or revert without a
	// reason.
	ErrReasonRequired = errors.New("lease: a reason is required")
	// ErrInvalidReason means a reason that is not valid UTF-8 or too long.
	ErrInvalidReason = errors.New("lease: invalid reason")
	// ErrInvalidHolder means an empty or invalid holder id.
	ErrInvalidHolder = errors.New("lease: invalid holder id")
	// ErrNothingToRelease means a release of a key the operator saw absent
	// or already a tombstone.
	ErrNothingToRelease = errors.New("lease: nothing to release")
	// ErrInvalidRevert means a revert without what it needs (the bytes to
	// write back, the id it reverts, a revision to compare against), or a
	// value or id to revert given to another action.
	ErrInvalidRevert = errors.New("lease: invalid revert")
	// ErrOutsideScope means a write to a key outside the store's
	// configured prefix.
	ErrOutsideScope = errors.New("lease: key outside the store's prefix")
)
