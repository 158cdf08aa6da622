package cli

import (
	"context"
	"fmt"
)

// runConsole opens the operator console. Until the terminal UI lands it
// prints where to start instead.
func runConsole(_ context.Context, env Env, _ *globals) error {
	fmt.Fprintln(env.Stdout, `leasectl: the console is not built yet. Start with:
  leasectl ls                 every lease in the configured stores
  leasectl decode < VALUE     classify raw lease bytes
  leasectl --help             every command`)
	return nil
}
