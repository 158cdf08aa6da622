package metrics

import (
	"time"

	"github.com/leasectl/leasectl/lease"
)

// health is a record's round health at a moment, as lease.Assess judges
// it.
type health struct {
	overdue, unfinished bool
}

// assess is the round health of r at now.
//
// TODO(met11): lease.Assess (the one round-health function) once it lands
// on main; this follows the plan's definitions until then.
func assess(r lease.Record, now time.Time, th lease.Thresholds) health {
	at := lease.UnixSeconds(now)
	if r.LiveAt(at) {
		return health{}
	}
	period := periodOf(r, th)
	return health{
		overdue:    time.Duration(at-r.ExpiresAtUnix)*time.Second > period,
		unfinished: !r.Completed(),
	}
}

// periodOf is r's period: expires_at − acquired_at, capped at the skew
// cap; 0 when it expires before it was acquired.
func periodOf(r lease.Record, th lease.Thresholds) time.Duration {
	if r.ExpiresAtUnix <= r.AcquiredAtUnix {
		return 0
	}
	return min(time.Duration(r.ExpiresAtUnix-r.AcquiredAtUnix)*time.Second, th.MaxPeriod)
}
