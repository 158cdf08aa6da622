//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	tea "charm.land/bubbletea/v2"
)

// The size to assume when the page reports none that makes sense.
const (
	fallbackCols = 80
	fallbackRows = 24
)

// size is a terminal's size in cells.
type size struct{ cols, rows int }

// terminal is the page's xterm.js terminal, seen from the program: Write
// draws on it, input is what it reported.
type terminal struct {
	page  js.Value
	input *inputQueue
	// sizes holds the latest size the page reported that the program has
	// not been sent yet: resizes coalesce, the last one wins.
	sizes chan size
	funcs []js.Func
}

func newTerminal(page js.Value) *terminal {
	return &terminal{page: page, input: newInputQueue(), sizes: make(chan size, 1)}
}

// Write draws p. It copies p, since xterm.js queues what it is given, and
// never fails.
func (t *terminal) Write(p []byte) (int, error) {
	buf := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(buf, p)
	t.page.Call("write", buf)
	return len(p), nil
}

// size asks the page for the terminal's size.
func (t *terminal) size() (cols, rows int) {
	s, ok := parseSize(t.page.Call("size"))
	if !ok {
		return fallbackCols, fallbackRows
	}
	return s.cols, s.rows
}

// parseSize reads {cols, rows}.
func parseSize(v js.Value) (size, bool) {
	if v.Type() != js.TypeObject {
		return size{}, false
	}
	return newSize(v.Get("cols"), v.Get("rows"))
}

// newSize reads two positive numbers of cells.
func newSize(cols, rows js.Value) (size, bool) {
	if cols.Type() != js.TypeNumber || rows.Type() != js.TypeNumber {
		return size{}, false
	}
	s := size{cols: cols.Int(), rows: rows.Int()}
	return s, s.cols > 0 && s.rows > 0
}

// listen gives the page the input and resize functions, and sends p every
// resize until ctx ends. The functions only queue what they are given and
// return: a JavaScript callback that blocks stops the page.
func (t *terminal) listen(ctx context.Context, p *tea.Program) {
	t.export("input", func(args []js.Value) {
		if len(args) > 0 && args[0].Type() == js.TypeString {
			t.input.push([]byte(args[0].String()))
		}
	})
	t.export("resize", func(args []js.Value) {
		if len(args) < 2 {
			return
		}
		if s, ok := newSize(args[0], args[1]); ok {
			t.resized(s)
		}
	})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-t.sizes:
				p.Send(tea.WindowSizeMsg{Width: s.cols, Height: s.rows})
			}
		}
	}()
}

// export sets the page's function name to fn.
func (t *terminal) export(name string, fn func(args []js.Value)) {
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(args)
		return nil
	})
	t.funcs = append(t.funcs, f)
	t.page.Set(name, f)
}

// resized replaces the size waiting in sizes, if any, with s. It never
// blocks: the callbacks that call it run one at a time, and only the loop
// of listen takes from sizes.
func (t *terminal) resized(s size) {
	for {
		select {
		case t.sizes <- s:
			return
		default:
		}
		select {
		case <-t.sizes:
		default:
		}
	}
}

// close takes the functions back from the page and ends the input.
func (t *terminal) close() {
	t.page.Delete("input")
	t.page.Delete("resize")
	for _, f := range t.funcs {
		f.Release()
	}
	t.funcs = nil
	_ = t.input.Close()
}
