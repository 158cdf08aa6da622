package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The interrupt policy. An interrupt (SIGINT, SIGTERM, or SIGHUP when the
// terminal goes away) that arrives while no store write is in flight —
// loading the config, dialling, reading the key, waiting at the
// confirmation prompt — stops the command at once: nothing was written.
// Once the operator action has started (the lease core's call, which audits
// an intent, reads and writes), the first interrupt only says that the
// write in flight will be finished, so that the audit log and the exit code
// tell the true outcome; a second one cancels the action, and the core then
// reads the key back and records what it holds (won, unknown, or cancelled
// when the write was not sent yet).
//
// The action as a whole gives up at its deadline, --timeout after it began
// (each store call is bounded by --timeout too): nothing is sent after it.
// When the store is slow to answer, the command says so and when it will
// give up, so that the operator is never left waiting without knowing how
// long, or how to stop it.

// errInterrupted is why a command stopped when the operator interrupted it
// before any write began.
var errInterrupted = errors.New("interrupted; nothing was written")

// interruptError is an interrupt by a signal; it matches errInterrupted.
type interruptError struct{ sig os.Signal }

func (e *interruptError) Error() string        { return "signal " + e.sig.String() }
func (e *interruptError) Is(target error) bool { return target == errInterrupted }

// slowAction is how long an operator action runs before the command says
// that it is waiting for the store, and until when: long past a healthy
// store's answer, soon enough that nobody wonders whether it hangs.
const slowAction = time.Second

// gaveUpError is why an operator action's context ended at its deadline.
type gaveUpError struct{ timeout time.Duration }

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("no outcome within --timeout %v", e.timeout)
}

// Unwrap makes the deadline match context.DeadlineExceeded.
func (e *gaveUpError) Unwrap() error { return context.DeadlineExceeded }

// interrupts applies the policy to the signals of one command run.
type interrupts struct {
	stderr io.Writer
	cancel context.CancelCauseFunc // ends the command's context
	// slow is how long an action runs before the command says it waits
	// (slowAction; tests shorten it).
	slow time.Duration

	mu sync.Mutex
	// action cancels the operator action in flight; nil when none runs.
	action context.CancelCauseFunc
	// deadline is when the action in flight gives up.
	deadline time.Time
	// warned is set once the first interrupt during the action was told
	// the write would be finished.
	warned bool
	// began is set once an operator action has started: from then on the
	// command may have written, and an interrupt is no excuse.
	began bool

	quit chan struct{}
	done chan struct{}
}

// watchInterrupts returns the command's context, cancelled by an interrupt
// while no write is in flight, and the policy watching sigs (nil: none).
func watchInterrupts(ctx context.Context, sigs <-chan os.Signal, stderr io.Writer) (context.Context, *interrupts) {
	ctx, cancel := context.WithCancelCause(ctx)
	in := &interrupts{stderr: stderr, cancel: cancel, slow: slowAction, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(in.done)
		for {
			select {
			case sig := <-sigs:
				in.handle(sig)
			case <-in.quit:
				return
			}
		}
	}()
	return ctx, in
}

// handle applies the policy to one signal.
func (in *interrupts) handle(sig os.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.action == nil:
		in.cancel(&interruptError{sig})
	case !in.warned:
		in.warned = true
		fmt.Fprintf(in.stderr, "\nleasectl: %v: finishing the write in flight; interrupt again to abandon it (it gives up at %s by itself)\n",
			sig, in.deadline.Format(time.TimeOnly))
	default:
		fmt.Fprintf(in.stderr, "leasectl: %v again: abandoning the write in flight; reading the key back to record what it holds\n", sig)
		in.action(&interruptError{sig})
	}
}

// begin marks the start of an operator action and returns its context,
// which only a second interrupt cancels before its deadline, timeout from
// now, and the function that marks its end. Should the action still run
// after in.slow, it says on stderr that it is waiting for the store and
// when it will give up. begin fails with the interruption when the command
// was interrupted before: then nothing was written.
func (in *interrupts) begin(ctx context.Context, timeout time.Duration) (context.Context, func(), error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	actx, cancel := context.WithCancelCause(ctx)
	deadline := time.Now().Add(timeout)
	actx, stop := context.WithDeadlineCause(actx, deadline, &gaveUpError{timeout})
	in.action, in.deadline, in.began, in.warned = cancel, deadline, true, false
	slow := time.AfterFunc(in.slow, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.action != nil && actx.Err() == nil {
			fmt.Fprintf(in.stderr, "leasectl: waiting for the store (gives up at %s; interrupt twice to abandon)\n", deadline.Format(time.TimeOnly))
		}
	})
	return actx, func() {
		slow.Stop()
		in.mu.Lock()
		in.action = nil
		in.mu.Unlock()
		stop()
		cancel(nil)
	}, nil
}

// interruption returns errInterrupted (wrapping the signal) when ctx was
// ended by an interrupt before any operator action began, else nil.
func (in *interrupts) interruption(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.began || ctx.Err() == nil || !errors.Is(context.Cause(ctx), errInterrupted) {
		return nil
	}
	return fmt.Errorf("%w (%w)", errInterrupted, context.Cause(ctx))
}

// stop stops watching the signals.
func (in *interrupts) stop() {
	close(in.quit)
	<-in.done
	in.cancel(nil)
}
