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
)

func newListCmd(env Env, g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ls [PREFIX] [--store NAME]... [-o table|json]",
		Short: "List every lease under PREFIX in the configured stores, classified",
		Long: `ls lists every key under PREFIX (within each store's configured prefix or
bucket) with its state (absent, tombstone, held, expired, corrupt), flags,
holder, expiry and revision. Stores are listed in parallel, one listing each.
A store that cannot be reached is reported on stderr and makes the exit code 1;
the others are still listed.

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
			results := make([][]lease.Observation, len(sel))
			errs := make([]error, len(sel))
			var wg sync.WaitGroup
			for i, s := range sel {
				prefix, ok := scopedPrefix(s.Prefix, asked)
				if !ok {
					continue
				}
				wg.Go(func() {
					results[i], errs[i] = listStore(cmd.Context(), c, s, prefix, now, g.timeout)
				})
			}
			wg.Wait()
			var all []lease.Observation
			for _, r := range results {
				all = append(all, r...)
			}
			if format == formatJSON {
				views := make([]leaseJSON, len(all))
				for i, o := range all {
					views[i] = observationJSON(o, false)
				}
				if err := writeJSON(env.Stdout, views); err != nil {
					return err
				}
			} else if err := writeTable(env.Stdout, all, now, env.width()); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}

// listStore lists one store with a single List call and classifies every
// entry at now. Dialling and listing are each given timeout.
func listStore(ctx context.Context, c *config.Config, s config.Store, prefix string, now time.Time, timeout time.Duration) ([]lease.Observation, error) {
	o, err := open(ctx, c, s, timeout)
	if err != nil {
		return nil, err
	}
	defer o.close()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entries, err := o.store.List(lctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("store %s: list %q: %w", s.Name, prefix, err)
	}
	th := lease.DefaultThresholds()
	obs := make([]lease.Observation, len(entries))
	for i, e := range entries {
		obs[i] = lease.Observe(s.Name, e, true, now, th)
	}
	return obs, nil
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
