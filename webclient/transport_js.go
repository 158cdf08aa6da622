//go:build js

package webclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"
)

// fetchTransport sends requests with the browser's fetch, directly: the
// same requests net/http's fetch transport would send, without linking
// net/http's client into the WebAssembly, which nearly doubled it (15 MB
// raw, 2.7 MB with brotli, against 7.5 MB and 1.5 MB without).
//
// The session cookie is the browser's to send (credentials
// "same-origin"); so is the Origin header.
type fetchTransport struct{}

func defaultTransport() transport { return fetchTransport{} }

func (fetchTransport) roundTrip(ctx context.Context, method, url, _ string, header map[string]string, body []byte) (*response, error) {
	g := js.Global()
	if g.Get("fetch").Type() != js.TypeFunction {
		return nil, errors.New("no fetch in this JavaScript host")
	}
	headers := g.Get("Headers").New()
	for k, v := range header {
		headers.Call("set", k, v)
	}
	abort := g.Get("AbortController").New()
	opts := g.Get("Object").New()
	opts.Set("method", method)
	opts.Set("headers", headers)
	opts.Set("credentials", "same-origin")
	opts.Set("cache", "no-store")
	opts.Set("redirect", "error")
	opts.Set("signal", abort.Get("signal"))
	if body != nil {
		b := g.Get("Uint8Array").New(len(body))
		js.CopyBytesToJS(b, body)
		opts.Set("body", b)
	}
	v, err := Await(ctx, g.Call("fetch", url, opts), abort)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	r := &bodyReader{ctx: ctx, abort: abort}
	if b := v.Get("body"); b.Type() == js.TypeObject {
		r.reader = b.Call("getReader")
	}
	return &response{status: v.Get("status").Int(), body: r}, nil
}

// bodyReader reads a fetch Response's body stream as it arrives.
type bodyReader struct {
	ctx    context.Context
	abort  js.Value
	reader js.Value // undefined for an answer without a body
	buf    []byte   // what the last chunk had beyond the last Read
	done   bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done || r.reader.IsUndefined() {
			return 0, io.EOF
		}
		v, err := Await(r.ctx, r.reader.Call("read"), r.abort)
		if err != nil {
			return 0, fmt.Errorf("fetch: %w", err)
		}
		if v.Get("done").Bool() {
			r.done = true
			continue
		}
		chunk := v.Get("value")
		r.buf = make([]byte, chunk.Length())
		js.CopyBytesToGo(r.buf, chunk)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close stops the download.
func (r *bodyReader) Close() error {
	r.done = true
	r.abort.Call("abort")
	return nil
}

// Await waits for the JavaScript promise p to settle and returns its
// value, or its rejection as an error. When ctx ends first, it calls
// abort's abort method (an AbortController's; js.Undefined() for none) and
// returns ctx's error at once. The callbacks given to the promise live
// until it settles, whichever comes first.
func Await(ctx context.Context, p, abort js.Value) (js.Value, error) {
	type settled struct {
		v   js.Value
		err error
	}
	ch := make(chan settled, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: arg0(args)}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: fmt.Errorf("%s", js.Global().Get("String").Invoke(arg0(args)).String())}
		return nil
	})
	p.Call("then", ok, fail)
	select {
	case s := <-ch:
		ok.Release()
		fail.Release()
		return s.v, s.err
	case <-ctx.Done():
		if abort.Truthy() {
			abort.Call("abort")
		}
		go func() {
			<-ch // the promise settles (rejected, once aborted)
			ok.Release()
			fail.Release()
		}()
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}
