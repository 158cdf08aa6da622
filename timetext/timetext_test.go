package timetext

import (
	"math"
	"testing"
	"time"
)

func TestCoarseAndPrecise(t *testing.T) {
	tests := []struct {
		s               uint64
		coarse, precise string
	}{
		{0, "0s", "0s"},
		{59, "59s", "59s"},
		{60, "1m", "1m00s"},
		{252, "4m", "4m12s"},
		{3599, "59m", "59m59s"},
		{3600, "1h", "1h00m"},
		{11040, "3h", "3h04m"},
		{86400 + 3*3600, "1d", "1d3h"},
		{year - 1, "364d", "364d23h"},
		{year, "1y", "1y"},
		{math.MaxUint64, "584942417355y", "584942417355y"},
	}
	for _, tt := range tests {
		if got := Coarse(tt.s); got != tt.coarse {
			t.Errorf("Coarse(%d) = %q, want %q", tt.s, got, tt.coarse)
		}
		if got := Precise(tt.s); got != tt.precise {
			t.Errorf("Precise(%d) = %q, want %q", tt.s, got, tt.precise)
		}
	}
}

func TestAgoAndCountdown(t *testing.T) {
	const now = 1718000000
	tests := []struct {
		at             uint64
		ago, countdown string
	}{
		{now, "just now", "expired just now"},
		{now - 1, "1s ago", "expired 1s ago"},
		{now - 180, "3m ago", "expired 3m ago"},
		{now + 252, "in 4m", "in 4m12s"},
		{0, "54y ago", "expired 54y ago"},
		{math.MaxUint64, "in 584942417300y", "in 584942417300y"},
	}
	for _, tt := range tests {
		if got := Ago(now, tt.at); got != tt.ago {
			t.Errorf("Ago(now, %d) = %q, want %q", tt.at, got, tt.ago)
		}
		if got := Countdown(now, tt.at); got != tt.countdown {
			t.Errorf("Countdown(now, %d) = %q, want %q", tt.at, got, tt.countdown)
		}
	}
}

func TestAbsolute(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		unix uint64
		loc  *time.Location
		want string
	}{
		{1718000000, time.UTC, "2024-06-10 06:13:20 UTC"},
		{1718000000, berlin, "2024-06-10 06:13:20 UTC · local 08:13:20 CEST"},
		{1718056800, berlin, "2024-06-10 22:00:00 UTC · local 2024-06-11 00:00:00 CEST"},
		{maxDisplay + 1, berlin, "unix 253402300800 (beyond year 9999)"},
	}
	for _, tt := range tests {
		if got := Absolute(tt.unix, tt.loc); got != tt.want {
			t.Errorf("Absolute(%d, %v) = %q, want %q", tt.unix, tt.loc, got, tt.want)
		}
	}
	if got, want := UTC(1718000000), "2024-06-10T06:13:20Z"; got != want {
		t.Errorf("UTC = %q, want %q", got, want)
	}
	if got, want := Clock(1718000000), "06:13:20 UTC"; got != want {
		t.Errorf("Clock = %q, want %q", got, want)
	}
	if got, want := UTC(math.MaxUint64), "unix 18446744073709551615 (beyond year 9999)"; got != want {
		t.Errorf("UTC(max) = %q, want %q", got, want)
	}
	if got := Time(math.MaxUint64); got.Unix() != math.MaxInt64 {
		t.Errorf("Time(max).Unix() = %d, want clamped to %d", got.Unix(), int64(math.MaxInt64))
	}
}

func TestOverdue(t *testing.T) {
	tests := []struct {
		expiredFor, period uint64
		want               string
	}{
		{0, 300, "expired just now · 0.0 periods"},
		{720, 300, "expired 12m ago · 2.4 periods"},
		{300, 300, "expired 5m ago · 1.0 periods"},
		{5, 0, "expired 5s ago"},
	}
	for _, tt := range tests {
		if got := Overdue(tt.expiredFor, tt.period); got != tt.want {
			t.Errorf("Overdue(%d, %d) = %q, want %q", tt.expiredFor, tt.period, got, tt.want)
		}
	}
}
