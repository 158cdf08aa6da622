//go:build js

// This file is leasectl's, not atotto/clipboard's: scripts/build-wasm.sh
// adds it to a copy of github.com/atotto/clipboard so that bubbles (its
// textinput imports the package) builds for GOOS=js. v0.1.4 defines readAll
// and writeAll only for darwin, windows, plan9 and unix (xclip, xsel,
// wl-clipboard). The browser's clipboard API is asynchronous and needs a
// user gesture, so the shim reports the clipboard as unsupported; pasting
// still works, since xterm.js sends a paste to the program as input.

package clipboard

import "errors"

// errUnsupported is what ReadAll and WriteAll return in a browser.
var errUnsupported = errors.New("clipboard: not supported in the browser")

func init() { Unsupported = true }

func readAll() (string, error) { return "", errUnsupported }

func writeAll(string) error { return errUnsupported }
