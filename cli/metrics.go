package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/metrics"
	"github.com/leasectl/leasectl/stores"
)

// metricsFlags are the metrics command's own flags.
type metricsFlags struct {
	listen string
	poll   time.Duration
}

func newMetricsCmd(env Env, g *globals) *cobra.Command {
	f := &metricsFlags{}
	cmd := &cobra.Command{
		Use:   "metrics --listen ADDR",
		Short: "Export the configured stores' leases to Prometheus at /metrics",
		Long: `metrics is a headless Prometheus exporter: it follows every configured store
(or those --store names) through its watch, or lists it every --poll-interval
when it has none, and serves at ` + metrics.Path + ` per store: up, the data's
age, leases by state and by flag (overdue and unfinished included), and, for
stores whose config says metrics: {per_lease: true}, series per lease key.
Each scrape classifies the leases at its own clock and asks no store
anything. The series are described in the README (Metrics).

It never writes and needs no session: it exports counts, times and key
names, never values, holders or secrets. Without a configuration it exports
the demo fleet. It prints the URL it serves once, and stops on an interrupt
(SIGINT, SIGTERM) with status 0.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMetrics(cmd.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to serve "+metrics.Path+" on (host:port; port 0 picks a free one); required")
	fl.DurationVar(&f.poll, "poll-interval", metrics.DefaultPollInterval, fmt.Sprintf("how often to list a store that cannot be watched (%v to %v)", metrics.MinPollInterval, metrics.MaxPollInterval))
	return cmd
}

// runMetrics serves the metrics until ctx ends (an interrupt), then stops
// the server and the collector, and closes the stores.
func runMetrics(ctx context.Context, env Env, g *globals, f *metricsFlags) error {
	if f.listen == "" {
		return usageErrorf("metrics: --listen ADDR is required (e.g. --listen 127.0.0.1:9477)")
	}
	if f.poll < metrics.MinPollInterval || f.poll > metrics.MaxPollInterval {
		return usageErrorf("metrics: --poll-interval %v: want %v to %v", f.poll, metrics.MinPollInterval, metrics.MaxPollInterval)
	}
	list, stop, note, err := metricsSetup(ctx, env, g)
	if err != nil {
		return err
	}
	defer stop()
	c, err := newCollector(env, g, list, "leasectl metrics:", metrics.WithPollInterval(f.poll))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("metrics: %w", err)}
	}
	defer ln.Close()
	stopCollector := runCollector(ctx, c)
	defer stopCollector()

	mux := http.NewServeMux()
	mux.Handle("GET "+metrics.Path, c.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "leasectl metrics: the series are at "+metrics.Path+"\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(env.Stderr, "leasectl metrics: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(env.Stdout, "leasectl metrics: serving http://%s%s\n", ln.Addr(), metrics.Path)
	if note != "" {
		fmt.Fprintln(env.Stdout, "leasectl metrics:", note)
	}

	select {
	case err := <-served:
		return &exitError{ExitError, fmt.Errorf("metrics: %w", err)}
	case <-ctx.Done():
	}
	fmt.Fprintln(env.Stderr, "leasectl metrics: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return &exitError{ExitError, fmt.Errorf("metrics: shutdown: %w", err)}
	}
	return nil
}

// metricsSetup returns the stores to export: those of the configuration
// that --store selects, or, without any configuration, the demo fleet
// (started here; stop stops it).
func metricsSetup(ctx context.Context, env Env, g *globals) (list []metrics.Store, stop func(), note string, err error) {
	c, sel, err := loadSelected(g)
	if err != nil {
		return nil, nil, "", err
	}
	if c != nil {
		return metricStores(sel), func() {}, "", nil
	}
	// The fleet runs until stop, not until the start-up's context ends.
	store, stopDemo, err := startDemo(context.WithoutCancel(ctx), env)
	if err != nil {
		return nil, nil, "", err
	}
	return []metrics.Store{demoMetricStore(store)}, stopDemo, "exporting the demo (no configuration found)", nil
}

// metricStores are the configured stores sel as the collector follows
// them: opened read-only (it never writes), per lease where the config
// says so.
func metricStores(sel []config.Store) []metrics.Store {
	list := make([]metrics.Store, 0, len(sel))
	for _, s := range sel {
		list = append(list, metrics.Store{Name: s.Name, Prefix: s.Prefix, PerLease: s.Metrics.PerLease,
			Open: func(ctx context.Context) (stores.Store, func() error, error) {
				st, closeFn, err := config.Open(ctx, s)
				if err != nil {
					return nil, nil, err
				}
				return stores.ReadOnly(st), closeFn, nil
			}})
	}
	return list
}

// demoMetricStore is the demo's store, per lease (it has a handful of
// keys); the demo's own stop closes it.
func demoMetricStore(st stores.Store) metrics.Store {
	return metrics.Store{Name: demo.StoreName, PerLease: true,
		Open: func(context.Context) (stores.Store, func() error, error) { return stores.ReadOnly(st), nil, nil }}
}

// newCollector builds the collector of list, bounding each store call by
// --timeout, on the command's clock, logging on stderr after prefix.
func newCollector(env Env, g *globals, list []metrics.Store, prefix string, opts ...metrics.Option) (*metrics.Collector, error) {
	opts = append([]metrics.Option{
		metrics.WithCallTimeout(g.timeout),
		metrics.WithClock(env.now),
		metrics.WithLog(func(msg string) { fmt.Fprintln(env.Stderr, prefix, msg) }),
	}, opts...)
	c, err := metrics.New(list, opts...)
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	return c, nil
}

// runCollector runs c until the returned stop is called (not until ctx
// ends: the server answers scrapes until it is shut down); stop returns
// once c has closed its stores.
func runCollector(ctx context.Context, c *metrics.Collector) (stop func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(rctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
