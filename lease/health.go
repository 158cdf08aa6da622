package lease

import "time"

// Health is how a lease's rounds are going, judged from its current record
// alone (docs/design.md §4, round health): whether the fleet is still
// triggering rounds, and whether the last round finished.
type Health struct {
	// Flags holds Overdue and Unfinished only.
	Flags Flags
	// Period is the record's period, expires_at − acquired_at, capped at
	// the thresholds' MaxPeriod; zero when the record expires at or before
	// it was acquired.
	Period time.Duration
	// ExpiredFor is how long ago the record expired; zero while it is
	// live.
	ExpiredFor time.Duration
}

// Periods returns how many periods the record has been expired for, and
// false when the period is zero and the ratio means nothing.
func (h Health) Periods() (float64, bool) {
	if h.Period <= 0 {
		return 0, false
	}
	return float64(h.ExpiredFor) / float64(h.Period), true
}

// Assess judges the round health of record r at now: it is the one
// function behind the overdue and unfinished flags, for the console, the
// command line and the metrics alike, and it needs nothing but the record,
// so it adds no store round trip. A record is
//   - Unfinished when it has expired without a completion cursor: the
//     round's winner crashed or overran;
//   - Overdue when it has been expired for longer than one period: no
//     replica has triggered a round for a whole period, and the fleet may
//     be down.
//
// Time is counted in whole seconds, like the record's own fields.
func Assess(r Record, now time.Time, th Thresholds) Health {
	return assessAt(r, UnixSeconds(now), th)
}

func assessAt(r Record, now uint64, th Thresholds) Health {
	var h Health
	if r.ExpiresAtUnix > r.AcquiredAtUnix {
		h.Period = secondsDuration(min(r.ExpiresAtUnix-r.AcquiredAtUnix, uint64(th.MaxPeriod/time.Second)))
	}
	if r.LiveAt(now) {
		return h
	}
	expiredFor := now - r.ExpiresAtUnix
	h.ExpiredFor = secondsDuration(expiredFor)
	if !r.Completed() {
		h.Flags |= Unfinished
	}
	if expiredFor > uint64(h.Period/time.Second) {
		h.Flags |= Overdue
	}
	return h
}

// overdueAt returns the first second at which r, expired or not, is
// overdue: one period and a second after it expires.
func overdueAt(r Record, th Thresholds) uint64 {
	h := assessAt(r, r.ExpiresAtUnix, th)
	return saturatingAdd(r.ExpiresAtUnix, uint64(h.Period/time.Second)+1)
}

// OverdueAt returns the first moment, in whole Unix seconds, at which
// Assess will judge r overdue. Views that classify their rows once and
// again only when something can change use it to know when.
func OverdueAt(r Record, th Thresholds) uint64 { return overdueAt(r, th) }

// secondsDuration converts whole seconds to a Duration, saturating.
func secondsDuration(s uint64) time.Duration {
	const maxSeconds = uint64(1<<63-1) / uint64(time.Second)
	if s > maxSeconds {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(s) * time.Second
}

// AssessHistory judges the round health of a key from the values it has
// held, oldest first, ending with the current one (a store's history, or
// what a console observed): the current value when it is a record, as
// Assess does; otherwise — a tombstone, or bytes that do not decode — the
// newest record before it, which tells when a round was last triggered, so
// that a key whose fleet abandoned its round and then stopped is Overdue
// too. Unfinished is only ever said of a record the key still holds. With
// no record at all, the health is zero.
func AssessHistory(values [][]byte, now time.Time, th Thresholds) Health {
	for i := len(values) - 1; i >= 0; i-- {
		if len(values[i]) == 0 {
			continue
		}
		r, err := Decode(values[i])
		if err != nil {
			continue
		}
		h := Assess(r, now, th)
		if i != len(values)-1 {
			h.Flags &^= Unfinished
		}
		return h
	}
	return Health{}
}
