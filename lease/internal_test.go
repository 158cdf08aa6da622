package lease

import (
	"math"
	"testing"
	"time"
)

// Saturation cannot be reached through the public API: time.Time and
// time.Duration both stop near 2^63 seconds and nanoseconds. The record
// builder is tested directly.
func TestFreshRecordSaturates(t *testing.T) {
	tests := []struct {
		now  uint64
		ttl  time.Duration
		want uint64
	}{
		{1718000000, 300 * time.Second, 1718000300},
		{1718000000, 1500 * time.Millisecond, 1718000001},
		{math.MaxUint64 - 300, 300 * time.Second, math.MaxUint64},
		{math.MaxUint64 - 299, 300 * time.Second, math.MaxUint64},
		{math.MaxUint64, time.Second, math.MaxUint64},
		{math.MaxUint64, math.MaxInt64, math.MaxUint64},
	}
	for _, tt := range tests {
		r := recordAt("a", tt.now, tt.ttl)
		if r.AcquiredAtUnix != tt.now || r.ExpiresAtUnix != tt.want {
			t.Errorf("recordAt(now %d, ttl %v) = acquired %d, expires %d; want %d, %d", tt.now, tt.ttl, r.AcquiredAtUnix, r.ExpiresAtUnix, tt.now, tt.want)
		}
	}
}

func TestSaturatingAdd(t *testing.T) {
	tests := []struct{ a, b, want uint64 }{
		{0, 0, 0},
		{1, 2, 3},
		{math.MaxUint64, 0, math.MaxUint64},
		{math.MaxUint64 - 1, 1, math.MaxUint64},
		{math.MaxUint64 - 1, 2, math.MaxUint64},
		{math.MaxUint64, math.MaxUint64, math.MaxUint64},
	}
	for _, tt := range tests {
		if got := saturatingAdd(tt.a, tt.b); got != tt.want {
			t.Errorf("saturatingAdd(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSkewedAtTheTop checks the tolerance comparison saturates instead of
// wrapping when the viewer's clock is at the top of the range.
func TestSkewedAtTheTop(t *testing.T) {
	r := Record{AcquiredAtUnix: math.MaxUint64, ExpiresAtUnix: math.MaxUint64}
	if skewed(r, math.MaxUint64-5, DefaultThresholds()) {
		t.Errorf("skewed(%+v, now 2^64-6) = true, want false: the tolerance must saturate, not wrap", r)
	}
}
