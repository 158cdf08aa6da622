//go:build js && wasm

package main

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"
)

func TestInputQueueRead(t *testing.T) {
	tests := []struct {
		name   string
		pushes []string
		close  bool
		bufLen int
		want   []string // what successive Reads return
	}{
		{name: "one push", pushes: []string{"q"}, bufLen: 8, want: []string{"q"}},
		{name: "pushes join", pushes: []string{"/", "pay", "ments"}, bufLen: 64, want: []string{"/payments"}},
		{name: "short buffer", pushes: []string{"\x1b[A\x1b[B"}, bufLen: 4, want: []string{"\x1b[A\x1b", "[B"}},
		{name: "utf-8 kept", pushes: []string{"ünï"}, bufLen: 64, want: []string{"ünï"}},
		{name: "closed drains first", pushes: []string{"ab"}, close: true, bufLen: 1, want: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newInputQueue()
			for _, p := range tt.pushes {
				q.push([]byte(p))
			}
			if tt.close {
				if err := q.Close(); err != nil {
					t.Fatalf("Close() = %v, want nil", err)
				}
			}
			buf := make([]byte, tt.bufLen)
			for i, want := range tt.want {
				n, err := q.Read(buf)
				if err != nil || string(buf[:n]) != want {
					t.Fatalf("Read #%d = %q, %v, want %q, nil", i+1, buf[:n], err, want)
				}
			}
			if tt.close {
				if n, err := q.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
					t.Fatalf("Read after drain = %d, %v, want 0, io.EOF", n, err)
				}
			}
		})
	}
}

// TestInputQueueBlocks checks that Read waits for a push or Close, and
// that push and Close never wait: they run inside JavaScript callbacks.
func TestInputQueueBlocks(t *testing.T) {
	tests := []struct {
		name    string
		wake    func(q *inputQueue)
		want    string
		wantErr error
	}{
		{name: "push", wake: func(q *inputQueue) { q.push([]byte("x")) }, want: "x"},
		{name: "close", wake: func(q *inputQueue) { _ = q.Close() }, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := newInputQueue()
				type result struct {
					s   string
					err error
				}
				got := make(chan result, 1)
				go func() {
					buf := make([]byte, 8)
					n, err := q.Read(buf)
					got <- result{string(buf[:n]), err}
				}()
				synctest.Wait()
				select {
				case r := <-got:
					t.Fatalf("Read on an empty queue returned %q, %v before any input", r.s, r.err)
				default:
				}
				tt.wake(q) // would deadlock the bubble if it blocked
				r := <-got
				if r.s != tt.want || !errors.Is(r.err, tt.wantErr) {
					t.Fatalf("Read = %q, %v, want %q, %v", r.s, r.err, tt.want, tt.wantErr)
				}
			})
		})
	}
}

func TestInputQueuePushAfterClose(t *testing.T) {
	q := newInputQueue()
	_ = q.Close()
	q.push([]byte("late"))
	if n, err := q.Read(make([]byte, 8)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("Read after Close and push = %d, %v, want 0, io.EOF", n, err)
	}
}
