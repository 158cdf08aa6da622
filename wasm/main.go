//go:build js && wasm

// Command wasm is leasectl's console in a browser: the same Bubble Tea model
// as the terminal console (package tui), drawn by xterm.js. One build runs
// in two places:
//
//   - served by `leasectl serve` (the page's GET of webapi.PathSession
//     answers), the console shows the gateway's stores, each on a
//     webclient Backend, as the session's operator; without a session yet
//     it logs in with the token of the page's fragment (#token=…), or
//     asks the page for one (leasectl.askToken);
//   - anywhere else (a static server answering 404, no server at all), it
//     shows the demo fleet (package demo) on an in-memory store, and
//     nothing leaves the page.
//
// scripts/build-wasm.sh builds it into build/wasm/ (and site/dist/) beside
// the page of assets/. The page and this program talk through one object
// the page sets on globalThis before it runs the program:
//
//	leasectl.write(bytes)     the program's output (a Uint8Array) for term.write
//	leasectl.size()           the terminal's size, {cols, rows}
//	leasectl.askToken(prompt) a promise of the token the operator enters
//	leasectl.exited(err)      the program ended; err is "" or why it failed
//
// to which the program adds, before the page's next event can fire:
//
//	leasectl.input(data)         what term.onData reported (keys, pastes,
//	                             replies to the program's queries)
//	leasectl.resize(cols, rows)  what term.onResize reported
//
// In the demo the audit trail is in memory: it still has to exist, because
// the lease core refuses operator writes without one. Served, the gateway
// audits, as the session's operator.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall/js"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/leasectl/leasectl/demo"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/tui"
)

// hostName is the global the page sets (see the package doc).
const hostName = "leasectl"

// Who the browser's operator actions are written as, in the records and the
// audit trail: a visitor of the page has no name to give.
const (
	operator = "browser"
	host     = "browser"
)

// environ is the program's environment: xterm.js understands everything an
// xterm-256color with true colour does.
var environ = []string{"TERM=xterm-256color", "COLORTERM=truecolor"}

func main() {
	page := js.Global().Get(hostName)
	err := run(page)
	msg := ""
	if err != nil {
		msg = err.Error()
		fmt.Fprintln(os.Stderr, msg) // the browser's console
	}
	if page.Type() == js.TypeObject && page.Get("exited").Type() == js.TypeFunction {
		page.Call("exited", msg)
	}
}

// run shows the console in the page's terminal until the operator quits:
// the gateway's stores when a gateway served the page, else the demo.
func run(page js.Value) error {
	if page.Type() != js.TypeObject {
		return fmt.Errorf("wasm: no globalThis.%s: open the console through its index.html", hostName)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	opts, err := served(ctx, page)
	switch {
	case errors.Is(err, errNoGateway):
		return runDemo(ctx, page)
	case err != nil:
		return err
	}
	return show(ctx, page, tui.New(opts))
}

// runDemo shows the demo fleet.
func runDemo(ctx context.Context, page js.Value) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	store := memory.New()
	defer store.Close()
	fleet, err := demo.Start(ctx, store)
	if err != nil {
		return fmt.Errorf("wasm: %w", err)
	}
	defer func() {
		cancel()     // stop the fleet…
		fleet.Wait() // …before its store closes
	}()

	// The same local backend as the terminal's demo: the lease core on the
	// memory store, audited (in memory) because it refuses writes without.
	op, err := lease.NewOperator(store, demo.StoreName, operator, lease.WithAuditor(&memoryAuditor{}), lease.WithHost(host))
	if err != nil {
		return fmt.Errorf("wasm: %w", err)
	}
	backend := tui.NewLocal(store, "", op)
	model := tui.New(tui.Options{
		Sources: []tui.Source{{
			Name: demo.StoreName,
			Kind: "memory",
			Connect: func(context.Context) (tui.Backend, func() error, error) {
				// The store outlives the console's session: run closes it
				// once the fleet has stopped writing.
				return backend, nil, nil
			},
		}},
		Demo:     true,
		Operator: operator,
	})
	return show(ctx, page, model)
}

// show runs model in the page's terminal until the operator quits.
func show(ctx context.Context, page js.Value, model tui.Model) error {
	term := newTerminal(page)
	defer term.close()
	cols, rows := term.size()
	p := tea.NewProgram(model,
		tea.WithContext(ctx),
		tea.WithInput(term.input),
		tea.WithOutput(term),
		tea.WithEnvironment(environ),
		tea.WithColorProfile(colorprofile.TrueColor),
		tea.WithWindowSize(cols, rows),
		tea.WithoutSignalHandler(), // a page has no signals
	)
	term.listen(ctx, p)

	final, err := p.Run()
	if errors.Is(err, tea.ErrInterrupted) {
		err = nil // ctrl+c is one way to quit
	}
	if m, ok := final.(tui.Model); ok {
		err = errors.Join(err, m.Close())
	}
	if err != nil {
		return fmt.Errorf("wasm: %w", err)
	}
	return nil
}
