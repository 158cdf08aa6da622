package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
)

// writeFlags are the flags the write commands share.
type writeFlags struct {
	ttl      time.Duration
	reason   string
	revision uint64
	yes      bool
	holder   string
	format   string
}

func newAcquireCmd(env Env, g *globals) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "acquire KEY --store NAME --ttl DURATION [--holder ID]",
		Short: "Acquire a lease as the operator, only if it is free",
		Long: `acquire runs the fleet's own algorithm as holder operator:<name> (or --holder):
it wins only when the key is absent, a tombstone, expired or corrupt — never
over a live lease. Use it to pause exports during an incident: while the
operator holds the lease, no replica wins a round. Exit 0 when won, 3 when the
lease is held by someone else.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if f.ttl < time.Second {
				return usageErrorf("--ttl %v: want at least 1s (e.g. --ttl 30m)", f.ttl)
			}
			return runWrite(cmd.Context(), env, g, a[0], func(ctx context.Context, w *writer) error {
				var opts []lease.AcquireOption
				if cmd.Flags().Changed("holder") {
					opts = append(opts, lease.AsHolder(f.holder))
				}
				out, err := w.op.Acquire(ctx, a[0], f.ttl, opts...)
				return w.report("acquire", out, err)
			})
		},
	}
	cmd.Flags().DurationVar(&f.ttl, "ttl", 0, "how long the lease is held (required, at least 1s)")
	cmd.Flags().StringVar(&f.holder, "holder", "", "holder id to write (default operator:<operator>)")
	return cmd
}

func newTakeoverCmd(env Env, g *globals) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "takeover KEY --store NAME --ttl DURATION --reason TEXT [--revision N] [--yes]",
		Short: "Force a fresh operator record over whatever is there, even a live lease",
		Long: `takeover CAS-writes a fresh record held by operator:<name> over the current
value, even a live lease. It writes only if the key is still at the revision
you saw: --revision N pins it; without it, leasectl reads the key, shows the
before and after records and asks you to type the key's last segment (--yes
skips the question). If the key changed since, nothing is written and the new
state is shown (exit 3).`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if f.ttl < time.Second {
				return usageErrorf("--ttl %v: want at least 1s (e.g. --ttl 30m)", f.ttl)
			}
			if strings.TrimSpace(f.reason) == "" {
				return usageErrorf("takeover needs --reason (it goes to the audit log)")
			}
			return runWrite(cmd.Context(), env, g, a[0], func(ctx context.Context, w *writer) error {
				seen, err := w.observe(ctx, "takeover", a[0], cmd.Flags().Changed("revision"), f.revision)
				if err != nil {
					return err
				}
				after := w.op.FreshRecord(f.ttl)
				if err := w.confirm("takeover", seen, after.Encode(), f.yes); err != nil {
					return err
				}
				out, err := w.op.Takeover(ctx, a[0], f.ttl, f.reason, seen.Revision())
				return w.report("takeover", out, err)
			})
		},
	}
	cmd.Flags().DurationVar(&f.ttl, "ttl", 0, "how long the operator holds the lease (required, at least 1s)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required; written to the audit log)")
	cmd.Flags().Uint64Var(&f.revision, "revision", 0, "the revision you saw; refuse if the key changed since")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newReleaseCmd(env Env, g *globals) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "release KEY --store NAME --reason TEXT [--revision N] [--yes]",
		Short: "CAS-write a tombstone so the fleet's next trigger wins at once",
		Long: `release writes an empty value (a tombstone, never a delete) over the lease if it
is still at the revision you saw, so the next trigger of any replica wins
immediately. --revision N pins the revision; without it leasectl reads the
key, shows it and asks you to confirm (--yes skips the question).`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if strings.TrimSpace(f.reason) == "" {
				return usageErrorf("release needs --reason (it goes to the audit log)")
			}
			return runWrite(cmd.Context(), env, g, a[0], func(ctx context.Context, w *writer) error {
				seen, err := w.observe(ctx, "release", a[0], cmd.Flags().Changed("revision"), f.revision)
				if err != nil {
					return err
				}
				if !seen.Found {
					return stateError(fmt.Errorf("%s: nothing to release: the key is absent", a[0]))
				}
				if err := w.confirm("release", seen, []byte{}, f.yes); err != nil {
					return err
				}
				out, err := w.op.Release(ctx, a[0], f.reason, seen.Revision())
				return w.report("release", out, err)
			})
		},
	}
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required; written to the audit log)")
	cmd.Flags().Uint64Var(&f.revision, "revision", 0, "the revision you saw; refuse if the key changed since")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// writer is what a write command needs once the checks have passed.
type writer struct {
	env   Env
	store config.Store
	op    *lease.Operator
	in    *bufio.Reader
}

// runWrite checks everything that can be checked before touching the store
// (config, read-only, audit log writable), opens the store and runs do.
func runWrite(ctx context.Context, env Env, g *globals, key string, do func(context.Context, *writer) error) error {
	c, err := loadConfig(g)
	if err != nil {
		return err
	}
	s, err := oneStore(c, g)
	if err != nil {
		return err
	}
	if err := writable(c, s); err != nil {
		return err
	}
	if key == "" {
		return usageErrorf("empty key")
	}
	log, err := audit.NewFile(c.AuditLog)
	if err != nil {
		return err
	}
	if err := log.Check(); err != nil {
		return fmt.Errorf("refusing to write: the audit log is not writable: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	o, err := open(ctx, c, s)
	if err != nil {
		return err
	}
	defer o.close()
	op, err := newOperator(c, o, env, lease.WithAuditor(log))
	if err != nil {
		return err
	}
	return keyError(do(ctx, &writer{env: env, store: s, op: op, in: bufio.NewReader(env.Stdin)}))
}

// newOperator builds the lease operator for one opened store.
func newOperator(c *config.Config, o *openStore, env Env, opts ...lease.OperatorOption) (*lease.Operator, error) {
	host, _ := os.Hostname()
	opts = append([]lease.OperatorOption{lease.WithOperatorClock(env.now), lease.WithHost(host)}, opts...)
	return lease.NewOperator(o.store, o.conf.Name, c.Operator, opts...)
}

// observe returns what the operator acts on: the current state, checked
// against --revision when one was given.
func (w *writer) observe(ctx context.Context, action, key string, pinned bool, rev uint64) (lease.Observation, error) {
	obs, err := w.op.Inspect(ctx, key)
	if err != nil {
		return obs, err
	}
	if pinned && obs.Revision() != rev {
		return obs, w.report(action, lease.Result{Before: obs}, &lease.ChangedError{Seen: rev, Current: obs})
	}
	return obs, nil
}

// confirm shows before and after and, unless yes, asks the operator to type
// the key's last segment. Without a terminal it refuses rather than guess.
func (w *writer) confirm(action string, seen lease.Observation, after []byte, yes bool) error {
	w.printObservation("before", seen)
	after = append([]byte(nil), after...)
	fmt.Fprintf(w.env.Stderr, "after:   %s\n", rawPreview(after))
	if yes {
		return nil
	}
	isTerm := w.env.IsTerminal
	if isTerm == nil {
		isTerm = func() bool { return stdinIsTerminal(w.env.Stdin) }
	}
	if !isTerm() {
		return usageErrorf("%s: refusing without --yes: no terminal to confirm on", action)
	}
	want := lastSegment(seen.Key)
	fmt.Fprintf(w.env.Stderr, "Type %q to %s %s at revision %d: ", want, action, seen.Key, seen.Entry.Revision)
	line, err := w.in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != want {
		return usageErrorf("%s: not confirmed; nothing was written", action)
	}
	return nil
}

func (w *writer) printObservation(label string, o lease.Observation) {
	desc := o.Status.State.String()
	switch o.Status.State {
	case lease.Held, lease.Expired:
		desc += " by " + o.Status.Record.HolderID
	case lease.Corrupt:
		desc += ": " + o.Status.Reason
	}
	fmt.Fprintf(w.env.Stderr, "%-8s %s/%s rev %d: %s\n", label+":", w.store.Name, o.Key, o.Entry.Revision, desc)
	if o.Found {
		fmt.Fprintf(w.env.Stderr, "         %s\n", rawPreview(o.Entry.Value))
	}
}

// report prints the outcome and maps it to the exit code.
func (w *writer) report(action string, out lease.Result, err error) error {
	var changed *lease.ChangedError
	switch {
	case errors.As(err, &changed):
		w.printObservation("now", changed.Current)
		return stateError(fmt.Errorf("%s %s: changed since you looked; nothing was written", action, out.Before.Key))
	case errors.Is(err, lease.ErrHeld):
		w.printObservation("held", out.Before)
		return stateError(fmt.Errorf("%s %s: not acquired: the lease is held", action, out.Before.Key))
	case err != nil && out.Revision != 0:
		// The store write happened but its result could not be audited.
		fmt.Fprintf(w.env.Stdout, "%s %s/%s: done at revision %d\n", action, w.store.Name, out.After.Key, out.Revision)
		return err
	case err != nil:
		return err
	}
	fmt.Fprintf(w.env.Stdout, "%s %s/%s: done at revision %d\n", action, w.store.Name, out.After.Key, out.Revision)
	return nil
}

// lastSegment is what the operator types to confirm: the part of the key
// after the last '/' or '.', or the whole key.
func lastSegment(key string) string {
	if i := strings.LastIndexAny(key, "/."); i >= 0 && i < len(key)-1 {
		return key[i+1:]
	}
	return key
}
