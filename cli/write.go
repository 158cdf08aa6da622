package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/safetext"
)

// writeFlags are the flags the write commands share.
type writeFlags struct {
	ttl          time.Duration
	reason       string
	revision     uint64
	yes          bool
	holder       string
	allowOutside bool
}

// allowOutsideFlag lifts the refusal to write outside the store's prefix.
// It is long and plain on purpose: one typo in a key must not overwrite a
// key that is not a lease.
const allowOutsideFlag = "allow-outside-prefix"

func addAllowOutside(cmd *cobra.Command, f *writeFlags) {
	cmd.Flags().BoolVar(&f.allowOutside, allowOutsideFlag, false,
		"write a key outside the store's configured prefix (refused otherwise: a typo could overwrite a key that is not a lease)")
}

func newAcquireCmd(env Env, g *globals, in *interrupts) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "acquire KEY --store NAME --ttl DURATION [--revision N] [--holder ID] [--reason TEXT]",
		Short: "Acquire a lease as the operator, only if it is free",
		Long: `acquire takes a lease as holder operator:<name> (or --holder): it wins only when
the key is absent, a tombstone, expired or corrupt — never over a live lease.
Use it to pause exports during an incident: while the operator holds the
lease, no replica wins a round.

With --revision N it is a compare-and-swap against the revision you saw (with
leasectl get or ls): it writes only if the key is still at revision N (0: you
saw it absent, and the write is a create), else nothing is written and the
new state is shown (exit 3, changed since you looked).

Without --revision it runs the fleet's own algorithm on whatever the key holds
now, as a replica would: for runbooks that did not look first. It may then
take a lease that expired, or a value that became corrupt, after you looked.

Exit 0 when won, 3 when the lease is held or changed since you looked.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := lease.Request{Action: lease.ActionAcquire, Key: a[0], TTL: f.ttl, Reason: f.reason, Holder: f.holder}
			if cmd.Flags().Changed("holder") {
				// An empty holder in a Request means "the operator's".
				if err := lease.CheckHolder(f.holder); err != nil {
					return usageErrorf("--holder: %w", err)
				}
			}
			if cmd.Flags().Changed("revision") {
				req.Seen = f.revision
			} else {
				req.AnyRevision = true
			}
			return runWrite(cmd.Context(), env, g, in, req, cmd.Flags().Changed("revision"), f)
		},
	}
	cmd.Flags().DurationVar(&f.ttl, "ttl", 0, fmt.Sprintf("how long the lease is held (required, %v to %v)", lease.MinTTL, lease.MaxTTL))
	cmd.Flags().Uint64Var(&f.revision, "revision", 0, "the revision you saw (0: absent); write only if the key is still there")
	cmd.Flags().StringVar(&f.holder, "holder", "", "holder id to write (default operator:<operator>)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (optional; written to the audit log)")
	addAllowOutside(cmd, &f)
	return cmd
}

func newTakeoverCmd(env Env, g *globals, in *interrupts) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "takeover KEY --store NAME --ttl DURATION --reason TEXT [--revision N] [--yes]",
		Short: "Force a fresh operator record over whatever is there, even a live lease",
		Long: `takeover CAS-writes a fresh record held by operator:<name> over the current
value, even a live lease. It writes only if the key is still at the revision
you saw: --revision N pins it; without it, leasectl reads the key. When the key
is at that revision, leasectl shows the before and after records and asks you
to type the key's last segment (--yes skips the question). If the key changed
since, nothing is written, the new state is shown (exit 3) and the attempt is
audited.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := lease.Request{Action: lease.ActionTakeover, Key: a[0], TTL: f.ttl, Reason: f.reason, Seen: f.revision}
			return runWrite(cmd.Context(), env, g, in, req, cmd.Flags().Changed("revision"), f)
		},
	}
	cmd.Flags().DurationVar(&f.ttl, "ttl", 0, fmt.Sprintf("how long the operator holds the lease (required, %v to %v)", lease.MinTTL, lease.MaxTTL))
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required; written to the audit log)")
	cmd.Flags().Uint64Var(&f.revision, "revision", 0, "the revision you saw; refuse if the key changed since")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	addAllowOutside(cmd, &f)
	return cmd
}

func newReleaseCmd(env Env, g *globals, in *interrupts) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:   "release KEY --store NAME --reason TEXT [--revision N] [--yes]",
		Short: "CAS-write a tombstone so the fleet's next trigger wins at once",
		Long: `release writes an empty value (a tombstone, never a delete) over the lease if it
is still at the revision you saw, so the next trigger of any replica wins
immediately. --revision N pins the revision; without it leasectl reads the
key. When the key is at that revision, leasectl shows it and asks you to
confirm (--yes skips the question); if it changed since, nothing is written
(exit 3) and the attempt is audited. An absent key or a tombstone has nothing
to release (exit 2).`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := lease.Request{Action: lease.ActionRelease, Key: a[0], Reason: f.reason, Seen: f.revision}
			return runWrite(cmd.Context(), env, g, in, req, cmd.Flags().Changed("revision"), f)
		},
	}
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required; written to the audit log)")
	cmd.Flags().Uint64Var(&f.revision, "revision", 0, "the revision you saw; refuse if the key changed since")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	addAllowOutside(cmd, &f)
	return cmd
}

// writer is what a write command needs once the store is open.
type writer struct {
	env   Env
	store config.Store
	op    *lease.Operator
	in    *interrupts
	// timeout is --timeout: it bounds each store call, and the action.
	timeout time.Duration
}

// openWriter makes the writer of an operator action on store s: it refuses
// a read-only store and an audit log that cannot be written, opens the
// store and builds the lease operator, audited, bounded by --timeout and
// scoped to the store's prefix unless allowOutside. closeStore closes the
// store.
func openWriter(ctx context.Context, env Env, g *globals, in *interrupts, c *config.Config, s config.Store, allowOutside bool) (w *writer, closeStore func(), err error) {
	if err := writable(c, s); err != nil {
		return nil, nil, err
	}
	log, err := audit.NewFile(c.AuditLog, audit.WithWarn(func(msg string) {
		fmt.Fprintln(env.Stderr, "leasectl: warning:", msg)
	}))
	if err != nil {
		return nil, nil, err
	}
	if err := log.Check(); err != nil {
		return nil, nil, fmt.Errorf("refusing to write: the audit log is not writable: %w", err)
	}
	o, err := open(ctx, c, s, g.timeout)
	if err != nil {
		return nil, nil, err
	}
	scope := s.Prefix
	if allowOutside {
		scope = ""
	}
	op, err := newOperator(c, o, env, lease.WithAuditor(log), lease.WithCallTimeout(g.timeout), lease.WithScope(scope))
	if err != nil {
		o.close()
		return nil, nil, err
	}
	return &writer{env: env, store: s, op: op, in: in, timeout: g.timeout}, o.close, nil
}

// runWrite runs one operator action. Everything that can be refused is
// refused before the store is written, and before anyone is asked to
// confirm (exit 2): the rules that need no store, the config, a read-only
// store, an unwritable audit log, then the lease core's own check of the
// request. pinned says whether the operator gave --revision.
//
// A takeover or release shows what it acts on and asks for confirmation
// when the key is at the revision it will be pinned to: the one given, or
// the one just read. When a given revision is stale there is nothing the
// operator saw to confirm: the request goes straight to the lease core,
// which refuses it as changed and audits the attempt.
func runWrite(ctx context.Context, env Env, g *globals, in *interrupts, req lease.Request, pinned bool, f writeFlags) error {
	if req.Action != lease.ActionRelease {
		if err := lease.CheckTTL(req.TTL); err != nil {
			return usageErrorf("%s: --ttl: %w (e.g. --ttl 30m)", req.Action, err)
		}
	}
	if err := lease.CheckReason(req.Action, req.Reason); err != nil {
		return usageErrorf("%s: --reason: %w", req.Action, err)
	}
	c, err := loadConfig(g)
	if err != nil {
		return err
	}
	s, err := oneStore(c, g)
	if err != nil {
		return err
	}
	w, closeStore, err := openWriter(ctx, env, g, in, c, s, f.allowOutside)
	if err != nil {
		return err
	}
	defer closeStore()
	op := w.op
	// Refuse before reading the key too. Until it is read, the revision of
	// a release without --revision is not known: check the other rules
	// with any revision.
	probe := req
	if !pinned && req.Action == lease.ActionRelease {
		probe.Seen = 1
	}
	if err := w.check(probe); err != nil {
		return err
	}

	if req.Action != lease.ActionAcquire {
		seen, err := op.Inspect(ctx, req.Key)
		if err != nil {
			return err
		}
		if !pinned {
			req.Seen = seen.Revision()
		}
		if err := w.check(req); err != nil {
			return err
		}
		if seen.Revision() == req.Seen {
			if req.Action == lease.ActionRelease {
				if err := lease.CheckReleasable(seen); err != nil {
					return usageErrorf("%w", err)
				}
			}
			var after []byte
			if req.Action == lease.ActionTakeover {
				after = op.FreshRecord(req.TTL).Encode()
			}
			if err := w.confirm(ctx, req.Action, seen, after, f.yes); err != nil {
				return err
			}
		}
	}
	return w.do(ctx, req)
}

// check applies the lease core's rules to req, with I/O only to the audit
// log's directory: a refusal is a usage error (exit 2) that says how to lift
// it where a flag can.
func (w *writer) check(req lease.Request) error {
	err := w.op.Check(req)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lease.ErrOutsideScope):
		return &exitError{ExitUsage, fmt.Errorf("%w; store %s is configured for the keys under %q (pass --%s to write there anyway)",
			err, w.store.Name, w.store.Prefix, allowOutsideFlag)}
	case errors.Is(err, lease.ErrInvalidRequest):
		return &exitError{ExitUsage, err}
	}
	return err
}

// maxConfirmLine bounds the answer read at the confirmation prompt: the
// word to type is one segment of a key, and a stream without a line break
// (/dev/zero, a runaway paste) must not grow memory without end.
const maxConfirmLine = 4 << 10

// errLineTooLong means the answer at the prompt did not end within
// maxConfirmLine bytes.
var errLineTooLong = errors.New("the answer is too long")

// confirm shows before and after and, unless yes, asks the operator to type
// the key's last segment (lease.ConfirmWord). Without a terminal it refuses
// rather than guess. The wait for the answer is not a store call: no
// timeout runs, and an interrupt ends it at once.
func (w *writer) confirm(ctx context.Context, action lease.Action, seen lease.Observation, after []byte, yes bool) error {
	w.printObservation("before", seen)
	if action == lease.ActionRelease {
		after = []byte{}
	}
	fmt.Fprintf(w.env.Stderr, "after:   %s\n", rawPreview(after))
	return w.ask(ctx, action, seen, yes)
}

// ask asks the operator, unless yes, to type the key's last segment
// (lease.ConfirmWord) to confirm action on seen, the state just shown.
// Without a terminal it refuses rather than guess. The wait for the answer
// is not a store call: no timeout runs, and an interrupt ends it at once.
func (w *writer) ask(ctx context.Context, action lease.Action, seen lease.Observation, yes bool) error {
	if yes {
		return nil
	}
	if !w.env.isTerminal() {
		return usageErrorf("%s: refusing without --yes: no terminal to confirm on", action)
	}
	// The word as safetext.Key shows it: itself when plain, else quoted
	// and escaped (typed with its quotes), so that any key can be confirmed.
	word := safetext.Key(lease.ConfirmWord(seen.Key))
	fmt.Fprintf(w.env.Stderr, "Type %s to %s %s at revision %d: ", word, action, safetext.Key(seen.Key), seen.Revision())
	line, err := readLine(ctx, w.env.Stdin, maxConfirmLine)
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(w.env.Stderr)
		return err
	case errors.Is(err, errLineTooLong):
		fmt.Fprintln(w.env.Stderr)
		return usageErrorf("%s: not confirmed; nothing was written (%v: at most %d bytes)", action, err, maxConfirmLine)
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("read confirmation: %w", err)
	}
	if !lease.Confirmed(seen.Key, line, safetext.Key) {
		return usageErrorf("%s: not confirmed; nothing was written", action)
	}
	return nil
}

// readLine reads one line from r, without its line break, in a goroutine
// of its own so that ctx can end the wait at once (the goroutine then stays
// blocked on r until the process exits). It reads at most max bytes: a
// longer line is errLineTooLong.
func readLine(ctx context.Context, r io.Reader, max int) (string, error) {
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		var line []byte
		buf := make([]byte, 512)
		for {
			n, err := r.Read(buf)
			for _, c := range buf[:n] {
				if c == '\n' {
					ch <- answer{string(line), nil}
					return
				}
				if line = append(line, c); len(line) > max {
					ch <- answer{"", errLineTooLong}
					return
				}
			}
			if err != nil {
				ch <- answer{string(line), err}
				return
			}
		}
	}()
	select {
	case a := <-ch:
		return a.line, a.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// do runs the action in the lease core, under the interrupt policy of an
// action in flight, and reports its outcome.
func (w *writer) do(ctx context.Context, req lease.Request) error {
	actx, done, err := w.in.begin(ctx, w.timeout)
	if err != nil {
		return err
	}
	res, err := w.op.Do(actx, req)
	done()
	return w.report(req, res, err)
}

// printObservation prints one state of the key on stderr, cleaned.
func (w *writer) printObservation(label string, o lease.Observation) {
	fmt.Fprintf(w.env.Stderr, "%-8s %s/%s rev %d: %s\n", label+":", safetext.Clean(w.store.Name), safetext.Key(o.Key), o.Revision(), describe(o))
	if o.Found {
		fmt.Fprintf(w.env.Stderr, "         %s\n", rawPreview(o.Entry.Value))
	}
}

// report prints the outcome of an action the lease core ran and maps it to
// the exit code: 0 won, 3 held or changed since the operator looked, 2
// refused by the rules, 1 for the rest (an error that left the key as it
// was, an outcome the core could not learn, an action abandoned before its
// write, an audit trail that lacks the result).
func (w *writer) report(req lease.Request, res lease.Result, err error) error {
	where := safetext.Clean(w.store.Name) + "/" + safetext.Key(req.Key)
	if errors.Is(err, lease.ErrInvalidRequest) {
		return w.check(req)
	}
	var state error // "not done because of the lease's state"
	var changed *lease.ChangedError
	switch res.Outcome {
	case lease.OutcomeWon:
		fmt.Fprintf(w.env.Stdout, "%s %s: done at revision %d\n", req.Action, where, res.Revision)
		return err // an audit failure after the write: exit 1
	case lease.OutcomeChanged:
		if errors.As(err, &changed) {
			w.printObservation("now", changed.Current)
		}
		state = fmt.Errorf("%s %s: changed since you looked; nothing was written", req.Action, where)
	case lease.OutcomeLost:
		w.printObservation("held", res.Before)
		state = fmt.Errorf("%s %s: not acquired: the lease is held", req.Action, where)
	case lease.OutcomeUnknown:
		return fmt.Errorf("%s %s: the write was sent but its outcome is unknown; it may have landed: check with leasectl get %s --store %s: %w",
			req.Action, where, safetext.Key(req.Key), safetext.Clean(w.store.Name), err)
	case lease.OutcomeCancelled:
		if !errors.Is(err, errInterrupted) {
			// Its deadline (--timeout) passed before the write was sent.
			return fmt.Errorf("%s %s: gave up; nothing was written: %w", req.Action, where, err)
		}
		return fmt.Errorf("%s %s: %w: %w", req.Action, where, errInterrupted, err)
	default:
		return err
	}
	if errors.Is(err, lease.ErrAuditFailed) {
		return errors.Join(state, err) // the trail lacks the result: exit 1
	}
	return stateError(state)
}

// newOperator builds the lease operator for one opened store.
func newOperator(c *config.Config, o *openStore, env Env, opts ...lease.OperatorOption) (*lease.Operator, error) {
	host, _ := os.Hostname()
	opts = append([]lease.OperatorOption{lease.WithOperatorClock(env.now)}, opts...)
	if host != "" {
		opts = append(opts, lease.WithHost(host))
	}
	return lease.NewOperator(o.store, o.conf.Name, c.Operator, opts...)
}
