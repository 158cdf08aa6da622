// Command brotli writes FILE.br beside each FILE named on its command line,
// compressed with Brotli at quality 11 (the best) and the largest window:
// scripts/build-wasm.sh precompresses the browser console's site with it,
// so that `leasectl serve` sends Content-Encoding: br without compressing
// at request time. It is its own module, like tools/consul, so that the
// compressor stays out of leasectl's go.mod and binary:
//
//	(cd tools/brotli && GOWORK=off go run . /abs/path/site/file.wasm ...)
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: brotli FILE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		if err := compress(name); err != nil {
			fmt.Fprintf(os.Stderr, "brotli: %v\n", err)
			os.Exit(1)
		}
	}
}

// compress writes name+".br" through a temporary file renamed into place,
// so that a failed run leaves no truncated .br to be served.
func compress(name string) error {
	in, err := os.Open(name)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(name), ".brotli-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	w := brotli.NewWriterOptions(tmp, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := io.Copy(w, in); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name+".br")
}
