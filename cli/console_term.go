//go:build !js

package cli

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/leasectl/leasectl/tui"
)

// runConsole opens the operator console on the real terminal. The console
// itself (package tui) holds no terminal code; this is its terminal wiring.
func runConsole(ctx context.Context, env Env, g *globals) error {
	isTerm := env.IsTerminal
	if isTerm == nil {
		isTerm = func() bool { return stdinIsTerminal(env.Stdin) }
	}
	if !isTerm() {
		return usageErrorf("the console needs a terminal; for scripts use leasectl ls, get, acquire, takeover or release (see leasectl --help)")
	}
	setup, err := setupConsole(ctx, env, g)
	if err != nil {
		return err
	}
	defer setup.stop()

	model := tui.New(setup.opts)
	p := tea.NewProgram(model,
		// Signals reach the console through ctx alone (Main's interrupt
		// policy cancels it), so that every signal that ends it ends it
		// the same way: the program is stopped, the terminal restored.
		tea.WithContext(ctx),
		tea.WithoutSignalHandler(),
		tea.WithInput(env.Stdin),
		tea.WithOutput(env.Stdout),
	)
	final, err := p.Run()
	var stopped *interruptError
	switch {
	case errors.Is(err, tea.ErrInterrupted):
		err = nil // ctrl+c is one way to quit
	case errors.Is(err, tea.ErrProgramKilled) && errors.As(context.Cause(ctx), &stopped):
		err = nil // stopped by a signal: the terminal is restored
	}
	if m, ok := final.(tui.Model); ok {
		err = errors.Join(err, m.Close())
	} else {
		err = errors.Join(err, model.Close())
	}
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if setup.notice != "" {
		fmt.Fprintln(env.Stderr, setup.notice)
	}
	if stopped != nil {
		return &signalExitError{stopped.sig}
	}
	return nil
}
