//go:build js

// This file is leasectl's, not Bubble Tea's: scripts/build-wasm.sh adds it
// to a copy of charm.land/bubbletea/v2 so that the console builds for
// GOOS=js. Bubble Tea v2.1.1 defines these four names only in tty_unix.go,
// signals_unix.go (unix) and tty_windows.go, signals_windows.go (windows).
// In a browser there is no tty, no signal and no process to suspend: input
// and output are the xterm.js bridge of package main in wasm/, and the page
// reports resizes as tea.WindowSizeMsg.

package tea

// initInput leaves ttyInput and ttyOutput nil: the program's input and
// output are never terminal files in a browser, so there is no raw mode to
// enter or restore.
func (p *Program) initInput() error { return nil }

// suspendSupported is false: there is no job control in a browser, so
// tea.SuspendMsg is ignored, as on windows.
const suspendSupported = false

// suspendProcess is never called, since suspendSupported is false.
func suspendProcess() {}

// listenForResize is only started when ttyOutput is set, which initInput
// never does; if it runs anyway it reports at once that it is done, as on
// windows.
func (p *Program) listenForResize(done chan struct{}) { close(done) }
