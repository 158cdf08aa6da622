package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
	"github.com/leasectl/leasectl/stores"
)

func newRevertCmd(env Env, g *globals, in *interrupts) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "revert ID --reason TEXT [--yes]",
		Short: "Undo a won operator action from the audit log, if nothing wrote the key since",
		Long: `revert undoes the operator action ID of the audit log (see leasectl audit; a
unique prefix of at least 4 characters will do), which must have won: it writes
back, byte for byte, the value that action replaced — a tombstone when the key
was absent — on the action's store, by compare-and-swap against the revision
the action wrote. If anything has written the key since (a replica's round, an
operator, an earlier revert), nothing is written, the key's state now is shown
(exit 3) and the attempt is audited.

leasectl shows the key now and the value it will write back, and asks you to
type the key's last segment, as takeover does (--yes skips the question). The
revert is audited as action revert, its reverts field naming ID. It needs a
reason, and it is refused on a read-only store (exit 2) like any write.

Exit 0 when written; 2 when refused (unknown or ambiguous id, an action that
did not win, read-only, not confirmed); 3 when the key changed since.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return runRevert(cmd.Context(), env, g, in, a[0], f)
		},
	}
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required; written to the audit log)")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	addAllowOutside(cmd, &f)
	return cmd
}

// runRevert reverts the audit entry id. As for the other write commands,
// everything that can be refused is refused before the store is written
// and before anyone is asked to confirm (exit 2): the reason, the entry
// (known, unique, won), its store (configured, writable, the one --store
// names if any), the audit log, then the lease core's check of the request.
func runRevert(ctx context.Context, env Env, g *globals, in *interrupts, id string, f writeFlags) error {
	if err := lease.CheckReason(lease.ActionRevert, f.reason); err != nil {
		return usageErrorf("revert: --reason: %w", err)
	}
	c, err := loadConfig(g)
	if err != nil {
		return err
	}
	entries, err := audit.ReadFile(c.AuditLog)
	if err != nil {
		return err
	}
	e, err := audit.Find(entries, id)
	if errors.Is(err, audit.ErrNoEntry) && len(entries) == 0 {
		return usageErrorf("revert: %w: the audit log %s has no entries", err, c.AuditLog)
	}
	if err != nil {
		return usageErrorf("revert: %w (see leasectl audit)", err)
	}
	req, err := audit.RevertRequest(e, f.reason)
	if err != nil {
		return usageErrorf("revert: %w", err)
	}
	if len(g.stores) > 1 || len(g.stores) == 1 && g.stores[0] != e.Store {
		return usageErrorf("revert: %s was on store %s, not on --store %s", safetext.Clean(e.ID), safetext.Clean(e.Store), safetext.Clean(g.stores[0]))
	}
	sel, err := c.Find([]string{e.Store})
	if err != nil {
		return &exitError{ExitUsage, fmt.Errorf("revert: %s was on store %s, which is not configured: %w", safetext.Clean(e.ID), safetext.Clean(e.Store), err)}
	}
	s := sel[0]
	w, closeStore, err := openWriter(ctx, env, g, in, c, s, f.allowOutside)
	if err != nil {
		return err
	}
	defer closeStore()
	op := w.op
	if err := w.check(req); err != nil {
		return err
	}
	now, err := op.Inspect(ctx, req.Key)
	if err != nil {
		return err
	}
	// When the key has moved on there is nothing to confirm: the lease
	// core refuses the revert as changed and audits the attempt.
	if now.Revision() == req.Seen {
		fmt.Fprintln(env.Stderr, "reverting "+auditEntryLine(e))
		w.printObservation("before", now)
		back := lease.Observe(s.Name, stores.Entry{Key: req.Key, Value: req.Value}, true, env.now(), op.Thresholds())
		fmt.Fprintf(env.Stderr, "%-8s %s\n", "after:", describe(back))
		fmt.Fprintf(env.Stderr, "         %s\n", rawPreview(req.Value))
		if err := w.ask(ctx, lease.ActionRevert, now, f.yes); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stderr, "%s/%s is no longer at revision %d, which %s wrote: something has written it since\n",
			safetext.Clean(s.Name), safetext.Key(req.Key), req.Seen, safetext.Clean(e.ID))
	}
	return w.do(ctx, req)
}

// describe is an observation's state in words, cleaned: "held by node-a",
// "tombstone", "corrupt: …".
func describe(o lease.Observation) string {
	desc := o.Status.State.String()
	switch o.Status.State {
	case lease.Held, lease.Expired:
		desc += " by " + safetext.Clean(o.Status.Record.HolderID)
	case lease.Corrupt:
		desc += ": " + safetext.Clean(o.Status.Reason)
	}
	return desc
}
