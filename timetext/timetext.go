// Package timetext renders lease times for people: countdowns ("in 4m12s",
// "expired 3m ago"), ages ("5m ago"), durations and absolute timestamps in
// UTC and the viewer's zone. The console and the command line both use it,
// so a lease reads the same wherever it is shown.
//
// Lease times are whole Unix seconds as a record stores them (uint64), and a
// skewed or hostile record may carry any value up to 2^64-1: every function
// saturates instead of wrapping and shows times past year 9999 as numbers.
package timetext

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxDisplay is the last second time.Format renders with a four-digit year
// (9999-12-31T23:59:59Z); later lease times are shown as raw numbers.
const maxDisplay = 253402300799

// year is the length of a year in these texts: 365 days.
const year = 365 * 86400

// Distance returns |b-a| in seconds and whether b lies at or after a, without
// wrapping for any pair of values.
func Distance(a, b uint64) (d uint64, future bool) {
	if b >= a {
		return b - a, true
	}
	return a - b, false
}

// Coarse renders a number of seconds in its largest unit: 12s, 3m, 5h, 2d,
// 3y.
func Coarse(s uint64) string {
	switch {
	case s < 60:
		return strconv.FormatUint(s, 10) + "s"
	case s < 3600:
		return strconv.FormatUint(s/60, 10) + "m"
	case s < 86400:
		return strconv.FormatUint(s/3600, 10) + "h"
	case s < year:
		return strconv.FormatUint(s/86400, 10) + "d"
	}
	return strconv.FormatUint(s/year, 10) + "y"
}

// Precise renders a number of seconds in its two largest units: 12s, 4m12s,
// 3h04m, 2d3h; a year or more in years.
func Precise(s uint64) string {
	switch {
	case s < 60:
		return strconv.FormatUint(s, 10) + "s"
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s < year:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	}
	return Coarse(s)
}

// Ago renders when an instant lies relative to now, coarsely: "3m ago",
// "just now", or "in 5m" for one in the future (a skewed record).
func Ago(now, at uint64) string {
	d, future := Distance(now, at)
	switch {
	case d == 0:
		return "just now"
	case future:
		return "in " + Coarse(d)
	}
	return Coarse(d) + " ago"
}

// Countdown renders an expiry relative to now: "in 4m12s" while the lease is
// live, "expired just now" or "expired 12s ago" after (a lease is expired
// once now >= expires).
func Countdown(now, expires uint64) string {
	d, future := Distance(now, expires)
	switch {
	case future && d > 0:
		return "in " + Precise(d)
	case d == 0:
		return "expired just now"
	}
	return "expired " + Coarse(d) + " ago"
}

// Time converts whole lease seconds to a time.Time, clamped to what
// time.Time can hold.
func Time(unix uint64) time.Time {
	return time.Unix(int64(min(unix, math.MaxInt64)), 0)
}

// UTC renders lease seconds as an RFC 3339 timestamp in UTC, or as
// "unix N (beyond year 9999)".
func UTC(unix uint64) string {
	if unix > maxDisplay {
		return beyond(unix)
	}
	return Time(unix).UTC().Format(time.RFC3339)
}

// Clock renders lease seconds as a UTC time of day, "15:04:05 UTC", or as
// "unix N (beyond year 9999)".
func Clock(unix uint64) string {
	if unix > maxDisplay {
		return beyond(unix)
	}
	return Time(unix).UTC().Format("15:04:05 MST")
}

// Absolute renders lease seconds in UTC and, when loc is another zone, in
// loc too: "2024-06-10 06:13:20 UTC · local 08:13:20 CEST" (the local date
// is shown only when it differs). Times beyond year 9999 are numbers.
func Absolute(unix uint64, loc *time.Location) string {
	if unix > maxDisplay {
		return beyond(unix)
	}
	t := Time(unix)
	utc, local := t.UTC(), t.In(loc)
	if name, off := local.Zone(); off == 0 && (name == "UTC" || name == "GMT") {
		return utc.Format("2006-01-02 15:04:05 MST")
	}
	layout := "15:04:05 MST"
	if local.Format(time.DateOnly) != utc.Format(time.DateOnly) {
		layout = "2006-01-02 15:04:05 MST"
	}
	return utc.Format("2006-01-02 15:04:05 MST") + " · local " + local.Format(layout)
}

func beyond(unix uint64) string { return fmt.Sprintf("unix %d (beyond year 9999)", unix) }

// Overdue renders how long a record has been expired, in time and in its
// periods: "expired 12m ago · 2.4 periods"; the periods are left out when
// period is 0 (a record without one).
func Overdue(expiredFor, period uint64) string {
	s := "expired " + Coarse(expiredFor) + " ago"
	if expiredFor == 0 {
		s = "expired just now"
	}
	if period == 0 {
		return s
	}
	return s + " · " + strconv.FormatFloat(float64(expiredFor)/float64(period), 'f', 1, 64) + " periods"
}
