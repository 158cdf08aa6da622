//go:build !linux

package main

import (
	"fmt"
	"os"
)

// rusage reports ru_maxrss in Linux's unit, for bench/scale, which runs on
// Linux only.
func main() {
	fmt.Fprintln(os.Stderr, "rusage: Linux only")
	os.Exit(2)
}
