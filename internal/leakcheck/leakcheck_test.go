package leakcheck

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGoroutinesSettle(t *testing.T) {
	before := runtime.NumGoroutine()
	done := make(chan struct{})
	go func() { <-done }()
	close(done)
	Goroutines(t, before) // the goroutine ends a moment after close
}

// TestGoroutinesLeak checks that a goroutine that never ends fails the
// check, and that the failure dumps it.
func TestGoroutinesLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go blockUntil(stop) // the leak

	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A short deadline: the leak never ends, however long it is.
		goroutines(rec, before, 100*time.Millisecond)
	}()
	<-done

	failed, msg := rec.result()
	if !failed {
		t.Fatalf("goroutines(%d) with a goroutine that never ends did not fail", before)
	}
	if !strings.Contains(msg, fmt.Sprintf("want at most %d", before)) || !strings.Contains(msg, "leakcheck.blockUntil(") {
		t.Errorf("goroutines(%d) failed with %q, want the count and a dump naming leakcheck.blockUntil", before, msg)
	}
}

// blockUntil returns when stop is closed; its name shows in a goroutine dump.
func blockUntil(stop <-chan struct{}) { <-stop }

// recorder is a testing.TB that records a failure instead of failing the
// test; like testing.T, Fatalf ends the goroutine that calls it.
type recorder struct {
	testing.TB

	mu     sync.Mutex
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msg += fmt.Sprintf(format, args...)
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) result() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed, r.msg
}
