//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The benchmark reads /proc and rusage and drives tmux: Linux only.
func main() {
	fmt.Fprintln(os.Stderr, "bench/scale runs on Linux only: it reads /proc and rusage and drives tmux")
	os.Exit(2)
}
