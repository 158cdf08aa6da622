package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/gateway"
	"github.com/leasectl/leasectl/metrics"
	"github.com/leasectl/leasectl/site"
	"github.com/leasectl/leasectl/stores"
)

// defaultListen is where serve listens without --listen or serve.listen:
// loopback, so that nothing off this machine reaches it unless asked.
const defaultListen = "127.0.0.1:8080"

// insecureFlag lets serve listen beyond loopback without TLS. Its name says
// what it does, so that nobody passes it by accident or leaves it in a
// unit file without noticing.
const insecureFlag = "insecure-plaintext-non-loopback"

// Server time-outs (no slowloris): a request's headers and body are small
// and must arrive promptly; answers (a listing of 100,000 keys) get longer;
// an event stream lifts both deadlines for itself, write by write.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownGrace is how long a stopping server waits for actions in
	// flight: they are bounded by --timeout, and their audit lines must be
	// written.
	shutdownGrace = 5 * time.Second
)

// serveFlags are serve's own flags.
type serveFlags struct {
	listen          string
	tlsCert, tlsKey string
	insecure        bool
	metrics         bool
}

func newServeCmd(env Env, g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the console in a browser, on the configured stores (or the demo)",
		Long: `serve runs the browser console's gateway: one origin serving the page and
an API under /api/v1/ on the configured stores. It prints the URL to open; with
no serve.operators configured, the URL carries a one-time token (after #, so
that no proxy logs it) that the page exchanges for a session.

Every write is an operator action (acquire, takeover, release) run on this
server through the same lease code as the terminal, audited to this server's
audit log, as the session's operator. --read-only, a store's read_only and an
operator's read_only are enforced here. Without a configuration, serve serves
the demo fleet.

--metrics (or serve.metrics in the config) also serves the stores' metrics
at /metrics, without a session: Prometheus cannot log in, and the metrics
hold counts, times and key names, never values (see leasectl metrics).

The default address is ` + defaultListen + `. An address beyond loopback needs
--tls-cert and --tls-key, or --` + insecureFlag + `.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("listen") {
				f.listen = ""
			}
			return runServe(cmd.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", defaultListen, "address to listen on (host:port; port 0 picks a free one); default serve.listen, then "+defaultListen)
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	fl.BoolVar(&f.insecure, insecureFlag, false, "allow plain HTTP on an address beyond loopback: tokens and sessions cross the network in clear")
	fl.BoolVar(&f.metrics, "metrics", false, "also serve the stores' metrics at "+metrics.Path+", without a session, for Prometheus (default serve.metrics)")
	return cmd
}

// served is what the gateway serves, and how to stop what it started.
type served struct {
	cfg    gateway.Config
	listen string // serve.listen
	stop   func()
	note   string // printed under the URL
	// metrics are the stores /metrics exports; metricsOn is serve.metrics.
	metrics   []metrics.Store
	metricsOn bool
}

// runServe serves until ctx ends (an interrupt), then shuts down: event
// streams end, actions in flight finish and are audited, stores close.
func runServe(ctx context.Context, env Env, g *globals, f *serveFlags) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageErrorf("serve: pass both --tls-cert and --tls-key, or neither")
	}
	s, err := serveSetup(ctx, env, g)
	if err != nil {
		return err
	}
	defer s.stop()
	addr := f.listen
	if addr == "" {
		addr = s.listen
	}
	if addr == "" {
		addr = defaultListen
	}
	tls := f.tlsCert != ""
	loopback, err := isLoopback(addr)
	if err != nil {
		return usageErrorf("serve: --listen %q: %v", addr, err)
	}
	if !loopback && !tls && !f.insecure {
		return usageErrorf("serve: %s is not a loopback address: serve it over TLS (--tls-cert, --tls-key), or pass --%s to send tokens in clear", addr, insecureFlag)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("serve: %w", err)}
	}
	defer ln.Close()
	bound := ln.Addr().String()

	cfg := s.cfg
	cfg.Log = env.Stderr
	cfg.Secure = tls
	cfg.CallTimeout = g.timeout
	cfg.Now = env.Now
	if loopback {
		// Only our own names: a page elsewhere that rebinds its name to
		// 127.0.0.1 is refused.
		cfg.Hosts = gateway.LoopbackHosts(bound)
	}
	if site.Built() {
		cfg.Site = site.Handler()
	}
	if f.metrics || s.metricsOn {
		c, err := newCollector(env, g, s.metrics, "leasectl serve: metrics:")
		if err != nil {
			return err
		}
		stopCollector := runCollector(ctx, c)
		defer stopCollector()
		cfg.Metrics = c.Handler()
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		return err
	}
	defer gw.Close()

	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      max(writeTimeout, 2*g.timeout),
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Request contexts derive from base: cancelling it ends the event
		// streams, which Shutdown would otherwise wait for.
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    log.New(env.Stderr, "leasectl serve: ", 0),
	}
	served := make(chan error, 1)
	go func() {
		if tls {
			served <- srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	printURL(env.Stdout, bound, tls, gw.OneTimeToken(), site.Built(), s.note)
	if cfg.Metrics != nil {
		u := url.URL{Scheme: "http", Host: bound, Path: metrics.Path}
		if tls {
			u.Scheme = "https"
		}
		fmt.Fprintf(env.Stdout, "leasectl serve: metrics at %s (no session needed)\n", u.String())
	}

	select {
	case err := <-served:
		return &exitError{ExitError, fmt.Errorf("serve: %w", err)}
	case <-ctx.Done():
	}
	fmt.Fprintln(env.Stderr, "leasectl serve: stopping")
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace+g.timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return &exitError{ExitError, fmt.Errorf("serve: shutdown: %w", err)}
	}
	return nil
}

// printURL prints, once, where to open the console: the token (when there
// is one) goes in the fragment, which browsers never send to a server.
func printURL(w io.Writer, addr string, tls bool, token string, built bool, note string) {
	u := url.URL{Scheme: "http", Host: addr, Path: "/"}
	if tls {
		u.Scheme = "https"
	}
	if token != "" {
		u.Fragment = "token=" + token
	}
	fmt.Fprintf(w, "leasectl serve: open %s\n", u.String())
	if token != "" {
		fmt.Fprintln(w, "leasectl serve: the token in that URL logs in once; restart serve for another")
	}
	if !built {
		fmt.Fprintln(w, "leasectl serve: the browser console was not built into this binary (make build); the API works")
	}
	if note != "" {
		fmt.Fprintln(w, "leasectl serve:", note)
	}
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// serveSetup opens the configuration as the console does (setupConsole):
// the stores selected, read-only as the config and --read-only say, the
// configured audit log and operator; plus the served operators and their
// tokens. Without any config it serves the demo.
func serveSetup(ctx context.Context, env Env, g *globals) (*served, error) {
	c, sel, err := loadSelected(g)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return serveDemo(ctx, env, g)
	}
	auditLog, err := audit.NewFile(c.AuditLog, audit.WithWarn(warnTo(env.Stderr)))
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	s := &served{listen: c.Serve.Listen, stop: func() {}, metrics: metricStores(sel), metricsOn: c.Serve.Metrics, cfg: gateway.Config{
		Operator: c.Operator, Auditor: auditLog, AuditLog: auditLog.Path(), ReadOnly: c.ReadOnly,
	}}
	if err := auditLog.Check(); err != nil {
		// Fail closed, as the terminal does: every action will be refused
		// until it can be written. Reading needs no audit log.
		s.note = fmt.Sprintf("every action will be refused: the audit log cannot be written: %v", err)
	}
	for _, st := range sel {
		s.cfg.Stores = append(s.cfg.Stores, gateway.Store{Name: st.Name, Kind: st.Kind, Prefix: st.Prefix, ReadOnly: st.ReadOnly,
			Color: st.Color, Production: st.Production,
			Open: func(ctx context.Context) (stores.Store, func() error, error) { return config.Open(ctx, st) }})
	}
	for _, o := range c.Serve.Operators {
		tok, err := c.ServeToken(o)
		if err != nil {
			return nil, &exitError{ExitUsage, err}
		}
		s.cfg.Operators = append(s.cfg.Operators, gateway.Credential{Name: o.Name, Token: tok, ReadOnly: o.ReadOnly})
	}
	return s, nil
}

// warnTo returns an audit warning hook printing to w.
func warnTo(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(w, "leasectl serve:", msg) }
}

// serveDemo serves the built-in demo as setupDemo sets it up for the
// terminal: a memory store with the simulated fleet running in this
// process, audited to the demo's own log.
func serveDemo(ctx context.Context, env Env, g *globals) (*served, error) {
	path := demoAuditPath()
	auditLog, err := audit.NewFile(path, audit.WithWarn(warnTo(env.Stderr)))
	if err != nil {
		return nil, err
	}
	// The fleet runs until stop, not until the start-up's context ends.
	store, stop, err := startDemo(context.WithoutCancel(ctx), env)
	if err != nil {
		return nil, err
	}
	return &served{
		cfg: gateway.Config{
			Stores: []gateway.Store{{Name: demo.StoreName, Kind: config.KindMemory, Prefix: "",
				// The store outlives the gateway: stop closes it once the
				// fleet has stopped writing.
				Open: func(context.Context) (stores.Store, func() error, error) { return store, nil, nil }}},
			Operator: config.DefaultOperator(),
			Auditor:  auditLog,
			AuditLog: auditLog.Path(),
			ReadOnly: g.readOnly,
		},
		metrics: []metrics.Store{demoMetricStore(store)},
		stop:    stop,
		note:    fmt.Sprintf("serving the demo (no configuration found); its audit log is %s", path),
	}, nil
}
