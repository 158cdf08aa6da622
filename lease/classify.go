package lease

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/leasectl/leasectl/stores"
)

// State is the classification of a lease key as an operator sees it
// (docs/design.md §4).
type State int

// The five states of a lease key. The zero State is none of them.
const (
	// Absent means no key, or a delete/purge marker.
	Absent State = iota + 1
	// Tombstone means a zero-length value: abandoned or released.
	Tombstone
	// Held means a valid record that is live: expires_at_unix > now.
	Held
	// Expired means a valid record whose expiry has passed.
	Expired
	// Corrupt means bytes that are not a valid record; see Status.Reason.
	Corrupt
)

// String returns the state's lower-case name, one of the five words of
// docs/design.md §4.
func (s State) String() string {
	switch s {
	case Absent:
		return "absent"
	case Tombstone:
		return "tombstone"
	case Held:
		return "held"
	case Expired:
		return "expired"
	case Corrupt:
		return "corrupt"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ParseState returns the state named name, one of the five words String
// returns.
func ParseState(name string) (State, error) {
	for st := Absent; st <= Corrupt; st++ {
		if st.String() == name {
			return st, nil
		}
	}
	return 0, fmt.Errorf("lease: unknown state %q (one of absent, tombstone, held, expired, corrupt)", name)
}

// MarshalText implements encoding.TextMarshaler with String, so JSON output
// shows the state's name.
func (s State) MarshalText() ([]byte, error) {
	if s < Absent || s > Corrupt {
		return nil, fmt.Errorf("lease: invalid state %d", int(s))
	}
	return []byte(s.String()), nil
}

// Flags are observations shown on top of a Held or Expired state.
type Flags uint8

const (
	// Completed means the record carries a completion cursor.
	Completed Flags = 1 << iota
	// Skewed means the record does not look like it came from a sane clock:
	// acquired more than the skew tolerance in the viewer's future, expiring
	// before it was acquired, or with a period longer than the cap.
	Skewed
	// Overdue means the record has been expired for longer than one
	// period: no replica has triggered a round for a whole period (see
	// Assess).
	Overdue
	// Unfinished means the record expired without a completion cursor:
	// the round's winner crashed or overran (see Assess).
	Unfinished
)

// flagNames are the flags' names, in bit order.
var flagNames = [...]string{"completed", "skewed", "overdue", "unfinished"}

// AllFlags returns every flag's name, in the order Strings uses.
func AllFlags() []string { return append([]string(nil), flagNames[:]...) }

// ParseFlag returns the flag named name, one of AllFlags.
func ParseFlag(name string) (Flags, error) {
	for i, n := range flagNames {
		if n == name {
			return Flags(1) << i, nil
		}
	}
	return 0, fmt.Errorf("lease: unknown flag %q (one of %s)", name, strings.Join(flagNames[:], ", "))
}

// Has reports whether every flag in f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// Strings returns the names of the set flags in the order completed,
// skewed, overdue, unfinished; an empty, non-nil slice when none is set.
func (f Flags) Strings() []string {
	s := []string{}
	for i, n := range flagNames {
		if f.Has(Flags(1) << i) {
			s = append(s, n)
		}
	}
	return s
}

// String returns the set flags' names separated by commas.
func (f Flags) String() string { return strings.Join(f.Strings(), ",") }

// Thresholds tune the skewed flag, and cap the period of the overdue flag.
type Thresholds struct {
	// SkewTolerance is how far in the viewer's future acquired_at_unix may
	// lie before the record is flagged skewed.
	SkewTolerance time.Duration
	// MaxPeriod is the longest sane expires_at_unix - acquired_at_unix.
	MaxPeriod time.Duration
}

const (
	// DefaultSkewTolerance absorbs the drift of NTP-synchronised hosts
	// (well under a second) with a wide margin, while still catching a clock
	// that is minutes off.
	DefaultSkewTolerance = 30 * time.Second
	// DefaultMaxPeriod is a day: export rounds run every few minutes, so a
	// longer lease is almost certainly a clock or unit error (e.g. millis).
	DefaultMaxPeriod = 24 * time.Hour
)

// DefaultThresholds returns the thresholds of docs/design.md §4. The zero
// Thresholds is not a default: it flags every record with a non-zero period
// as skewed.
func DefaultThresholds() Thresholds {
	return Thresholds{SkewTolerance: DefaultSkewTolerance, MaxPeriod: DefaultMaxPeriod}
}

func (th Thresholds) validate() error {
	if th.SkewTolerance < 0 || th.MaxPeriod < 0 {
		return fmt.Errorf("lease: negative threshold (skew tolerance %v, max period %v)", th.SkewTolerance, th.MaxPeriod)
	}
	return nil
}

// Status is the classification of one key at one moment.
type Status struct {
	// State is the key's state.
	State State
	// Flags are set only for Held and Expired.
	Flags Flags
	// Record is the decoded record, valid for Held and Expired.
	Record Record
	// Reason says why the value is Corrupt.
	Reason string
}

// UnixSeconds returns t as whole seconds since the Unix epoch, truncated;
// a pre-epoch t counts as 0 (docs/design.md §2.2).
func UnixSeconds(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s)
}

// Classify judges a present value at now: a zero-length value is a
// Tombstone, a value that does not decode is Corrupt, else Held or Expired
// with flags.
func Classify(value []byte, now time.Time, th Thresholds) Status {
	return classifyAt(value, UnixSeconds(now), th)
}

// ClassifyEntry judges what a Get returned: found is false when the key was
// absent (stores.ErrNotFound), which is the Absent state.
func ClassifyEntry(e stores.Entry, found bool, now time.Time, th Thresholds) Status {
	if !found {
		return Status{State: Absent}
	}
	return Classify(e.Value, now, th)
}

func classifyAt(value []byte, now uint64, th Thresholds) Status {
	if len(value) == 0 {
		return Status{State: Tombstone}
	}
	r, err := Decode(value)
	if err != nil {
		st := Status{State: Corrupt, Reason: err.Error()}
		if ce, ok := errors.AsType[*CorruptError](err); ok {
			st.Reason = ce.Reason
		}
		return st
	}
	st := Status{State: Expired, Record: r}
	if r.LiveAt(now) {
		st.State = Held
	}
	if r.Completed() {
		st.Flags |= Completed
	}
	if skewed(r, now, th) {
		st.Flags |= Skewed
	}
	st.Flags |= assessAt(r, now, th).Flags
	return st
}

// skewed reports whether r looks like it came from a bad clock
// (docs/design.md §4).
func skewed(r Record, now uint64, th Thresholds) bool {
	tolerance := uint64(th.SkewTolerance / time.Second)
	maxPeriod := uint64(th.MaxPeriod / time.Second)
	switch {
	case r.AcquiredAtUnix > saturatingAdd(now, tolerance):
		return true
	case r.ExpiresAtUnix < r.AcquiredAtUnix:
		return true
	default:
		return r.ExpiresAtUnix-r.AcquiredAtUnix > maxPeriod
	}
}

func saturatingAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
