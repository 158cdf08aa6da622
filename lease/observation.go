package lease

import (
	"errors"
	"fmt"
	"time"

	"github.com/leasectl/leasectl/stores"
)

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

// Observe classifies an entry read from store at now: found is false when
// the key was absent (stores.ErrNotFound), which is the Absent state. It is
// how every listing, inspection and offline decode builds what it shows.
func Observe(store string, e stores.Entry, found bool, now time.Time, th Thresholds) Observation {
	if !found {
		e = stores.Entry{Key: e.Key}
	}
	return Observation{Store: store, Key: e.Key, Found: found, Entry: e, Status: ClassifyEntry(e, found, now, th)}
}

// Revision returns the observed revision, 0 when absent: what an operator
// action takes as the revision the operator saw.
func (o Observation) Revision() uint64 { return o.Entry.Revision }

// describe summarises the observation for an error message; store data is
// quoted.
func (o Observation) describe() string {
	switch o.Status.State {
	case Absent:
		return "absent"
	case Held, Expired:
		return fmt.Sprintf("revision %d, %s by %q until %d", o.Entry.Revision, o.Status.State, o.Status.Record.HolderID, o.Status.Record.ExpiresAtUnix)
	}
	return fmt.Sprintf("revision %d, %s", o.Entry.Revision, o.Status.State)
}

// ErrChanged means the key changed since the operator looked; every
// *ChangedError matches it and carries the new state.
var ErrChanged = errors.New("lease: changed since you looked")

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
