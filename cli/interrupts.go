package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// The interrupt policy. An interrupt (SIGINT, SIGTERM) that arrives while
// no store write is in flight — loading the config, dialling, reading the
// key, waiting at the confirmation prompt — stops the command at once:
// nothing was written. Once the operator action has started (the lease
// core's call, which audits an intent, reads and writes), the first
// interrupt only says that the write in flight will be finished, so that the
// audit log and the exit code tell the true outcome; a second one cancels
// the action, and the core then reads the key back and records what it
// holds (won, unknown, or cancelled when the write was not sent yet).

// errInterrupted is why a command stopped when the operator interrupted it
// before any write began.
var errInterrupted = errors.New("interrupted; nothing was written")

// interruptError is an interrupt by a signal; it matches errInterrupted.
type interruptError struct{ sig os.Signal }

func (e *interruptError) Error() string        { return "signal " + e.sig.String() }
func (e *interruptError) Is(target error) bool { return target == errInterrupted }

// interrupts applies the policy to the signals of one command run.
type interrupts struct {
	stderr io.Writer
	cancel context.CancelCauseFunc // ends the command's context

	mu sync.Mutex
	// action cancels the operator action in flight; nil when none runs.
	action context.CancelCauseFunc
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
	in := &interrupts{stderr: stderr, cancel: cancel, quit: make(chan struct{}), done: make(chan struct{})}
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
		fmt.Fprintf(in.stderr, "\nleasectl: %v: finishing the write in flight; interrupt again to abandon it\n", sig)
	default:
		fmt.Fprintf(in.stderr, "leasectl: %v again: abandoning the write in flight; reading the key back to record what it holds\n", sig)
		in.action(&interruptError{sig})
	}
}

// begin marks the start of an operator action and returns its context,
// which only a second interrupt cancels, and the function that marks its
// end. It fails with the interruption when the command was interrupted
// before: then nothing was written.
func (in *interrupts) begin(ctx context.Context) (context.Context, func(), error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	actx, cancel := context.WithCancelCause(ctx)
	in.action, in.began, in.warned = cancel, true, false
	return actx, func() {
		in.mu.Lock()
		in.action = nil
		in.mu.Unlock()
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
