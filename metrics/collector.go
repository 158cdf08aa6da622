package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

// Path is where the metrics are served, by `leasectl metrics` and by
// `leasectl serve --metrics`.
const Path = "/metrics"

// Store is one store the collector follows.
type Store struct {
	// Name is the store's configured name, the value of the store label.
	Name string
	// Prefix scopes the keys followed ("" for all).
	Prefix string
	// PerLease adds the per-lease series (one set per key) for this store.
	PerLease bool
	// Open opens the store; it is called again after a failure. The
	// function it returns closes the store (nil: nothing to close).
	Open func(ctx context.Context) (stores.Store, func() error, error)
}

// Defaults of the options.
const (
	// DefaultPollInterval is how often a store without a watch is listed,
	// and how long a watch that reported an error may stay silent before
	// it is restarted: Prometheus's own default scrape interval, so that
	// a scrape is rarely more than one listing behind.
	DefaultPollInterval = 15 * time.Second
	// MinPollInterval and MaxPollInterval bound the poll interval: a List
	// of a large prefix is not free, and data older than a few minutes is
	// no use to an alert.
	MinPollInterval = time.Second
	MaxPollInterval = 5 * time.Minute
	// DefaultCallTimeout bounds opening a store and each List, as the
	// command line's --timeout does.
	DefaultCallTimeout = 15 * time.Second
	// DefaultPerLeaseLimit is the most keys a store may hold for its
	// per-lease series to be exported: six series a key, so 60,000
	// series, which the client library takes about a second to serve. A
	// scrape of 100,000 keys would take 20 s and fail the scrape of
	// every series (Prometheus's default timeout is 10 s).
	DefaultPerLeaseLimit = 10_000
	// retryMin and retryMax bound the back-off between attempts to open a
	// store or start its watch.
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
)

type options struct {
	now         func() time.Time
	thresholds  lease.Thresholds
	poll        time.Duration
	callTimeout time.Duration
	retryMin    time.Duration
	retryMax    time.Duration
	logf        func(string)
	perLease    int
}

func (o *options) log(msg string) {
	if o.logf != nil {
		o.logf(safetext.Clean(msg))
	}
}

// Option configures a Collector.
type Option func(*options) error

// WithClock sets the clock of scrapes and of the data's age (time.Now by
// default).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("metrics: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithThresholds sets the thresholds of classification
// (lease.DefaultThresholds by default).
func WithThresholds(th lease.Thresholds) Option {
	return func(o *options) error {
		if th.SkewTolerance < 0 || th.MaxPeriod < 0 {
			return fmt.Errorf("metrics: negative threshold (skew tolerance %v, max period %v)", th.SkewTolerance, th.MaxPeriod)
		}
		o.thresholds = th
		return nil
	}
}

// WithPollInterval sets how often a store without a watch is listed, from
// MinPollInterval to MaxPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < MinPollInterval || d > MaxPollInterval {
			return fmt.Errorf("metrics: poll interval %v: want %v to %v", d, MinPollInterval, MaxPollInterval)
		}
		o.poll = d
		return nil
	}
}

// WithCallTimeout bounds opening a store and each List.
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("metrics: call timeout %v: want a positive duration", d)
		}
		o.callTimeout = d
		return nil
	}
}

// WithPerLeaseLimit sets the most keys a store may hold for its
// per-lease series to be exported (DefaultPerLeaseLimit by default); a
// store with more exports its per-store series only, and says so in
// leasectl_store_per_lease_limited.
func WithPerLeaseLimit(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("metrics: per-lease limit %d: want at least 1", n)
		}
		o.perLease = n
		return nil
	}
}

// WithLog receives one line when a store stops or starts being current,
// with the failure; nil discards. Lines are cleaned of control characters.
func WithLog(log func(string)) Option {
	return func(o *options) error {
		o.logf = log
		return nil
	}
}

// Collector is a prometheus.Collector over the configured stores (doc.go
// lists its series). Run follows the stores in the background; Collect
// classifies what they hold at the scrape's clock.
type Collector struct {
	opts      options
	followers []*follower
	flags     []flagName
	runOnce   sync.Once
}

// New returns a Collector of list; nothing is opened until Run.
func New(list []Store, opts ...Option) (*Collector, error) {
	c := &Collector{opts: options{now: time.Now, thresholds: lease.DefaultThresholds(), poll: DefaultPollInterval,
		callTimeout: DefaultCallTimeout, retryMin: retryMin, retryMax: retryMax, perLease: DefaultPerLeaseLimit}}
	for _, o := range opts {
		if err := o(&c.opts); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, s := range list {
		switch {
		case s.Name == "":
			return nil, errors.New("metrics: a store needs a name")
		case s.Open == nil:
			return nil, fmt.Errorf("metrics: store %q: nil Open", s.Name)
		case seen[s.Name]:
			return nil, fmt.Errorf("metrics: store %q listed twice", s.Name)
		}
		seen[s.Name] = true
		f := newFollower(s, &c.opts)
		// A scrape before Run starts counts the data's age from here.
		f.started = c.opts.now()
		c.followers = append(c.followers, f)
	}
	c.flags = flagNames()
	return c, nil
}

// Run follows every store until ctx ends, then closes the stores it opened
// and returns. A store that cannot be opened, or whose watch fails, is
// retried with back-off; until then its series say it is not up. Run runs
// once; a second call returns at once.
func (c *Collector) Run(ctx context.Context) {
	c.runOnce.Do(func() {
		var wg sync.WaitGroup
		now := c.opts.now()
		for _, f := range c.followers {
			f.mu.Lock()
			f.started = now
			f.mu.Unlock()
			wg.Go(func() { f.run(ctx) })
		}
		wg.Wait()
	})
}

// Handler serves the collector's series and the Go runtime's and the
// process's in the Prometheus exposition formats.
func (c *Collector) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

const namespace = "leasectl"

var (
	descUp = prometheus.NewDesc(namespace+"_store_up",
		"1 when the collector's copy of the store is known current: its watch has delivered a snapshot and nothing but changes since (a store without a watch: its last listing succeeded); 0 otherwise.",
		[]string{"store"}, nil)
	descAge = prometheus.NewDesc(namespace+"_store_data_age_seconds",
		"Seconds since the store's data was last known current (the watch lag): 0 while the watch is live; since the watch failed; since the last successful listing for a store without a watch; since the collector started before the first snapshot.",
		[]string{"store"}, nil)
	descErrors = prometheus.NewDesc(namespace+"_store_errors_total",
		"Failures following the store: opening it, starting or losing its watch, a watch error or reset, a failed listing.",
		[]string{"store"}, nil)
	descLeases = prometheus.NewDesc(namespace+"_leases",
		"Lease keys of the store by state (tombstone, held, expired, corrupt), classified at the scrape's clock.",
		[]string{"store", "state"}, nil)
	descFlagged = prometheus.NewDesc(namespace+"_leases_flagged",
		"Lease keys of the store with the flag set, at the scrape's clock; a key counts once per flag it has.",
		[]string{"store", "flag"}, nil)

	descLimited = prometheus.NewDesc(namespace+"_store_per_lease_limited",
		"For a store with per_lease series: 1 when it holds more keys than the per-lease limit, so that its per-lease series are left out; else 0.",
		[]string{"store"}, nil)

	descExpires = prometheus.NewDesc(namespace+"_lease_expires_timestamp_seconds",
		"The lease's expires_at_unix (per_lease stores; a valid record only).",
		[]string{"store", "key"}, nil)
	descAcquired = prometheus.NewDesc(namespace+"_lease_acquired_timestamp_seconds",
		"The lease's acquired_at_unix (per_lease stores; a valid record only).",
		[]string{"store", "key"}, nil)
	descCompleted = prometheus.NewDesc(namespace+"_lease_last_completed_timestamp_seconds",
		"The newest completed_at_unix the collector has seen for the key, in its current record or an earlier one (per_lease stores; absent until one is seen).",
		[]string{"store", "key"}, nil)
	descPeriod = prometheus.NewDesc(namespace+"_lease_period_seconds",
		"The period (expires_at_unix - acquired_at_unix, capped at the skew cap) of the newest valid record seen for the key (per_lease stores; absent until one is seen).",
		[]string{"store", "key"}, nil)
	descOverdue = prometheus.NewDesc(namespace+"_lease_overdue",
		"1 when the lease has been expired for longer than one period at the scrape's clock: no replica has started a round for a whole period; else 0 (per_lease stores).",
		[]string{"store", "key"}, nil)
	descUnfinished = prometheus.NewDesc(namespace+"_lease_unfinished",
		"1 when the lease is expired and its record was never completed: the round's winner crashed or overran; else 0 (per_lease stores).",
		[]string{"store", "key"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descAge, descErrors, descLeases, descFlagged, descLimited,
		descExpires, descAcquired, descCompleted, descPeriod, descOverdue, descUnfinished} {
		ch <- d
	}
}

// states are the states a followed key can be in: a watch or a listing
// never reports an absent key.
var states = []lease.State{lease.Tombstone, lease.Held, lease.Expired, lease.Corrupt}

// Collect implements prometheus.Collector: every store's series, from what
// its follower holds, each key classified at one clock reading.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.now()
	for _, f := range c.followers {
		c.collect(ch, f, now)
	}
}

func (c *Collector) collect(ch chan<- prometheus.Metric, f *follower, now time.Time) {
	name := f.conf.Name
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	th := c.opts.thresholds
	var byState [lease.Corrupt + 1]int
	flagged := make([]int, len(c.flags))

	f.mu.Lock()
	up := 0.0
	if f.live {
		up = 1
	}
	age := f.dataAgeLocked(now)
	errs := f.errors
	type perLease struct {
		key         string
		st          lease.Status
		flags       lease.Flags
		completedAt uint64
		period      time.Duration
	}
	var per []perLease
	limited := f.conf.PerLease && len(f.items) > c.opts.perLease
	if limited != f.limited {
		f.limited = limited
		if limited {
			c.opts.log(fmt.Sprintf("store %s: %d keys, over the per-lease limit of %d: its per-lease series are left out", name, len(f.items), c.opts.perLease))
		} else {
			c.opts.log(fmt.Sprintf("store %s: %d keys, within the per-lease limit again", name, len(f.items)))
		}
	}
	perKey := f.conf.PerLease && !limited
	if perKey {
		per = make([]perLease, 0, len(f.items))
	}
	for _, it := range f.items {
		st := lease.Classify(it.entry.Value, now, th)
		byState[st.State]++
		flags := st.Flags
		if it.prev != nil && !it.record {
			flags |= lease.AssessHistory([][]byte{it.prev, it.entry.Value}, now, th).Flags
		}
		for i, fl := range c.flags {
			if flags.Has(fl.bit) {
				flagged[i]++
			}
		}
		if perKey {
			per = append(per, perLease{key: it.entry.Key, st: st, flags: flags, completedAt: it.completedAt, period: it.period})
		}
	}
	f.mu.Unlock()

	gauge(descUp, up, name)
	gauge(descAge, age.Seconds(), name)
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(errs), name)
	for _, s := range states {
		gauge(descLeases, float64(byState[s]), name, s.String())
	}
	for i, fl := range c.flags {
		gauge(descFlagged, float64(flagged[i]), name, fl.name)
	}
	if f.conf.PerLease {
		gauge(descLimited, bit(limited), name)
	}
	for _, p := range per {
		key := keyLabel(p.key)
		if p.st.State == lease.Held || p.st.State == lease.Expired {
			gauge(descExpires, float64(p.st.Record.ExpiresAtUnix), name, key)
			gauge(descAcquired, float64(p.st.Record.AcquiredAtUnix), name, key)
		}
		if p.completedAt > 0 {
			gauge(descCompleted, float64(p.completedAt), name, key)
		}
		if p.period > 0 {
			gauge(descPeriod, p.period.Seconds(), name, key)
		}
		gauge(descOverdue, bit(p.flags.Has(lease.Overdue)), name, key)
		gauge(descUnfinished, bit(p.flags.Has(lease.Unfinished)), name, key)
	}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// keyLabel is a key as a label value: as safetext.Key shows it, so that it
// is valid UTF-8 free of control characters, and no two keys share one.
func keyLabel(key string) string { return safetext.Key(key) }

// flagName is one flag of the leases_flagged series.
type flagName struct {
	name string
	bit  lease.Flags
}

// flagNames lists every flag lease.Flags names, in its order.
func flagNames() []flagName {
	var out []flagName
	for _, n := range lease.AllFlags() {
		bit, err := lease.ParseFlag(n)
		if err != nil {
			panic(err) // AllFlags names only flags ParseFlag knows
		}
		out = append(out, flagName{name: n, bit: bit})
	}
	return out
}
