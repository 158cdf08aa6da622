package lease_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// hNow is the viewer's clock in the round-health tests.
const hNow = 1_800_000_000

func at(s uint64) time.Time { return time.Unix(int64(s), 0) }

// record returns a record acquired at acq expiring at exp, completed when
// cursor is not "".
func record(acq, exp uint64, cursor string) lease.Record {
	return lease.Record{HolderID: "node-a", AcquiredAtUnix: acq, ExpiresAtUnix: exp, CompletedCursorHex: cursor}
}

func TestAssess(t *testing.T) {
	const period = 300
	day := uint64(lease.DefaultMaxPeriod / time.Second)
	tests := []struct {
		name       string
		r          lease.Record
		want       lease.Flags
		period     time.Duration
		expiredFor time.Duration
	}{
		{"live", record(hNow-100, hNow+200, ""), 0, period * time.Second, 0},
		{"live, completed", record(hNow-100, hNow+200, "2a"), 0, period * time.Second, 0},
		{"expires now: expired, not overdue", record(hNow-period, hNow, ""), lease.Unfinished, period * time.Second, 0},
		{"expires now, completed", record(hNow-period, hNow, "2a"), 0, period * time.Second, 0},
		{"expired one period ago to the second", record(hNow-2*period, hNow-period, ""), lease.Unfinished, period * time.Second, period * time.Second},
		{"expired one period and a second ago", record(hNow-2*period-1, hNow-period-1, ""), lease.Unfinished | lease.Overdue, period * time.Second, (period + 1) * time.Second},
		{"overdue, completed", record(hNow-3*period, hNow-2*period, "00ff"), lease.Overdue, period * time.Second, 2 * period * time.Second},
		{"period above the skew cap is capped", record(hNow-3*day, hNow-day-1, "2a"), lease.Overdue, lease.DefaultMaxPeriod, time.Duration(day+1) * time.Second},
		{"capped period, not yet overdue", record(hNow-3*day, hNow-day, "2a"), 0, lease.DefaultMaxPeriod, time.Duration(day) * time.Second},
		{"expires before acquired: no period", record(hNow, hNow-1, "2a"), lease.Overdue, 0, time.Second},
		{"zero period, expiring now", record(hNow, hNow, "2a"), 0, 0, 0},
		{"zero period, a second later", record(hNow-1, hNow-1, ""), lease.Overdue | lease.Unfinished, 0, time.Second},
		{"epoch record", record(0, 1, ""), lease.Overdue | lease.Unfinished, time.Second, (hNow - 1) * time.Second},
		{"expires at the end of time", record(hNow, math.MaxUint64, ""), 0, lease.DefaultMaxPeriod, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := lease.Assess(tt.r, at(hNow), lease.DefaultThresholds())
			if h.Flags != tt.want || h.Period != tt.period || h.ExpiredFor != tt.expiredFor {
				t.Errorf("Assess = {%v %v %v}, want {%v %v %v}", h.Flags, h.Period, h.ExpiredFor, tt.want, tt.period, tt.expiredFor)
			}
			// Classify agrees, on top of its own flags.
			st := lease.Classify(tt.r.Encode(), at(hNow), lease.DefaultThresholds())
			if got := st.Flags & (lease.Overdue | lease.Unfinished); got != tt.want {
				t.Errorf("Classify flags = %v, want %v", st.Flags, tt.want)
			}
			if st.State == lease.Held && tt.want != 0 {
				t.Errorf("a held record is flagged %v", tt.want)
			}
			// OverdueAt is the first second Assess says overdue.
			first := lease.OverdueAt(tt.r, lease.DefaultThresholds())
			if first > 0 && lease.Assess(tt.r, at(first-1), lease.DefaultThresholds()).Flags.Has(lease.Overdue) {
				t.Errorf("overdue at %d, before OverdueAt = %d", first-1, first)
			}
			if first < math.MaxUint64 && first < 1<<62 && !lease.Assess(tt.r, at(first), lease.DefaultThresholds()).Flags.Has(lease.Overdue) {
				t.Errorf("not overdue at OverdueAt = %d", first)
			}
		})
	}
}

func TestAssessThresholds(t *testing.T) {
	// A tighter cap shortens the period the overdue flag waits for.
	th := lease.Thresholds{SkewTolerance: lease.DefaultSkewTolerance, MaxPeriod: time.Minute}
	r := record(hNow-1000, hNow-61, "2a")
	if h := lease.Assess(r, at(hNow), th); h.Flags != lease.Overdue || h.Period != time.Minute {
		t.Errorf("Assess with a one-minute cap = {%v %v}, want {overdue 1m0s}", h.Flags, h.Period)
	}
	if h := lease.Assess(r, at(hNow), lease.DefaultThresholds()); h.Flags != 0 {
		t.Errorf("Assess with the default cap = %v, want none", h.Flags)
	}
}

func TestHealthPeriods(t *testing.T) {
	h := lease.Assess(record(hNow-1500, hNow-720, "2a"), at(hNow), lease.DefaultThresholds())
	p, ok := h.Periods()
	if !ok || math.Abs(p-720.0/780.0) > 1e-9 {
		t.Errorf("Periods = %v, %t, want %v, true", p, ok, 720.0/780.0)
	}
	h = lease.Assess(record(hNow-1800, hNow-720, "2a"), at(hNow), lease.DefaultThresholds())
	if p, ok := h.Periods(); !ok || math.Abs(p-720.0/1080.0) > 1e-9 {
		t.Errorf("Periods = %v, %t, want %v, true", p, ok, 720.0/1080.0)
	}
	if _, ok := lease.Assess(record(hNow, hNow-5, ""), at(hNow), lease.DefaultThresholds()).Periods(); ok {
		t.Error("Periods of a record without a period reports ok")
	}
}

func TestAssessHistory(t *testing.T) {
	const period = 300
	enc := func(r lease.Record) []byte { return r.Encode() }
	old := record(hNow-4*period, hNow-3*period, "") // expired three periods ago, unfinished
	recent := record(hNow-period, hNow+10, "")      // live
	done := record(hNow-2*period, hNow-period+5, "2a")
	tombstone, corrupt := []byte{}, []byte(`{"holder_id":`)
	tests := []struct {
		name   string
		values [][]byte
		want   lease.Flags
	}{
		{"no history", nil, 0},
		{"only a tombstone", [][]byte{tombstone}, 0},
		{"only corrupt", [][]byte{corrupt}, 0},
		{"current overdue record", [][]byte{enc(recent), enc(old)}, lease.Overdue | lease.Unfinished},
		{"current live record after an old one", [][]byte{enc(old), enc(recent)}, 0},
		{"tombstone after an old record: overdue, not unfinished", [][]byte{enc(old), tombstone}, lease.Overdue},
		{"corrupt in between, then the old record is current", [][]byte{enc(recent), corrupt, enc(old)}, lease.Overdue | lease.Unfinished},
		{"corrupt after the old record", [][]byte{enc(old), corrupt}, lease.Overdue},
		{"corrupt and tombstones after a live record", [][]byte{enc(recent), corrupt, tombstone}, 0},
		{"tombstone after a completed record within its period", [][]byte{enc(done), tombstone}, 0},
		{"corrupt current after completed record", [][]byte{enc(old), enc(done), corrupt}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lease.AssessHistory(tt.values, at(hNow), lease.DefaultThresholds())
			if got.Flags != tt.want {
				t.Errorf("AssessHistory = %v, want %v", got.Flags, tt.want)
			}
		})
	}
}

func TestFlagNames(t *testing.T) {
	all := lease.Completed | lease.Skewed | lease.Overdue | lease.Unfinished
	if got, want := all.Strings(), lease.AllFlags(); !slices.Equal(got, want) {
		t.Errorf("Strings of every flag = %v, want %v", got, want)
	}
	for _, name := range lease.AllFlags() {
		f, err := lease.ParseFlag(name)
		if err != nil || f.String() != name {
			t.Errorf("ParseFlag(%q) = %v, %v", name, f, err)
		}
	}
	if _, err := lease.ParseFlag("late"); err == nil {
		t.Error("ParseFlag(late) succeeded")
	}
}
