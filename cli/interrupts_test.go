package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer written by a command while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually waits until cond holds, failing the test after a generous
// bound (a hang, not a slow machine).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInterruptPolicy(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Run("before a write", func(t *testing.T) {
				sigs := make(chan os.Signal, 1)
				var stderr lockedBuffer
				ctx, in := watchInterrupts(t.Context(), sigs, &stderr)
				defer in.stop()
				sigs <- sig
				<-ctx.Done()
				if err := in.interruption(ctx); !errors.Is(err, errInterrupted) {
					t.Errorf("interruption() = %v, want errInterrupted", err)
				}
				if _, _, err := in.begin(ctx, time.Minute); !errors.Is(err, errInterrupted) {
					t.Errorf("begin after the interrupt = %v, want errInterrupted: nothing may start", err)
				}
			})
			t.Run("during a write", func(t *testing.T) {
				sigs := make(chan os.Signal, 1)
				var stderr lockedBuffer
				ctx, in := watchInterrupts(t.Context(), sigs, &stderr)
				defer in.stop()
				actx, done, err := in.begin(ctx, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				sigs <- sig
				eventually(t, "the first interrupt is answered", func() bool {
					return strings.Contains(stderr.String(), "finishing the write in flight; interrupt again to abandon it")
				})
				if actx.Err() != nil || ctx.Err() != nil {
					t.Fatalf("the first interrupt during a write cancelled it: %v, %v", context.Cause(actx), context.Cause(ctx))
				}
				sigs <- sig
				<-actx.Done()
				if !errors.Is(context.Cause(actx), errInterrupted) || ctx.Err() != nil {
					t.Errorf("after the second interrupt: action %v, command %v; want the action alone cancelled", context.Cause(actx), ctx.Err())
				}
				done()
				sigs <- sig // after the write: the command stops, but it may have written
				<-ctx.Done()
				if err := in.interruption(ctx); err != nil {
					t.Errorf("interruption() after a write = %v, want nil: something may have been written", err)
				}
			})
		})
	}
}

// TestInterruptAtPrompt interrupts the confirmation prompt: the command
// stops at once, without an answer, and writes nothing.
func TestInterruptAtPrompt(t *testing.T) {
	f := newFixture(t)
	rev := f.put(t, "exports/orders", liveRecord("node-a"))
	pr, pw := io.Pipe() // nobody ever answers
	t.Cleanup(func() { pw.Close() })
	sigs := make(chan os.Signal, 1)
	var stdout, stderr lockedBuffer
	env := Env{Stdin: pr, Stdout: &stdout, Stderr: &stderr, IsTerminal: func() bool { return true }, Signals: sigs}
	code := make(chan int, 1)
	go func() {
		code <- Main(t.Context(), []string{"--config", f.config, "takeover", "exports/orders", "--store", "fleet", "--ttl", "1m", "--reason", "r"}, env)
	}()
	eventually(t, "the prompt", func() bool { return strings.Contains(stderr.String(), `Type orders to takeover`) })
	sigs <- os.Interrupt
	if c := <-code; c != ExitError || !strings.Contains(stderr.String(), "interrupted; nothing was written") {
		t.Errorf("takeover interrupted at the prompt = exit %d %q; want 1, interrupted; nothing was written", c, stderr.String())
	}
	if e := f.get(t, "exports/orders"); e.Revision != rev {
		t.Error("an interrupted takeover wrote")
	}
	if got := f.auditTrail(t); len(got) != 0 {
		t.Errorf("an interrupted takeover was audited: %v", got)
	}
}

// TestActionDeadline checks that an operator action gives up at its
// deadline, with a cause that is no interrupt, and that an action the store
// is slow to answer says so and when it will give up.
func TestActionDeadline(t *testing.T) {
	t.Run("slow", func(t *testing.T) {
		var stderr lockedBuffer
		ctx, in := watchInterrupts(t.Context(), nil, &stderr)
		defer in.stop()
		in.slow = 10 * time.Millisecond
		_, done, err := in.begin(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		notice := regexp.MustCompile(`leasectl: waiting for the store \(gives up at \d\d:\d\d:\d\d; interrupt twice to abandon\)`)
		eventually(t, "the slow action's notice", func() bool { return notice.MatchString(stderr.String()) })
	})
	t.Run("deadline", func(t *testing.T) {
		var stderr lockedBuffer
		ctx, in := watchInterrupts(t.Context(), nil, &stderr)
		defer in.stop()
		actx, done, err := in.begin(ctx, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		<-actx.Done()
		cause := context.Cause(actx)
		if !errors.Is(cause, context.DeadlineExceeded) || errors.Is(cause, errInterrupted) || !strings.Contains(cause.Error(), "--timeout 10ms") {
			t.Errorf("cause at the deadline = %v, want a deadline naming --timeout 10ms, not an interrupt", cause)
		}
		if ctx.Err() != nil {
			t.Errorf("the action's deadline ended the command: %v", context.Cause(ctx))
		}
	})
}
