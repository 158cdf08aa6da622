package tui

import (
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/timeline"
)

// observations are the changes the console's watches delivered since it
// started, per store and key: the timeline of a lease on a store that keeps
// no history of its own (Consul, memory), and the times of the changes a
// store's history does not date (a tombstone, a corrupt write). Only keys
// that changed are kept, a few changes each (timeline.Recorder bounds them),
// so 100,000 quiet leases cost nothing.
type observations struct {
	byStore map[string]*timeline.Recorder
}

func newObservations() *observations {
	return &observations{byStore: map[string]*timeline.Recorder{}}
}

// observe records that store's watch delivered e at now; before is the row
// the console held for the key until then (found false: none).
func (o *observations) observe(store string, e stores.Entry, now time.Time, before stores.Entry, found bool) {
	r, ok := o.byStore[store]
	if !ok {
		r = timeline.NewRecorder(0, 0)
		o.byStore[store] = r
	}
	r.Observe(e, now, before, found)
}

// changes returns what was observed of key in store, oldest first.
func (o *observations) changes(store, key string) []timeline.Change {
	if r, ok := o.byStore[store]; ok {
		return r.Changes(key)
	}
	return nil
}

// timeline returns the styles of a lease's timeline, from the console's:
// the state colours for the rounds, the warning colours for gaps.
func (s *Styles) timeline() timeline.Styles {
	return timeline.Styles{
		Label: s.Label, Dim: s.Dim,
		Completed: s.FlagCompleted, Unfinished: s.StateExpired, Running: s.StateHeld,
		Gap: s.StatusWarn, Action: s.FlagSkewed, Corrupt: s.StateCorrupt, Warn: s.StatusError,
	}
}
