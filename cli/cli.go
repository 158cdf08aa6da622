// Package cli wires leasectl's command line (SPEC §6) to the lease core:
// parsing flags, loading the config, opening stores and printing results.
// It holds no lease logic of its own; every action goes through package lease.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes (SPEC §6).
const (
	// ExitOK means done; for acquire, won.
	ExitOK = 0
	// ExitError means a runtime error: a store unreachable, the audit log
	// unwritable.
	ExitError = 1
	// ExitUsage means a usage or config error, including writes to a
	// read-only store; nothing was written.
	ExitUsage = 2
	// ExitState means not done because of the lease's state: held by someone
	// else, or changed since the revision the operator saw.
	ExitState = 3
)

// Env is what a command reads and writes besides the stores: the standard
// streams and the clock. Tests supply their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Now is the wall clock; time.Now when nil.
	Now func() time.Time
	// IsTerminal reports whether Stdin is an interactive terminal, for
	// confirmation prompts; when nil, it is detected from Stdin.
	IsTerminal func() bool
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
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

// Main runs leasectl with args (without the program name) and returns the
// process exit code. Errors are printed to env.Stderr.
func Main(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(env.Stderr, "leasectl:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
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

func newRoot(env Env) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "leasectl",
		Short: "Inspect and operate export leases in etcd, Consul KV and NATS JetStream KV",
		Long: `leasectl looks after export leases: one KV key per periodic job whose JSON
value carries its own expiry, so exactly one replica of a fleet wins each round.

Run without a command to open the console. Exit codes: 0 done, 1 runtime error,
2 usage or config error, 3 not done because of the lease's state.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConsole(cmd.Context(), env, g)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{ExitUsage, err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (default $LEASECTL_CONFIG, then $XDG_CONFIG_HOME/leasectl/config.yaml)")
	pf.StringArrayVar(&g.stores, "store", nil, "use only this configured store (repeatable)")
	pf.BoolVar(&g.readOnly, "read-only", false, "refuse every write")
	pf.DurationVar(&g.timeout, "timeout", defaultTimeout, "give up on a store after this long")

	root.AddCommand(
		newDecodeCmd(env),
		newListCmd(env, g),
		newGetCmd(env, g),
		newAcquireCmd(env, g),
		newTakeoverCmd(env, g),
		newReleaseCmd(env, g),
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

// stdinIsTerminal reports whether r is a character device (a terminal).
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
