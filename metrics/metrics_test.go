package metrics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// waitFor bounds the wait for the collector to reach a state: it follows
// real stores in the background.
const waitFor = 30 * time.Second

// start runs a collector of list with opts until the test ends.
func start(t *testing.T, list []Store, opts ...Option) *Collector {
	t.Helper()
	c, err := New(list, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

// opened is a Store entry that opens st (nothing to close).
func opened(name, prefix string, perLease bool, st stores.Store) Store {
	return Store{Name: name, Prefix: prefix, PerLease: perLease,
		Open: func(context.Context) (stores.Store, func() error, error) { return st, nil, nil }}
}

// scrape gathers c through a pedantic registry, lints what it gathered
// (failing t on any problem) and returns every sample as
// `name{label="value",…}` (labels sorted by name) → value.
func scrape(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("Register: %v", err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return samples(mfs)
}

func samples(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// waitScrape scrapes c until ok accepts the samples, failing t after
// waitFor.
func waitScrape(t *testing.T, c prometheus.Collector, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := scrape(t, c)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scrape shows %s within %v; last:\n%s", what, waitFor, dump(s))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dump(s map[string]float64) string {
	lines := make([]string, 0, len(s))
	for k, v := range s {
		lines = append(lines, fmt.Sprintf("%s %g", k, v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func up(store string) func(map[string]float64) bool {
	return func(s map[string]float64) bool { return s[fmt.Sprintf("leasectl_store_up{store=%q}", store)] == 1 }
}

// want checks samples: each name{labels} → value; a NaN-free check, so a
// missing sample is reported as missing.
func want(t *testing.T, s map[string]float64, w map[string]float64) {
	t.Helper()
	for k, v := range w {
		got, ok := s[k]
		switch {
		case !ok:
			t.Errorf("%s missing", k)
		case got != v:
			t.Errorf("%s = %g, want %g", k, got, v)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", dump(s))
	}
}

// absent checks that none of the samples is there.
func absent(t *testing.T, s map[string]float64, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := s[k]; ok {
			t.Errorf("%s = %g, want no such series", k, v)
		}
	}
}

// fleet is a hand-built set of lease records at now, one per situation.
type fleet struct {
	now time.Time
}

func unix(t time.Time) uint64 { return uint64(t.Unix()) }

func ptr(v uint64) *uint64 { return &v }

// records are the planted keys (under prefix) and their values.
func (f fleet) records(prefix string) map[string][]byte {
	now := f.now
	rec := func(acquired, expires time.Duration, completed *time.Duration) []byte {
		r := lease.Record{HolderID: "node-a", AcquiredAtUnix: unix(now.Add(acquired)), ExpiresAtUnix: unix(now.Add(expires))}
		if completed != nil {
			r.CompletedCursorHex = "2a"
			r.CompletedAtUnix = ptr(unix(now.Add(*completed)))
		}
		return r.Encode()
	}
	done := -25 * time.Minute
	doneHeld := -time.Minute
	return map[string][]byte{
		// Held, mid-round: acquired 2m ago, 5m period.
		prefix + "held": rec(-2*time.Minute, 3*time.Minute, nil),
		// Held and completed a minute ago.
		prefix + "held-done": rec(-2*time.Minute, 3*time.Minute, &doneHeld),
		// Expired 2m ago, never completed: unfinished, not overdue.
		prefix + "unfinished": rec(-12*time.Minute, -2*time.Minute, nil),
		// Acquired 30m ago, expired 20m ago: a 10m period, expired for
		// two: overdue (and unfinished).
		prefix + "overdue": rec(-30*time.Minute, -20*time.Minute, nil),
		// Overdue but its round completed.
		prefix + "overdue-done": rec(-30*time.Minute, -20*time.Minute, &done),
		prefix + "tombstone":    {},
		prefix + "corrupt":      []byte(`{"holder_id":`),
	}
}

func plant(t *testing.T, st stores.Store, values map[string][]byte) {
	t.Helper()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, err := st.Create(t.Context(), k, values[k]); err != nil {
			t.Fatalf("Create(%q) = %v", k, err)
		}
	}
}

// checkFleet checks the series of a store holding fleet{now}.records(prefix)
// scraped at about now (within a minute: the boundaries are minutes away).
func checkFleet(t *testing.T, s map[string]float64, store, prefix string, f fleet, perLease bool) {
	t.Helper()
	l := func(name string, labels ...string) string {
		pairs := []string{fmt.Sprintf("store=%q", store)}
		for i := 0; i < len(labels); i += 2 {
			pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
		}
		slices.Sort(pairs)
		return name + "{" + strings.Join(pairs, ",") + "}"
	}
	w := map[string]float64{
		l("leasectl_store_up"):                             1,
		l("leasectl_store_data_age_seconds"):               0,
		l("leasectl_leases", "state", "held"):              2,
		l("leasectl_leases", "state", "expired"):           3,
		l("leasectl_leases", "state", "tombstone"):         1,
		l("leasectl_leases", "state", "corrupt"):           1,
		l("leasectl_leases_flagged", "flag", "completed"):  2,
		l("leasectl_leases_flagged", "flag", "skewed"):     0,
		l("leasectl_leases_flagged", "flag", "overdue"):    2,
		l("leasectl_leases_flagged", "flag", "unfinished"): 2,
	}
	key := func(name, k string) string { return l(name, "key", prefix+k) }
	if perLease {
		maps := map[string]float64{
			key("leasectl_lease_overdue", "overdue"):                               1,
			key("leasectl_lease_unfinished", "overdue"):                            1,
			key("leasectl_lease_overdue", "overdue-done"):                          1,
			key("leasectl_lease_unfinished", "overdue-done"):                       0,
			key("leasectl_lease_overdue", "unfinished"):                            0,
			key("leasectl_lease_unfinished", "unfinished"):                         1,
			key("leasectl_lease_overdue", "held"):                                  0,
			key("leasectl_lease_unfinished", "held"):                               0,
			key("leasectl_lease_overdue", "tombstone"):                             0,
			key("leasectl_lease_overdue", "corrupt"):                               0,
			key("leasectl_lease_acquired_timestamp_seconds", "overdue"):            float64(unix(f.now.Add(-30 * time.Minute))),
			key("leasectl_lease_expires_timestamp_seconds", "overdue"):             float64(unix(f.now.Add(-20 * time.Minute))),
			key("leasectl_lease_period_seconds", "overdue"):                        600,
			key("leasectl_lease_period_seconds", "held"):                           300,
			key("leasectl_lease_last_completed_timestamp_seconds", "overdue-done"): float64(unix(f.now.Add(-25 * time.Minute))),
			key("leasectl_lease_last_completed_timestamp_seconds", "held-done"):    float64(unix(f.now.Add(-time.Minute))),
		}
		for k, v := range maps {
			w[k] = v
		}
		absent(t, s,
			key("leasectl_lease_last_completed_timestamp_seconds", "held"),
			key("leasectl_lease_expires_timestamp_seconds", "tombstone"),
			key("leasectl_lease_expires_timestamp_seconds", "corrupt"),
			key("leasectl_lease_period_seconds", "tombstone"))
	} else {
		absent(t, s, key("leasectl_lease_overdue", "overdue"), key("leasectl_lease_expires_timestamp_seconds", "held"))
	}
	want(t, s, w)
}

func TestCollectMemory(t *testing.T) {
	for _, perLease := range []bool{false, true} {
		t.Run(fmt.Sprintf("per_lease=%v", perLease), func(t *testing.T) {
			st := memory.New()
			f := fleet{now: time.Now()}
			plant(t, st, f.records("exports/"))
			plant(t, st, map[string][]byte{"elsewhere/held": fleet{now: time.Now()}.records("")["held"]})
			c := start(t, []Store{opened("mem", "exports/", perLease, st)})
			s := waitScrape(t, c, "the store up", up("mem"))
			checkFleet(t, s, "mem", "exports/", f, perLease)
		})
	}
}

// clock is a settable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestScrapeClock: flags follow the scrape's clock, with nothing written
// to the store: a held lease becomes expired, then overdue exactly when it
// has been expired for longer than one period.
func TestScrapeClock(t *testing.T) {
	st := memory.New()
	t0 := time.Unix(1_800_000_000, 0)
	r := lease.Record{HolderID: "node-a", AcquiredAtUnix: unix(t0), ExpiresAtUnix: unix(t0.Add(5 * time.Minute))}
	plant(t, st, map[string][]byte{"k": r.Encode()})
	clk := &clock{now: t0}
	c := start(t, []Store{opened("m", "", true, st)}, WithClock(clk.Now))
	waitScrape(t, c, "the store up", up("m"))
	for _, tc := range []struct {
		name                string
		at                  time.Duration
		held, expired       float64
		overdue, unfinished float64
	}{
		{"acquired", 0, 1, 0, 0, 0},
		{"last live second", 5*time.Minute - time.Second, 1, 0, 0, 0},
		{"expiry", 5 * time.Minute, 0, 1, 0, 1},
		{"one period expired", 10 * time.Minute, 0, 1, 0, 1},
		{"past one period", 10*time.Minute + time.Second, 0, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(t0.Add(tc.at))
			want(t, scrape(t, c), map[string]float64{
				`leasectl_leases{state="held",store="m"}`:           tc.held,
				`leasectl_leases{state="expired",store="m"}`:        tc.expired,
				`leasectl_leases_flagged{flag="overdue",store="m"}`: tc.overdue,
				`leasectl_lease_overdue{key="k",store="m"}`:         tc.overdue,
				`leasectl_lease_unfinished{key="k",store="m"}`:      tc.unfinished,
			})
		})
	}
}

// TestLiveChanges: changes after the snapshot reach the next scrape, and
// per-lease series remember the last completion and the period across
// rounds and a release.
func TestLiveChanges(t *testing.T) {
	st := memory.New()
	ctx := t.Context()
	now := time.Now()
	completed := unix(now.Add(-time.Minute))
	r1 := lease.Record{HolderID: "a", AcquiredAtUnix: unix(now.Add(-2 * time.Minute)), ExpiresAtUnix: unix(now.Add(3 * time.Minute)),
		CompletedCursorHex: "01", CompletedAtUnix: &completed}
	rev, err := st.Create(ctx, "k", r1.Encode())
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, []Store{opened("m", "", true, st)})
	waitScrape(t, c, "the completion", func(s map[string]float64) bool {
		return s[`leasectl_lease_last_completed_timestamp_seconds{key="k",store="m"}`] == float64(completed)
	})

	// A new round, not completed yet: the last completion stays.
	r2 := lease.Record{HolderID: "b", AcquiredAtUnix: unix(now), ExpiresAtUnix: unix(now.Add(10 * time.Minute))}
	if rev, err = st.Update(ctx, "k", r2.Encode(), rev); err != nil {
		t.Fatal(err)
	}
	s := waitScrape(t, c, "the new round", func(s map[string]float64) bool {
		return s[`leasectl_lease_acquired_timestamp_seconds{key="k",store="m"}`] == float64(unix(now))
	})
	want(t, s, map[string]float64{
		`leasectl_lease_last_completed_timestamp_seconds{key="k",store="m"}`: float64(completed),
		`leasectl_lease_period_seconds{key="k",store="m"}`:                   600,
	})

	// Released: a tombstone keeps the period and the completion.
	if _, err = st.Update(ctx, "k", []byte{}, rev); err != nil {
		t.Fatal(err)
	}
	s = waitScrape(t, c, "the tombstone", func(s map[string]float64) bool {
		return s[`leasectl_leases{state="tombstone",store="m"}`] == 1
	})
	want(t, s, map[string]float64{
		`leasectl_lease_last_completed_timestamp_seconds{key="k",store="m"}`: float64(completed),
		`leasectl_lease_period_seconds{key="k",store="m"}`:                   600,
		`leasectl_lease_overdue{key="k",store="m"}`:                          0,
	})
	absent(t, s, `leasectl_lease_acquired_timestamp_seconds{key="k",store="m"}`)

	// Deleted: every series of the key goes.
	if err := st.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	s = waitScrape(t, c, "the key gone", func(s map[string]float64) bool {
		_, ok := s[`leasectl_lease_overdue{key="k",store="m"}`]
		return !ok
	})
	absent(t, s, `leasectl_lease_last_completed_timestamp_seconds{key="k",store="m"}`, `leasectl_lease_period_seconds{key="k",store="m"}`)
	want(t, s, map[string]float64{`leasectl_leases{state="tombstone",store="m"}`: 0})
}

// TestKeyLabels: keys that are not valid UTF-8 or hold control characters
// become label values as the console shows them, and the scrape lints.
func TestKeyLabels(t *testing.T) {
	st := memory.New()
	plant(t, st, map[string][]byte{"k/\xff": {}, "k/\x1b[2J": {}, "k/plain": {}})
	c := start(t, []Store{opened("m", "", true, st)})
	s := waitScrape(t, c, "the store up", up("m"))
	want(t, s, map[string]float64{
		`leasectl_lease_overdue{key="\"k/\\xff\"",store="m"}`:    0,
		`leasectl_lease_overdue{key="\"k/\\x1b[2J\"",store="m"}`: 0,
		`leasectl_lease_overdue{key="k/plain",store="m"}`:        0,
	})
}

// unwatched hides every optional capability of the store it holds.
type unwatched struct{ stores.Store }

// TestPolled: a store without a watch is listed every poll interval; its
// data age is the time since the last listing began.
func TestPolled(t *testing.T) {
	st := memory.New()
	f := fleet{now: time.Now()}
	plant(t, st, f.records(""))
	var inner stores.Store = unwatched{st}
	if _, ok := stores.AsWatcher(inner); ok {
		t.Fatal("unwatched still watches")
	}
	c := start(t, []Store{opened("p", "", true, inner)}, WithPollInterval(time.Second))
	s := waitScrape(t, c, "the store up", up("p"))
	if age := s[`leasectl_store_data_age_seconds{store="p"}`]; age < 0 || age > 60 {
		t.Errorf("data age %g s, want the time since the listing", age)
	}
	delete(s, `leasectl_store_data_age_seconds{store="p"}`)
	s[`leasectl_store_data_age_seconds{store="p"}`] = 0 // checked above
	checkFleet(t, s, "p", "", f, true)

	// A change shows at the next listing.
	if err := st.Delete(t.Context(), "corrupt"); err != nil {
		t.Fatal(err)
	}
	waitScrape(t, c, "the next listing", func(s map[string]float64) bool {
		return s[`leasectl_leases{state="corrupt",store="p"}`] == 0
	})
}

// TestDown: a store that cannot be opened is not up, its failures count,
// and its data age grows from the start; once it opens, it is up.
func TestDown(t *testing.T) {
	st := memory.New()
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	plant(t, st, fleet{now: clk.Now()}.records(""))
	var mu sync.Mutex
	failing := true
	open := func(context.Context) (stores.Store, func() error, error) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return nil, nil, fmt.Errorf("dial: connection refused")
		}
		return st, nil, nil
	}
	var logMu sync.Mutex
	var logged []string
	c := start(t, []Store{{Name: "d", Open: open}}, WithClock(clk.Now), WithLog(func(s string) {
		logMu.Lock()
		defer logMu.Unlock()
		logged = append(logged, s)
	}))
	s := waitScrape(t, c, "a failure", func(s map[string]float64) bool { return s[`leasectl_store_errors_total{store="d"}`] >= 1 })
	clk.Set(clk.Now().Add(42 * time.Second))
	s = scrape(t, c)
	want(t, s, map[string]float64{
		`leasectl_store_up{store="d"}`:               0,
		`leasectl_store_data_age_seconds{store="d"}`: 42,
		`leasectl_leases{state="held",store="d"}`:    0,
	})
	mu.Lock()
	failing = false
	mu.Unlock()
	s = waitScrape(t, c, "the store up", up("d"))
	want(t, s, map[string]float64{`leasectl_leases{state="held",store="d"}`: 2, `leasectl_store_data_age_seconds{store="d"}`: 0})
	logMu.Lock()
	defer logMu.Unlock()
	wantLog := []string{"store d: not current: open: dial: connection refused", "store d: current again"}
	if !slices.Equal(logged, wantLog) {
		t.Errorf("logged %q, want %q", logged, wantLog)
	}
}

func TestNewErrors(t *testing.T) {
	ok := opened("a", "", false, memory.New())
	for _, tc := range []struct {
		name string
		list []Store
		opts []Option
		want string
	}{
		{"no name", []Store{{Open: ok.Open}}, nil, "needs a name"},
		{"no open", []Store{{Name: "a"}}, nil, "nil Open"},
		{"twice", []Store{ok, ok}, nil, "listed twice"},
		{"poll too short", []Store{ok}, []Option{WithPollInterval(time.Millisecond)}, "poll interval"},
		{"poll too long", []Store{ok}, []Option{WithPollInterval(time.Hour)}, "poll interval"},
		{"timeout", []Store{ok}, []Option{WithCallTimeout(0)}, "call timeout"},
		{"clock", []Store{ok}, []Option{WithClock(nil)}, "nil clock"},
		{"per-lease limit", []Store{ok}, []Option{WithPerLeaseLimit(0)}, "per-lease limit"},
		{"thresholds", []Store{ok}, []Option{WithThresholds(lease.Thresholds{SkewTolerance: -1})}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.list, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a collector of no stores collects %d series", n)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("CollectAndLint = %v, %v", problems, err)
	}
}

// TestReleasedOverdue: a key released (or corrupted) after its last round
// is judged by the record it held before, as lease.AssessHistory does: a
// fleet that released its round and stopped is overdue, not unfinished.
func TestReleasedOverdue(t *testing.T) {
	st := memory.New()
	ctx := t.Context()
	t0 := time.Unix(1_800_000_000, 0)
	r := lease.Record{HolderID: "a", AcquiredAtUnix: unix(t0.Add(-30 * time.Minute)), ExpiresAtUnix: unix(t0.Add(-20 * time.Minute))}
	revs := map[string]uint64{}
	for _, k := range []string{"released", "corrupted"} {
		rev, err := st.Create(ctx, k, r.Encode())
		if err != nil {
			t.Fatal(err)
		}
		revs[k] = rev
	}
	clk := &clock{now: t0}
	c := start(t, []Store{opened("m", "", true, st)}, WithClock(clk.Now))
	waitScrape(t, c, "the store up", up("m"))
	if _, err := st.Update(ctx, "released", []byte{}, revs["released"]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, "corrupted", []byte("{"), revs["corrupted"]); err != nil {
		t.Fatal(err)
	}
	s := waitScrape(t, c, "the release", func(s map[string]float64) bool {
		return s[`leasectl_leases{state="tombstone",store="m"}`] == 1 && s[`leasectl_leases{state="corrupt",store="m"}`] == 1
	})
	want(t, s, map[string]float64{
		`leasectl_lease_overdue{key="released",store="m"}`:        1,
		`leasectl_lease_unfinished{key="released",store="m"}`:     0,
		`leasectl_lease_overdue{key="corrupted",store="m"}`:       1,
		`leasectl_leases_flagged{flag="overdue",store="m"}`:       2,
		`leasectl_leases_flagged{flag="unfinished",store="m"}`:    0,
		`leasectl_lease_period_seconds{key="released",store="m"}`: 600,
	})
	// Not yet overdue at the record's first overdue second minus one.
	clk.Set(time.Unix(int64(lease.OverdueAt(r, lease.DefaultThresholds()))-1, 0))
	want(t, scrape(t, c), map[string]float64{`leasectl_leases_flagged{flag="overdue",store="m"}`: 0})
}

// TestPerLeaseLimit: a per_lease store with more keys than the limit
// exports its per-store series only, and says why.
func TestPerLeaseLimit(t *testing.T) {
	st := memory.New()
	f := fleet{now: time.Now()}
	plant(t, st, f.records(""))
	var mu sync.Mutex
	var logged []string
	c := start(t, []Store{opened("big", "", true, st), opened("small", "tomb", true, st), opened("counts", "", false, st)}, WithPerLeaseLimit(3),
		WithLog(func(s string) {
			mu.Lock()
			defer mu.Unlock()
			logged = append(logged, s)
		}))
	s := waitScrape(t, c, "the stores up", func(s map[string]float64) bool {
		return up("big")(s) && up("small")(s) && up("counts")(s)
	})
	want(t, s, map[string]float64{
		`leasectl_store_per_lease_limited{store="big"}`:         1,
		`leasectl_store_per_lease_limited{store="small"}`:       0,
		`leasectl_lease_overdue{key="tombstone",store="small"}`: 0,
		`leasectl_leases_flagged{flag="overdue",store="big"}`:   2,
	})
	absent(t, s, `leasectl_lease_overdue{key="overdue",store="big"}`, `leasectl_store_per_lease_limited{store="counts"}`)
	scrape(t, c) // said once, not at every scrape
	mu.Lock()
	defer mu.Unlock()
	wantLog := []string{"store big: 7 keys, over the per-lease limit of 3: its per-lease series are left out"}
	if !slices.Equal(logged, wantLog) {
		t.Errorf("logged %q, want %q", logged, wantLog)
	}
}
