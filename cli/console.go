package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/tui"
)

// consoleSetup is what the console runs on.
type consoleSetup struct {
	opts tui.Options
	// stop releases what the setup started (the demo fleet and its store),
	// once the console has quit.
	stop func()
	// notice is printed on stderr after the console quits.
	notice string
}

// loadSelected loads the configuration and the stores --store selects (all
// of them without it). Without any configuration it returns a nil config,
// for the caller to run the demo; --store then is a usage error.
func loadSelected(g *globals) (*config.Config, []config.Store, error) {
	_, err := config.Path(g.config)
	switch {
	case errors.Is(err, config.ErrNoConfig):
		if len(g.stores) > 0 {
			return nil, nil, usageErrorf("--store %s: no configuration to find it in (pass --config FILE, set $LEASECTL_CONFIG, or create $XDG_CONFIG_HOME/leasectl/config.yaml)", g.stores[0])
		}
		return nil, nil, nil
	case err != nil:
		return nil, nil, &exitError{ExitUsage, err}
	}
	c, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	sel, err := selectStores(c, g)
	if err != nil {
		return nil, nil, err
	}
	return c, sel, nil
}

// setupConsole builds the console's options from the config: one source per
// configured store (all of them, or those named by --store), read-only as
// the config and --read-only say, each a local backend whose operator writes
// within the store's prefix, bounds each store call by --timeout and audits
// to the configured log; an action as a whole gives up after --timeout too.
// Without any config it sets up the demo.
func setupConsole(ctx context.Context, env Env, g *globals) (*consoleSetup, error) {
	c, sel, err := loadSelected(g)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return setupDemo(ctx, env, g)
	}
	notices := make(chan string, noticeBuffer)
	log, err := audit.NewFile(c.AuditLog, audit.WithWarn(notify(notices)))
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	ops := operatorOptions(env, log, lease.WithCallTimeout(g.timeout))
	sources := make([]tui.Source, len(sel))
	for i, s := range sel {
		readOnly := c.ReadOnly || s.ReadOnly
		opts := append(slices.Clip(ops), lease.WithScope(s.Prefix))
		sources[i] = tui.Source{
			Name:       s.Name,
			Kind:       s.Kind,
			ReadOnly:   readOnly,
			Color:      s.Color,
			Production: s.Production,
			Connect: func(ctx context.Context) (tui.Backend, func() error, error) {
				st, closer, err := config.Open(ctx, s)
				if err != nil {
					return nil, nil, err
				}
				b, err := localBackend(st, s.Name, s.Prefix, c.Operator, readOnly, opts...)
				if err != nil {
					return nil, nil, errors.Join(err, closer())
				}
				return b, closer, nil
			},
		}
	}
	return &consoleSetup{
		opts: tui.Options{
			Sources:       sources,
			Operator:      c.Operator,
			ReadOnly:      c.ReadOnly,
			Now:           env.Now,
			Notices:       notices,
			ActionTimeout: g.timeout,
			// The audit view reads the log the console writes.
			Audit: tui.AuditFile(log.Path()),
		},
		stop: func() {},
	}, nil
}

// noticeBuffer is how many audit warnings wait for the console to show
// them; more are dropped rather than block an action (the status line shows
// one at a time anyway).
const noticeBuffer = 8

// notify returns an audit warning hook that hands each warning to the
// console without ever blocking the audit log.
func notify(notices chan<- string) func(string) {
	return func(msg string) {
		select {
		case notices <- msg:
		default:
		}
	}
}

// operatorOptions are the options of every operator the console builds: the
// console's clock, this host and the audit log, and extra.
func operatorOptions(env Env, log lease.Auditor, extra ...lease.OperatorOption) []lease.OperatorOption {
	opts := []lease.OperatorOption{lease.WithAuditor(log)}
	if env.Now != nil {
		opts = append(opts, lease.WithOperatorClock(env.Now))
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		opts = append(opts, lease.WithHost(host))
	}
	return append(opts, extra...)
}

// localBackend returns the console's backend on st, a store configured as
// name with prefix, acting as operator: st is wrapped read-only first when
// readOnly, so that the store itself refuses writes, not only the console.
func localBackend(st stores.Store, name, prefix, operator string, readOnly bool, opts ...lease.OperatorOption) (*tui.Local, error) {
	if readOnly {
		st = stores.ReadOnly(st)
	}
	op, err := lease.NewOperator(st, name, operator, opts...)
	if err != nil {
		return nil, err
	}
	return tui.NewLocal(st, prefix, op), nil
}

// startDemo starts the built-in demo: a memory store, seeded, with the
// simulated fleet writing to it (on env's clock) until stop, which waits for
// the fleet and then closes the store.
func startDemo(ctx context.Context, env Env) (store *memory.Store, stop func(), err error) {
	store = memory.New()
	ctx, cancel := context.WithCancel(ctx)
	var opts []demo.Option
	if env.Now != nil {
		opts = append(opts, demo.WithClock(env.Now))
	}
	// Start seeds the store (demo.Seed) before it starts the replicas.
	fleet, err := demo.Start(ctx, store, opts...)
	if err != nil {
		cancel()
		store.Close()
		return nil, nil, err
	}
	return store, func() {
		cancel()
		fleet.Wait()
		store.Close()
	}, nil
}

// setupDemo starts the built-in demo (docs/design.md §7): a memory store with
// a simulated fleet on the real lease core, clearly labelled.
//
// The demo's operator actions are real writes to that throwaway store and
// are audited for real, fail-closed like any other, but to a file of their
// own in the temporary directory: they must not mix with the operator's real
// audit trail, and nothing of them is worth keeping after the demo.
func setupDemo(ctx context.Context, env Env, g *globals) (*consoleSetup, error) {
	path := demoAuditPath()
	notices := make(chan string, noticeBuffer)
	log, err := audit.NewFile(path, audit.WithWarn(notify(notices)))
	if err != nil {
		return nil, err
	}
	store, stop, err := startDemo(ctx, env)
	if err != nil {
		return nil, err
	}
	operator := config.DefaultOperator()
	b, err := localBackend(store, demo.StoreName, "", operator, g.readOnly, operatorOptions(env, log)...)
	if err != nil {
		stop()
		return nil, err
	}
	return &consoleSetup{
		opts: tui.Options{
			Sources: []tui.Source{{
				Name:     demo.StoreName,
				Kind:     config.KindMemory,
				ReadOnly: g.readOnly,
				Connect: func(context.Context) (tui.Backend, func() error, error) {
					// The store outlives the console: stop closes it once
					// the fleet has stopped writing.
					return b, nil, nil
				},
			}},
			Demo:          true,
			Operator:      operator,
			ReadOnly:      g.readOnly,
			Now:           env.Now,
			Notices:       notices,
			ActionTimeout: g.timeout,
			Audit:         tui.AuditFile(log.Path()),
		},
		stop:   stop,
		notice: fmt.Sprintf("leasectl: that was the demo (no configuration found); its audit log is %s", path),
	}, nil
}

// demoAuditPath is the demo's audit log: per user, in the temporary
// directory.
func demoAuditPath() string {
	return filepath.Join(os.TempDir(), "leasectl-demo-"+strconv.Itoa(os.Getuid()), "audit.jsonl")
}

// signalExitError is how the console ends when a signal stopped it: with
// exit status 128 + the signal's number (129 for SIGHUP, 130 SIGINT, 143
// SIGTERM), the status a shell gives a command the signal killed, once the
// terminal is restored (docs/design.md §6).
type signalExitError struct{ sig os.Signal }

func (e *signalExitError) Error() string { return "console stopped by " + e.sig.String() }

// code is the exit status.
func (e *signalExitError) code() int {
	if n, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return ExitError
}
