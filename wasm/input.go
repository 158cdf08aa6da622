//go:build js && wasm

package main

import (
	"io"
	"sync"
)

// inputQueue is the program's input: the bytes the terminal reported, in
// order, until Close. push never blocks and drops nothing, because it runs
// inside a JavaScript callback, during which the page can do nothing else;
// Read blocks until there are bytes or the queue is closed.
type inputQueue struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	// ready holds a token when buf or closed may have changed since the
	// last Read looked.
	ready chan struct{}
}

func newInputQueue() *inputQueue {
	return &inputQueue{ready: make(chan struct{}, 1)}
}

// push appends p to what Read returns; after Close it drops p.
func (q *inputQueue) push(p []byte) {
	q.mu.Lock()
	if !q.closed {
		q.buf = append(q.buf, p...)
	}
	q.mu.Unlock()
	q.signal()
}

// Read implements io.Reader: it returns what was pushed, blocking while
// there is nothing, and io.EOF once the queue is closed and drained.
func (q *inputQueue) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			n := copy(p, q.buf)
			q.buf = q.buf[n:]
			if len(q.buf) == 0 {
				q.buf = nil // let the array go
			} else {
				q.signal() // for the next Read, maybe another reader's
			}
			q.mu.Unlock()
			return n, nil
		}
		if q.closed {
			q.mu.Unlock()
			return 0, io.EOF
		}
		q.mu.Unlock()
		<-q.ready
	}
}

// Close ends the input: Read returns what is left, then io.EOF. It never
// fails.
func (q *inputQueue) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
	return nil
}

// signal leaves a token in ready unless one is there already.
func (q *inputQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
