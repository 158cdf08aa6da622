// Package cli wires leasectl's command line (docs/design.md §6) to the lease
// core: parsing flags, loading the config, opening stores and printing
// results. It holds no lease logic of its own; every action goes through
// package lease.
//
// Everything a command prints goes through package safetext: store data is
// cleaned where it is formatted, JSON is made terminal-safe without changing
// what it decodes to, and standard output and error are written through a
// cleaning writer as a last line of defence.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

// Exit codes (docs/design.md §6).
const (
	// ExitOK means done; for acquire, won.
	ExitOK = 0
	// ExitError means a runtime error: a store unreachable, the audit log
	// unwritable, a write whose outcome is unknown, an interruption.
	ExitError = 1
	// ExitUsage means a usage or config error, including a request the
	// lease rules refuse and writes to a read-only store; nothing was
	// written.
	ExitUsage = 2
	// ExitState means not done because of the lease's state: held by someone
	// else, or changed since the revision the operator saw.
	ExitState = 3
)

// Env is what a command reads and writes besides the stores: the standard
// streams, the clock, the terminal and the signals. Tests supply their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Now is the wall clock; time.Now when nil.
	Now func() time.Time
	// IsTerminal reports whether Stdin is an interactive terminal, for
	// confirmation prompts and the console; when nil, it is detected from
	// Stdin.
	IsTerminal func() bool
	// Width returns the width in cells of the terminal Stdout writes to, or
	// 0 when Stdout is not a terminal (a pipe or a file), for tables; when
	// nil, it is detected from Stdout (defaultWidth when a terminal does
	// not say).
	Width func() int
	// Signals delivers the interrupts the process receives (SIGINT,
	// SIGTERM, SIGHUP), for the policy of interrupts.go; nil means none
	// arrive.
	Signals <-chan os.Signal
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// isTerminal reports whether Stdin is an interactive terminal.
func (e Env) isTerminal() bool {
	if e.IsTerminal != nil {
		return e.IsTerminal()
	}
	return stdinIsTerminal(e.Stdin)
}

// defaultWidth is the width of a terminal that does not report its size.
const defaultWidth = 80

// width returns the width of Stdout's terminal, 0 when it is none.
func (e Env) width() int {
	if e.Width != nil {
		return e.Width()
	}
	f, ok := e.Stdout.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return 0
	}
	if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
		return w
	}
	return defaultWidth
}

// exitError carries the exit code a failure maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a usage or config error (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// stateError is "not done because of the lease's state" (exit 3).
func stateError(err error) error { return &exitError{ExitState, err} }

// exitCode maps an error to the exit code: its own when it carries one;
// usage (2) for config errors, requests the lease rules refuse and invalid
// keys; else a runtime error (1).
func exitCode(err error) int {
	var ee *exitError
	var ce *config.Error
	var se *signalExitError
	switch {
	case errors.As(err, &se):
		return se.code()
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, lease.ErrInvalidRequest), errors.Is(err, stores.ErrInvalidKey),
		errors.Is(err, config.ErrNoConfig), errors.As(err, &ce):
		return ExitUsage
	}
	return ExitError
}

// Main runs leasectl with args (without the program name) and returns the
// process exit code. Errors are printed to env.Stderr, cleaned.
func Main(ctx context.Context, args []string, env Env) int {
	stderr := safetext.NewWriter(env.Stderr)
	defer stderr.Flush()
	stdout := safetext.NewWriter(env.Stdout)
	defer stdout.Flush()
	ctx, in := watchInterrupts(ctx, env.Signals, stderr)
	defer in.stop()

	// The commands print through the cleaning writers; the console draws
	// the screen itself (escape sequences are its job), so it gets the
	// terminal as it is, and cleans what it shows of the stores.
	console := env
	console.Stderr = stderr
	cmds := env
	cmds.Stdout, cmds.Stderr = stdout, stderr
	cmds.Width, cmds.IsTerminal = env.width, env.isTerminal

	root := newRoot(console, cmds, in)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if cause := in.interruption(ctx); cause != nil && !errors.As(err, new(*signalExitError)) {
		// Whatever failed, it failed because the operator stopped the
		// command before any write began.
		err = &exitError{ExitError, cause}
	}
	printError(stderr, err)
	return exitCode(err)
}

// printError prints err on w, one "leasectl: " line per joined error,
// cleaned.
func printError(w io.Writer, err error) {
	if ee, ok := err.(*exitError); ok {
		err = ee.err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printError(w, e)
		}
		return
	}
	fmt.Fprintln(w, "leasectl:", safetext.Clean(err.Error()))
}

// globals are the flags every command shares.
type globals struct {
	config   string
	stores   []string
	readOnly bool
	timeout  time.Duration
}

// defaultTimeout bounds each store call of a command, so a runbook step
// against a hung store fails instead of hanging.
const defaultTimeout = 15 * time.Second

// newRoot builds the command tree: the console runs with console, every
// other command with cmds (see Main).
func newRoot(console, cmds Env, in *interrupts) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "leasectl",
		Short: "Inspect and operate export leases in etcd, Consul KV and NATS JetStream KV",
		Long: `leasectl looks after export leases: one KV key per periodic job whose JSON
value carries its own expiry, so exactly one replica of a fleet wins each round.

Run without a command to open the console. Exit codes: 0 done, 1 runtime error,
2 usage or config error, 3 not done because of the lease's state.

--timeout bounds each call to a store (dialling, a read, a write), never the
time you take to read and answer a question. An interrupt (Ctrl-C, SIGTERM)
stops a command at once until its write begins; once the write is in flight,
the first interrupt lets it finish so that the audit log records its true
outcome, and a second one abandons it (leasectl then reads the key back and
records what it holds).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          args(0, 0),
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if g.timeout <= 0 {
				return usageErrorf("--timeout %v: want a positive duration (e.g. --timeout 15s)", g.timeout)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConsole(cmd.Context(), console, g)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{ExitUsage, err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (default $LEASECTL_CONFIG, then $XDG_CONFIG_HOME/leasectl/config.yaml)")
	pf.StringArrayVar(&g.stores, "store", nil, "use only this configured store (repeatable)")
	pf.BoolVar(&g.readOnly, "read-only", false, "refuse every write")
	pf.DurationVar(&g.timeout, "timeout", defaultTimeout, "give up on each store call (dial, read, write) after this long")

	root.AddCommand(
		newDecodeCmd(cmds),
		newListCmd(cmds, g),
		newGetCmd(cmds, g),
		newAcquireCmd(cmds, g, in),
		newTakeoverCmd(cmds, g, in),
		newReleaseCmd(cmds, g, in),
		newRevertCmd(cmds, g, in),
		newAuditCmd(cmds, g),
		newServeCmd(cmds, g),
		newMetricsCmd(cmds, g),
		newHistoryCmd(cmds, g),
	)
	return root
}

// args validates positional arguments, making a mismatch a usage error
// (exit 2) rather than cobra's untyped error.
func args(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		switch {
		case len(a) < min:
			return usageErrorf("%s: missing argument (usage: %s)", cmd.Name(), cmd.UseLine())
		case len(a) > max && cmd.HasSubCommands():
			return usageErrorf("unknown command %q (see leasectl --help)", a[0])
		case len(a) > max:
			return usageErrorf("%s: unexpected argument %q (usage: %s)", cmd.Name(), a[max], cmd.UseLine())
		}
		return nil
	}
}

// stdinIsTerminal reports whether r is an interactive terminal. A character
// device is not enough: /dev/null and /dev/zero are character devices too,
// and a confirmation read from them would be no person's answer.
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
