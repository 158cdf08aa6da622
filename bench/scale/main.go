//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bench is one run of the benchmark: its settings and what it measured.
type bench struct {
	bin, prof   string // leasectl and leasectlprof
	launcher    string // bench/scale/rusage
	tmux        string
	env         []string // the environment of every measured process
	termEnv     []string // the environment of the console's terminal
	dir         string   // configs, audit logs, profiles
	runs        int
	rate        float64
	window      time.Duration
	idleWindow  time.Duration
	warmup      time.Duration
	liveTimeout time.Duration
	source      string // what leasectl was built from
	maxLoad     float64
	loadWait    time.Duration
	maxOther    float64

	out io.Writer

	ls       map[int]map[string]map[string]stats // size → store → command → stats
	otherLs  map[int]float64                     // size → other processes' CPU, % of a core
	commands map[string][]string                 // store → command labels, in order
	consoles []consoleResult
}

func main() {
	var (
		n         = flag.Int("n", 100_000, "leases per store at the largest size")
		sizes     = flag.String("sizes", "1000,10000,100000", "sizes of the ls and console series, comma-separated; sizes above -n are dropped and -n is always measured")
		only      = flag.String("stores", "etcd,consul,nats", "stores to measure, comma-separated")
		b         = &bench{}
		dir       = flag.String("dir", "build/bench-scale", "where configs, logs and profiles go")
		report    = flag.String("out", "", "also write the report to this file")
		console   = flag.Bool("console", true, "measure the console (tmux)")
		steady    = flag.Bool("steady", true, "measure the console's steady state at -n")
		profile   = flag.Bool("profile", true, "profile ls -o json and the console's sync at -n (needs -leasectlprof)")
		hold      = flag.Bool("hold", false, "seed -n leases, print the stores' configs and addresses, and keep the servers up until interrupted (for experiments by hand); measures nothing")
		etcdctl   = flag.String("etcdctl", "etcdctl", "etcdctl binary")
		consulBin = flag.String("consul", os.Getenv("LEASECTL_CONSUL"), "consul binary (default: scripts/ensure-consul.sh's, via $LEASECTL_CONSUL)")
		curl      = flag.String("curl", "curl", "curl binary for the raw HTTP listing; when missing, -httpget is used")
		httpget   = flag.String("httpget", "build/bench-scale/httpget", "the Go raw HTTP baseline")
		natswatch = flag.String("natswatch", "build/bench-scale/natswatch", "the NATS baseline")
	)
	flag.StringVar(&b.bin, "leasectl", "bin/leasectl", "the leasectl binary under test")
	flag.StringVar(&b.prof, "leasectlprof", "build/bench-scale/leasectlprof", "leasectl built with profiling (bench/scale/leasectlprof)")
	flag.StringVar(&b.launcher, "rusage", "build/bench-scale/rusage", "the launcher that measures a process (bench/scale/rusage)")
	flag.StringVar(&b.source, "source", "", "what the leasectl binary was built from, for the report (default: this program's VCS stamp)")
	flag.StringVar(&b.tmux, "tmux", "tmux", "tmux binary")
	flag.IntVar(&b.runs, "runs", 5, "runs of each listing command (the median is reported)")
	flag.Float64Var(&b.rate, "rate", 100, "writes a second in the steady state")
	flag.DurationVar(&b.window, "window", 15*time.Second, "steady state: the CPU window, and the latency probes' window")
	flag.DurationVar(&b.idleWindow, "idle", 5*time.Second, "steady state: the CPU window before the writes start")
	flag.DurationVar(&b.warmup, "warmup", 2*time.Second, "steady state: writes before the CPU window opens")
	flag.DurationVar(&b.liveTimeout, "live-timeout", 10*time.Minute, "bound on the console's time to live")
	flag.Float64Var(&b.maxLoad, "max-load", 2, "wait before measuring while the 1-minute load average is above this (0: never wait)")
	flag.DurationVar(&b.loadWait, "load-wait", 10*time.Minute, "longest wait for the load to fall, at the start")
	flag.Float64Var(&b.maxOther, "max-other", 30, "before each phase, wait (at most 3m) while other processes use more than this % of one core (0: never wait)")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	list, err := sizeList(*sizes, *n)
	if err != nil {
		fail(err)
	}
	b.dir, err = filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		fail(err)
	}
	b.out = os.Stdout
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		b.out = io.MultiWriter(os.Stdout, f)
	}
	t := tools{
		etcdctl:   mustLook(*etcdctl),
		consul:    *consulBin,
		httpget:   mustAbs(*httpget),
		natswatch: mustAbs(*natswatch),
	}
	if t.consul == "" {
		fail(errors.New("no consul binary: set -consul or $LEASECTL_CONSUL (scripts/ensure-consul.sh prints it)"))
	}
	os.Setenv("LEASECTL_CONSUL", t.consul) // consultest starts the same binary
	if p, err := exec.LookPath(*curl); err == nil {
		t.curl = p
	}
	b.bin, b.tmux, b.launcher = mustAbs(b.bin), mustLook(b.tmux), mustAbs(b.launcher)
	if *profile {
		b.prof = mustAbs(b.prof)
	}
	b.env = childEnv()
	b.termEnv = termEnv(b.env)

	b.header(t, list)
	b.waitLoad(ctx, b.loadWait)
	b.waitQuiet(ctx, b.loadWait)

	srv, err := startServers(ctx)
	if err != nil {
		fail(err)
	}
	defer srv.close()
	var sts []*store
	for _, st := range srv.stores(t, b.env) {
		if slices.Contains(strings.Split(*only, ","), st.name) {
			sts = append(sts, st)
		}
	}
	if len(sts) == 0 {
		fail(fmt.Errorf("-stores %q names none of etcd, consul, nats", *only))
	}
	b.printf("servers: etcd %s, NATS %s, Consul %s (agent up in %v)\n\n", srv.etcd.Endpoints()[0], srv.nats.URL(), srv.caddr, srv.consul.Startup().Round(time.Millisecond))

	if *hold {
		b.hold(ctx, sts, *n)
		return
	}
	if err := b.measure(ctx, sts, list, *console, *steady, *profile); err != nil {
		b.printf("\nFAILED: %v\n", err)
		srv.close()
		os.Exit(1)
	}
}

// measure seeds each size in turn and measures it.
func (b *bench) measure(ctx context.Context, sts []*store, sizes []int, console, steady, profile bool) error {
	b.ls = map[int]map[string]map[string]stats{}
	b.otherLs = map[int]float64{}
	b.commands = map[string][]string{}
	seeded := 0
	now := time.Now().Unix()
	largest := sizes[len(sizes)-1]
	for _, size := range sizes {
		for _, st := range sts {
			start := time.Now()
			if err := st.seed(ctx, seeded, size, now); err != nil {
				return fmt.Errorf("seed %s: %w", st.name, err)
			}
			b.printf("seeded %s: leases %d–%d in %v\n", st.name, seeded, size-1, time.Since(start).Round(time.Millisecond))
		}
		seeded = size
		b.waitQuiet(ctx, quietWait)
		b.printf("\n== ls at %d leases per store (load average %s)\n", size, loadAvg())
		c0, t0 := otherCPU(), time.Now()
		if err := b.lsPhase(ctx, sts, size); err != nil {
			return err
		}
		b.otherLs[size] = 100 * float64(otherCPU()-c0) / float64(time.Since(t0))
		b.printLs(sts, size)
		b.printf("(other processes used %.0f%% of one core during these runs)\n", b.otherLs[size])
		if !console {
			continue
		}
		b.printf("\n== console at %d leases per store (load average %s)\n", size, loadAvg())
		for _, st := range sts {
			var s *store
			if steady && size == largest {
				s = st
			}
			r, err := b.console(ctx, b.config(st.name+"-console", st), []string{st.name}, size, s)
			if err != nil {
				return fmt.Errorf("console %s at %d: %w", st.name, size, err)
			}
			b.consoles = append(b.consoles, r)
			b.printConsole(r)
		}
		if size == largest && len(sts) > 1 {
			var names []string
			for _, st := range sts {
				names = append(names, st.name)
			}
			r, err := b.console(ctx, b.config("all-console", sts...), names, size, nil)
			if err != nil {
				return fmt.Errorf("console %v at %d: %w", names, size, err)
			}
			b.consoles = append(b.consoles, r)
			b.printConsole(r)
		}
	}
	b.summary(sts, sizes)
	if profile {
		b.printf("\n== profiles at %d leases per store (load average %s)\n", largest, loadAvg())
		if err := b.profiles(ctx, sts, largest, console, steady); err != nil {
			return err
		}
	}
	b.printf("\nfinished %s, load average %s\n", time.Now().UTC().Format(time.RFC3339), loadAvg())
	return nil
}

// hold seeds n leases in every store, prints how to reach them, and waits
// for an interrupt.
func (b *bench) hold(ctx context.Context, sts []*store, n int) {
	now := time.Now().Unix()
	for _, st := range sts {
		start := time.Now()
		if err := st.seed(ctx, 0, n, now); err != nil {
			fail(fmt.Errorf("seed %s: %w", st.name, err))
		}
		b.printf("seeded %s: %d leases in %v; config %s\n", st.name, n, time.Since(start).Round(time.Millisecond), b.config(st.name, st))
		for _, nat := range st.natives {
			b.printf("  %s: %s\n", nat.label, strings.Join(nat.argv, " "))
		}
	}
	b.printf("all stores: config %s\nholding the servers until interrupted (Ctrl-C)\n", b.config("all", sts...))
	<-ctx.Done()
}

// lsPhase runs every listing command of every store b.runs times,
// alternating between leasectl and the store's own tools.
func (b *bench) lsPhase(ctx context.Context, sts []*store, size int) error {
	b.ls[size] = map[string]map[string]stats{}
	for _, st := range sts {
		conf := b.config(st.name, st)
		type command struct {
			label, count string
			want         int
			argv, env    []string
		}
		cmds := []command{
			{label: "leasectl ls -o json", argv: []string{b.bin, "--config", conf, "ls", "-o", "json"}, env: b.env, count: `"key":`, want: size},
		}
		for _, nat := range st.natives {
			cmds = append(cmds, command{label: nat.label, argv: nat.argv, env: nat.env, count: nat.count, want: size})
		}
		cmds = append(cmds,
			command{label: "leasectl ls -o table (piped)", argv: []string{b.bin, "--config", conf, "ls", "-o", "table"}, env: b.env, count: "\n", want: size + 1},
			command{label: "leasectl ls nothing/ -o json (fixed cost)", argv: []string{b.bin, "--config", conf, "ls", "nothing/", "-o", "json"}, env: b.env, count: `"key":`, want: 0},
		)
		samples := make([][]sample, len(cmds))
		for r := range b.runs {
			for i, c := range cmds {
				s, err := b.run(ctx, c.argv, c.env, c.count)
				if err != nil {
					return fmt.Errorf("%s: %s: %w", st.name, c.label, err)
				}
				if s.counted != c.want {
					return fmt.Errorf("%s: %s (run %d) listed %d leases (%q seen %d times), want %d", st.name, c.label, r+1, s.counted, c.count, s.counted, c.want)
				}
				samples[i] = append(samples[i], s)
			}
		}
		b.ls[size][st.name] = map[string]stats{}
		b.commands[st.name] = nil
		for i, c := range cmds {
			b.ls[size][st.name][c.label] = summarize(samples[i])
			b.commands[st.name] = append(b.commands[st.name], c.label)
		}
	}
	return nil
}

// config writes a leasectl config naming sts and returns its path.
func (b *bench) config(name string, sts ...*store) string {
	var c strings.Builder
	fmt.Fprintf(&c, "operator: bench\naudit_log: %s\nstores:\n", filepath.Join(b.dir, "audit-"+name+".jsonl"))
	for _, st := range sts {
		c.WriteString(st.yaml)
	}
	path := filepath.Join(b.dir, "config-"+name+".yaml")
	if err := os.WriteFile(path, []byte(c.String()), 0o600); err != nil {
		fail(err)
	}
	return path
}

// screen keeps a screen of the console, with what it shows, in screens.txt
// of the run's directory.
func (b *bench) screen(what, scr string) {
	f, err := os.OpenFile(filepath.Join(b.dir, "screens.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "== %s\n%s\n", what, scr)
}

// quietWait bounds the wait for other processes to calm down before a
// phase: a shared machine may never be quiet.
const quietWait = 3 * time.Minute

// waitQuiet waits up to limit while other processes use more than
// b.maxOther percent of one core, noting the wait in the report.
func (b *bench) waitQuiet(ctx context.Context, limit time.Duration) {
	if b.maxOther <= 0 {
		return
	}
	const sample = 5 * time.Second
	share := otherShare(sample)
	if share <= b.maxOther {
		return
	}
	start := time.Now()
	b.printf("other processes use %.0f%% of one core (more than %.0f%%): waiting (at most %v)…\n", share, b.maxOther, limit)
	for share > b.maxOther && time.Since(start) < limit && ctx.Err() == nil {
		share = otherShare(sample)
	}
	b.printf("waited %v; other processes now use %.0f%% of one core\n", time.Since(start).Round(time.Second), share)
}

// waitLoad waits up to limit for the one-minute load average to fall to
// b.maxLoad, noting the wait in the report.
func (b *bench) waitLoad(ctx context.Context, limit time.Duration) {
	if b.maxLoad <= 0 || load1() <= b.maxLoad {
		return
	}
	start := time.Now()
	b.printf("load average %s is above %.1f: waiting (at most %v)…\n", loadAvg(), b.maxLoad, limit)
	for load1() > b.maxLoad && time.Since(start) < limit && ctx.Err() == nil {
		time.Sleep(5 * time.Second)
	}
	b.printf("waited %v; load average now %s\n", time.Since(start).Round(time.Second), loadAvg())
}

func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.out, format, args...)
}

// sizeList parses -sizes: ascending, at most n, ending with n.
func sizeList(s string, n int) ([]int, error) {
	if n <= 0 {
		return nil, fmt.Errorf("-n %d: want a positive number of leases", n)
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number", f)
		}
		if v < n {
			out = append(out, v)
		}
	}
	out = append(out, n)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// childEnv is this process's environment without what could point a
// measured process at other stores or configs.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "LEASECTL_"), strings.HasPrefix(name, "CONSUL_"),
			strings.HasPrefix(name, "ETCDCTL_"), name == "NATS_URL", name == "XDG_CONFIG_HOME",
			name == "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// termEnv is the console terminal's environment: env without the variables
// of a tmux this may run in, with a UTF-8 locale.
func termEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TMUX") || name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LANG=C.UTF-8")
}

func mustLook(p string) string {
	path, err := exec.LookPath(p)
	if err != nil {
		fail(fmt.Errorf("%s: %w", p, err))
	}
	return mustAbs(path)
}

func mustAbs(p string) string {
	path, err := filepath.Abs(p)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(path); err != nil {
		fail(err)
	}
	return path
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/scale:", err)
	os.Exit(1)
}
