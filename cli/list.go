package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

func newListCmd(env Env, g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ls [PREFIX] [--store NAME]... [-o table|json]",
		Short: "List every lease under PREFIX in the configured stores, classified",
		Long: `ls lists every key under PREFIX (within each store's configured prefix or
bucket) with its state (absent, tombstone, held, expired, corrupt), flags,
holder, expiry and revision. Stores are listed in parallel, one listing each,
and printed in their configured order, each in key order; -o json is written
as the leases arrive. A store that cannot be reached is reported on stderr and
makes the exit code 1; the others are still listed. A store that fails part way
through its listing is reported with the number of its leases printed before.

In a terminal the table fits its width: long keys lose their middle, never
their last segment, and other long cells their end. Into a pipe or a file
nothing is cut: every key is printed whole, one lease per line.`,
		Args: args(0, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := loadConfig(g)
			if err != nil {
				return err
			}
			sel, err := selectStores(c, g)
			if err != nil {
				return err
			}
			asked := ""
			if len(a) == 1 {
				asked = a[0]
			}
			now := env.now()
			return printLeases(cmd.Context(), env, format, now, len(sel), func(ctx context.Context, i int, sink leaseSink) error {
				prefix, ok := scopedPrefix(sel[i].Prefix, asked)
				if !ok {
					return nil
				}
				return listStore(ctx, c, sel[i], prefix, now, g.timeout, sink)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}

// leaseSink takes one store's leases, in key order, from the goroutine that
// lists the store: an encoder of -o json, or a section of the table.
type leaseSink interface {
	// add takes one lease; o is not kept. An error stops the listing.
	add(o *lease.Observation) error
}

// printLeases lists n stores at once, listOne(i) passing the i-th store's
// leases to sink as the store hands them over, classified, and prints them
// in the order of the stores, each store's in key order: -o json while the
// stores are listed, the table (whose columns are as wide as their widest
// cell) once they are. A store that fails is reported, the others are still
// printed. Nothing holds a listing whole but a driver whose backend makes
// it.
func printLeases(ctx context.Context, env Env, format string, now time.Time, n int, listOne func(ctx context.Context, i int, sink leaseSink) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	if format == formatJSON {
		l := newJSONList(env.Stdout, n, cancel)
		for i := range n {
			e := l.section(i)
			wg.Go(func() {
				defer e.close()
				errs[i] = listOne(ctx, i, e)
			})
		}
		err := l.write()
		wg.Wait()
		if err != nil {
			return err
		}
	} else {
		t := newTable(now, n)
		for i := range n {
			wg.Go(func() { errs[i] = listOne(ctx, i, t.sections[i]) })
		}
		wg.Wait()
		if err := t.write(env.Stdout, env.width()); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// listStore dials one store and lists it (scanStore). Dialling and listing
// are each given timeout; the output never holds the listing up, since
// printLeases' sinks do not wait for it.
func listStore(ctx context.Context, c *config.Config, s config.Store, prefix string, now time.Time, timeout time.Duration, sink leaseSink) error {
	o, err := open(ctx, c, s, timeout)
	if err != nil {
		return err
	}
	defer o.close()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return scanStore(lctx, o.store, s.Name, prefix, now, sink)
}

// scanStore classifies every entry of the store st, named name, under
// prefix at now, in key order, and passes it to sink. A store that fails
// part way has passed on what it listed before, and its error says how many
// leases that was.
func scanStore(ctx context.Context, st stores.Store, name, prefix string, now time.Time, sink leaseSink) error {
	th := lease.DefaultThresholds()
	var o lease.Observation
	n := 0
	err := stores.Scan(ctx, st, prefix, func(e stores.Entry) error {
		o = lease.Observe(name, e, true, now, th)
		if err := sink.add(&o); err != nil {
			return err
		}
		n++
		return nil
	})
	switch {
	case errors.Is(err, errOutput):
		return nil // the output's failure is the command's error
	case err != nil && n > 0:
		return fmt.Errorf("store %s: list %q, after %d leases printed: %w", name, prefix, n, err)
	case err != nil:
		return fmt.Errorf("store %s: list %q: %w", name, prefix, err)
	}
	return nil
}

func newGetCmd(env Env, g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get KEY --store NAME [-o table|json]",
		Short: "Inspect one lease: decoded fields, raw bytes and revision",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := loadConfig(g)
			if err != nil {
				return err
			}
			s, err := oneStore(c, g)
			if err != nil {
				return err
			}
			o, err := open(cmd.Context(), c, s, g.timeout)
			if err != nil {
				return err
			}
			defer o.close()
			op, err := newOperator(c, o, env, lease.WithCallTimeout(g.timeout))
			if err != nil {
				return err
			}
			obs, err := op.Inspect(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(env.Stdout, observationJSON(obs, true))
			}
			return writeDetail(env.Stdout, obs, env.now())
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
