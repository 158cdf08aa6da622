// Package site is the browser console's static site (the page, the
// console compiled to WebAssembly, wasm_exec.js and xterm.js), embedded in
// the leasectl binary for `leasectl serve`. scripts/build-wasm.sh writes it
// into dist/ before the binary is built; a binary built without it embeds
// only dist/README, and Built reports false.
package site

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed all:dist
var dist embed.FS

// files is dist/ as the site's root.
var files, _ = fs.Sub(dist, "dist")

// Built reports whether the console was built into this binary.
func Built() bool {
	_, err := fs.Stat(files, "leasectl.wasm")
	return err == nil
}

// Handler serves the site.
func Handler() http.Handler {
	return http.FileServerFS(files)
}
