package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// maxDecodeInput bounds what decode reads from stdin: a lease record is a
// few hundred bytes, and stores cap values well below this.
const maxDecodeInput = 16 << 20

func newDecodeCmd(env Env) *cobra.Command {
	var (
		now    int64
		format string
	)
	cmd := &cobra.Command{
		Use:   "decode [--now UNIX] [-o table|json] < VALUE",
		Short: "Classify raw lease bytes read from stdin, offline",
		Long: `decode reads a stored lease value from stdin, byte for byte (an empty input is
a tombstone), and prints its state, flags and fields as leasectl and the Rust
fleets judge it. For a corrupt value it says why.`,
		Example: `  printf '%s' '{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}' | leasectl decode
  etcdctl get --print-value-only exports/orders | head -c -1 | leasectl decode -o json`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			at := env.now()
			if cmd.Flags().Changed("now") {
				if now < 0 {
					return usageErrorf("--now %d: want seconds since the epoch, not negative", now)
				}
				at = time.Unix(now, 0)
			}
			raw, err := io.ReadAll(io.LimitReader(env.Stdin, maxDecodeInput+1))
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			if len(raw) > maxDecodeInput {
				return usageErrorf("stdin holds more than %d bytes: not a lease value", maxDecodeInput)
			}
			obs := lease.Observe("", stores.Entry{Value: raw}, true, at, lease.DefaultThresholds())
			if format == formatJSON {
				return writeJSON(env.Stdout, statusJSON(obs.Status, raw, true))
			}
			return writeDetail(env.Stdout, obs, at)
		},
	}
	cmd.Flags().Int64Var(&now, "now", 0, "judge expiry at this Unix time (default: the local clock)")
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
