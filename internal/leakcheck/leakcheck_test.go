package leakcheck

import (
	"runtime"
	"testing"
)

func TestGoroutinesSettle(t *testing.T) {
	before := runtime.NumGoroutine()
	done := make(chan struct{})
	go func() { <-done }()
	close(done)
	Goroutines(t, before) // the goroutine ends a moment after close
}
