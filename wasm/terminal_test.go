//go:build js && wasm

package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// deadlineMargin is how long before go test's deadline a wait gives up, to
// report what the page got rather than a dump of goroutines.
const deadlineMargin = 5 * time.Second

func TestTerminalResizedKeepsTheLatest(t *testing.T) {
	tests := []struct {
		name  string
		sizes []size
	}{
		{name: "one", sizes: []size{{80, 24}}},
		{name: "burst", sizes: []size{{80, 24}, {81, 24}, {120, 40}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerminal(js.Undefined())
			for _, s := range tt.sizes {
				term.resized(s) // must not block with nobody reading
			}
			if got, want := <-term.sizes, tt.sizes[len(tt.sizes)-1]; got != want {
				t.Fatalf("after resizes %v: size sent = %v, want %v", tt.sizes, got, want)
			}
			select {
			case s := <-term.sizes:
				t.Fatalf("a second size %v waits after %v, want only the latest", s, tt.sizes)
			default:
			}
		})
	}
}

func TestNewSize(t *testing.T) {
	tests := []struct {
		name       string
		cols, rows any
		want       size
		wantOK     bool
	}{
		{name: "cells", cols: 132, rows: 43, want: size{132, 43}, wantOK: true},
		{name: "zero", cols: 0, rows: 24},
		{name: "negative", cols: 80, rows: -1},
		{name: "not numbers", cols: "80", rows: "24"},
		{name: "missing", cols: js.Undefined(), rows: js.Undefined()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := newSize(js.ValueOf(tt.cols), js.ValueOf(tt.rows))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Fatalf("newSize(%v, %v) = %v, %t, want %v, %t", tt.cols, tt.rows, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// fakePage is the page's side of the protocol of the package doc, without
// xterm.js: it keeps what the program writes, with escape sequences
// stripped.
type fakePage struct {
	obj   js.Value
	funcs []js.Func

	mu      sync.Mutex
	text    strings.Builder
	changed chan struct{} // a token after each write
}

func newFakePage(t *testing.T, cols, rows int) *fakePage {
	t.Helper()
	p := &fakePage{obj: js.Global().Get("Object").New(), changed: make(chan struct{}, 1)}
	p.export("write", func(args []js.Value) any {
		b := make([]byte, args[0].Length())
		js.CopyBytesToGo(b, args[0])
		p.mu.Lock()
		p.text.WriteString(ansi.Strip(string(b)))
		p.mu.Unlock()
		select {
		case p.changed <- struct{}{}:
		default:
		}
		return nil
	})
	p.export("size", func([]js.Value) any { return map[string]any{"cols": cols, "rows": rows} })
	t.Cleanup(func() {
		for _, f := range p.funcs {
			f.Release()
		}
	})
	return p
}

func (p *fakePage) export(name string, fn func([]js.Value) any) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any { return fn(args) })
	p.funcs = append(p.funcs, f)
	p.obj.Set(name, f)
}

// mark returns how much has been written so far.
func (p *fakePage) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text.Len()
}

// waitFor waits until what was written after mark holds every one of
// wants. Only the test's own deadline (go test -timeout) bounds the wait:
// it fails a little before, to show what the page got.
func (p *fakePage) waitFor(t *testing.T, mark int, wants ...string) {
	t.Helper()
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-deadlineMargin))
		defer cancel()
	}
	for {
		p.mu.Lock()
		text := p.text.String()[mark:]
		p.mu.Unlock()
		if !slices.ContainsFunc(wants, func(w string) bool { return !strings.Contains(text, w) }) {
			return
		}
		select {
		case <-p.changed:
		case <-ctx.Done():
			t.Fatalf("the page never showed %q; it got %q", wants, text)
		}
	}
}

// call calls one of the functions the program gave the page.
func (p *fakePage) call(t *testing.T, name string, args ...any) {
	t.Helper()
	if f := p.obj.Get(name); f.Type() != js.TypeFunction {
		t.Fatalf("page.%s is %s, want the program's function", name, f.Type())
	}
	p.obj.Call(name, args...)
}

// TestRunShowsTheDemo runs the console as the page does: the first frame
// shows the demo fleet, a resize redraws it, and the keys typed reach it.
func TestRunShowsTheDemo(t *testing.T) {
	page := newFakePage(t, 100, 30)
	done := make(chan error, 1)
	go func() { done <- run(page.obj) }()

	page.waitFor(t, 0, "DEMO", "exports/orders", "exports/legacy-billing", "operator:browser")

	mark := page.mark()
	page.call(t, "resize", 72, 20)
	page.waitFor(t, mark, "DEMO", "exports/")

	page.call(t, "input", "\x03") // ctrl+c: quit now
	if err := <-done; err != nil {
		t.Fatalf("run after ctrl+c = %v, want nil", err)
	}
	for _, name := range []string{"input", "resize"} {
		if f := page.obj.Get(name); !f.IsUndefined() {
			t.Errorf("after run, page.%s = %s, want it deleted", name, f.Type())
		}
	}
}
