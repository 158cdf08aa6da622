package lease_test

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

func TestClassify(t *testing.T) {
	const now = 1718000100
	record := func(acquired, expires uint64, extra string) string {
		r := lease.Record{HolderID: "node-a", AcquiredAtUnix: acquired, ExpiresAtUnix: expires}
		s := string(r.Encode())
		return s[:len(s)-1] + extra + "}"
	}
	tests := []struct {
		name  string
		value string
		th    lease.Thresholds
		state lease.State
		flags []string
	}{
		{"tombstone", "", lease.DefaultThresholds(), lease.Tombstone, []string{}},
		{"whitespace is not a tombstone", " ", lease.DefaultThresholds(), lease.Corrupt, []string{}},
		{"corrupt has no flags", `{"holder_id":"a","completed_cursor_hex":"2a"}`, lease.DefaultThresholds(), lease.Corrupt, []string{}},
		{"live", record(now-100, now+200, ""), lease.DefaultThresholds(), lease.Held, []string{}},
		{"expires one second later", record(now-100, now+1, ""), lease.DefaultThresholds(), lease.Held, []string{}},
		{"expires now", record(now-100, now, ""), lease.DefaultThresholds(), lease.Expired, []string{"unfinished"}},
		{"expired", record(now-400, now-100, ""), lease.DefaultThresholds(), lease.Expired, []string{"unfinished"}},
		{"overdue", record(now-700, now-401, ""), lease.DefaultThresholds(), lease.Expired, []string{"overdue", "unfinished"}},
		{"expired a period ago", record(now-600, now-300, `,"completed_cursor_hex":"2a"`), lease.DefaultThresholds(), lease.Expired, []string{"completed"}},
		{"completed overdue", record(now-601, now-301, `,"completed_cursor_hex":"2a"`), lease.DefaultThresholds(), lease.Expired, []string{"completed", "overdue"}},
		{"completed expired", record(now-400, now-100, `,"completed_cursor_hex":"2a","completed_at_unix":1`), lease.DefaultThresholds(), lease.Expired, []string{"completed"}},
		{"empty cursor is not completed", record(now-400, now-100, `,"completed_cursor_hex":"","completed_at_unix":1`), lease.DefaultThresholds(), lease.Expired, []string{"unfinished"}},
		{"acquired at the tolerance", record(now+30, now+330, ""), lease.DefaultThresholds(), lease.Held, []string{}},
		{"acquired past the tolerance", record(now+31, now+331, ""), lease.DefaultThresholds(), lease.Held, []string{"skewed"}},
		{"expires before acquired", record(now-10, now-20, ""), lease.DefaultThresholds(), lease.Expired, []string{"skewed", "overdue", "unfinished"}},
		{"period at the cap", record(now, now+86400, ""), lease.DefaultThresholds(), lease.Held, []string{}},
		{"period over the cap", record(now, now+86401, ""), lease.DefaultThresholds(), lease.Held, []string{"skewed"}},
		{"completed and skewed", record(now+3600, now+3900, `,"completed_cursor_hex":"00"`), lease.DefaultThresholds(), lease.Held, []string{"completed", "skewed"}},
		{"tighter thresholds", record(now+5, now+65, ""), lease.Thresholds{SkewTolerance: 4 * time.Second, MaxPeriod: time.Hour}, lease.Held, []string{"skewed"}},
		{"tighter cap", record(now, now+61, ""), lease.Thresholds{SkewTolerance: 0, MaxPeriod: time.Minute}, lease.Held, []string{"skewed"}},
		{"zero thresholds", record(now, now, ""), lease.Thresholds{}, lease.Expired, []string{"unfinished"}},
		{"max expiry", record(now, math.MaxUint64, ""), lease.DefaultThresholds(), lease.Held, []string{"skewed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := lease.Classify([]byte(tt.value), time.Unix(now, 0), tt.th)
			if st.State != tt.state {
				t.Errorf("Classify(%q).State = %v (%s), want %v", tt.value, st.State, st.Reason, tt.state)
			}
			if got := st.Flags.Strings(); !slices.Equal(got, tt.flags) {
				t.Errorf("Classify(%q).Flags = %q, want %q", tt.value, got, tt.flags)
			}
			if (st.State == lease.Corrupt) != (st.Reason != "") {
				t.Errorf("Classify(%q) = state %v with reason %q", tt.value, st.State, st.Reason)
			}
			if st.State == lease.Held || st.State == lease.Expired {
				if st.Record.HolderID != "node-a" {
					t.Errorf("Classify(%q).Record = %+v, want the decoded record", tt.value, st.Record)
				}
			}
		})
	}
}

func TestClassifyEntry(t *testing.T) {
	now := time.Unix(1718000100, 0)
	if st := lease.ClassifyEntry(stores.Entry{}, false, now, lease.DefaultThresholds()); st.State != lease.Absent {
		t.Errorf("ClassifyEntry(not found).State = %v, want absent", st.State)
	}
	e := stores.Entry{Key: "k", Value: []byte(specFresh), Revision: 3}
	if st := lease.ClassifyEntry(e, true, now, lease.DefaultThresholds()); st.State != lease.Held {
		t.Errorf("ClassifyEntry(%s).State = %v, want held", e.Value, st.State)
	}
	e.Value = []byte{}
	if st := lease.ClassifyEntry(e, true, now, lease.DefaultThresholds()); st.State != lease.Tombstone {
		t.Errorf("ClassifyEntry(empty).State = %v, want tombstone", st.State)
	}
}

func TestStateNames(t *testing.T) {
	want := map[lease.State]string{
		lease.Absent: "absent", lease.Tombstone: "tombstone", lease.Held: "held",
		lease.Expired: "expired", lease.Corrupt: "corrupt", 0: "State(0)",
	}
	for s, name := range want {
		if got := s.String(); got != name {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, name)
		}
	}
	b, err := json.Marshal(struct{ S lease.State }{lease.Held})
	if err != nil || string(b) != `{"S":"held"}` {
		t.Errorf("json.Marshal(Held) = %s, %v; want {\"S\":\"held\"}", b, err)
	}
	if _, err := json.Marshal(lease.State(0)); err == nil {
		t.Error("json.Marshal(State(0)) succeeded, want an error")
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		f    lease.Flags
		want []string
	}{
		{0, []string{}},
		{lease.Completed, []string{"completed"}},
		{lease.Skewed, []string{"skewed"}},
		{lease.Skewed | lease.Completed, []string{"completed", "skewed"}},
	}
	for _, tt := range tests {
		if got := tt.f.Strings(); got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("Flags(%d).Strings() = %#v, want %q", tt.f, got, tt.want)
		}
	}
	if got := (lease.Completed | lease.Skewed).String(); got != "completed,skewed" {
		t.Errorf("String() = %q, want completed,skewed", got)
	}
}

func TestUnixSeconds(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want uint64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"truncated", time.Unix(1718000000, 999_999_999), 1718000000},
		{"just before the epoch", time.Unix(-1, 999_999_999), 0},
		{"pre-epoch", time.Unix(-1_000_000, 0), 0},
		{"zero time", time.Time{}, 0},
		{"far future", time.Unix(math.MaxInt64, 0), math.MaxInt64},
		{"other zone", time.Unix(1718000000, 0).In(time.FixedZone("x", -7*3600)), 1718000000},
	}
	for _, tt := range tests {
		if got := lease.UnixSeconds(tt.t); got != tt.want {
			t.Errorf("UnixSeconds(%s: %v) = %d, want %d", tt.name, tt.t, got, tt.want)
		}
	}
}
