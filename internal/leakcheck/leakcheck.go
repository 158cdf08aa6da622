// Package leakcheck checks in tests that goroutines started by a server or
// client have ended once it is closed.
package leakcheck

import (
	"runtime"
	"testing"
	"time"
)

// settle is how long shutdown goroutines get to finish: closing a server
// or a connection ends its goroutines a moment later, not at once.
const settle = 10 * time.Second

// Goroutines fails t, with a dump of every goroutine, unless the number of
// goroutines falls back to at most want within a generous deadline.
func Goroutines(t testing.TB, want int) {
	t.Helper()
	goroutines(t, want, settle)
}

// goroutines is Goroutines with the deadline as a parameter, so that the
// package's own test can watch it fail without waiting ten seconds.
func goroutines(t testing.TB, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after Close, want at most %d:\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
