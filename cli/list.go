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
holder, expiry and revision. Stores are listed in parallel, one listing each.
A store that cannot be reached is reported on stderr and makes the exit code 1;
the others are still listed.`,
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
					ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
					defer cancel()
					results[i], errs[i] = listStore(ctx, c, s, prefix, now)
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
			} else if err := writeTable(env.Stdout, all, now); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}

// listStore lists one store with a single List call and classifies every
// entry at now.
func listStore(ctx context.Context, c *config.Config, s config.Store, prefix string, now time.Time) ([]lease.Observation, error) {
	o, err := open(ctx, c, s)
	if err != nil {
		return nil, err
	}
	defer o.close()
	entries, err := o.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("store %s: list %q: %w", s.Name, prefix, err)
	}
	obs := make([]lease.Observation, len(entries))
	for i, e := range entries {
		obs[i] = lease.Observation{Store: s.Name, Key: e.Key, Found: true, Entry: e, Status: lease.Classify(e.Value, now, lease.DefaultThresholds())}
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
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			o, err := open(ctx, c, s)
			if err != nil {
				return err
			}
			defer o.close()
			op, err := newOperator(c, o, env)
			if err != nil {
				return err
			}
			obs, err := op.Inspect(ctx, a[0])
			if err != nil {
				return keyError(err)
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

// keyError makes an invalid key a usage error (exit 2).
func keyError(err error) error {
	if errors.Is(err, stores.ErrInvalidKey) {
		return &exitError{ExitUsage, err}
	}
	return err
}
