package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/internal/jsonstr"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// flushSize is how much of a listing is gathered before it is written: big
// enough that a write costs nothing next to the encoding, small enough that
// the first bytes leave at once.
const flushSize = 64 << 10

// leases answers webapi.Listing from one listing of the store, streamed:
// each entry is encoded as the store hands it over (stores.Scan) and
// written in chunks, so the listing is never held whole, neither as
// entries nor as JSON. A store that fails before the first chunk is an
// error answer; one that fails after it aborts the answer, so that the
// page sees a broken body, never a short listing that looks whole.
func (g *Gateway) leases(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store) {
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, flushSize+4096)
	buf = append(buf, `{"entries":[`...)
	started, n := false, 0
	err := stores.Scan(ctx, store, st.conf.Prefix, func(e stores.Entry) error {
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = appendEntry(buf, e)
		if len(buf) < flushSize {
			return nil
		}
		started = true
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	})
	if err != nil {
		if !started {
			writeError(w, http.StatusBadGateway, webapi.CodeStore, "store "+st.conf.Name+": "+err.Error())
			return
		}
		panic(http.ErrAbortHandler)
	}
	buf = append(buf, "]}\n"...)
	w.Write(buf)
}

// pingInterval is how often an idle event stream sends a comment, so that
// proxies and the page know the connection is alive.
const pingInterval = 15 * time.Second

// eventWriteTimeout bounds each write of an event stream: a page that
// stops reading is dropped rather than holding the watch for ever.
const eventWriteTimeout = 30 * time.Second

// maxBatch bounds how many events go into one message: a snapshot of
// 100,000 keys goes out in parts the page can decode as they come.
const maxBatch = 2048

// events streams the store's watch as Server-Sent Events: each message's
// data is a JSON array of webapi.Event. Every page shares the store's one
// watch (see hub): a stream starts with every key the hub knows, then
// synced once the store's snapshot is complete, then the keys that change,
// each with its entry as it is when the page is written to — so a page that
// reads slowly gets fewer, fresher events rather than a backlog, and a page
// that reconnects after a dropped connection starts again from the whole
// state: no key's final state is lost. The stream ends when the page goes
// away or the server shuts down.
func (g *Gateway) events(w http.ResponseWriter, r *http.Request, st *storeState, store stores.Store) {
	wt, ok := stores.AsWatcher(store)
	if !ok {
		writeError(w, http.StatusNotImplemented, webapi.CodeUnsupported, "store "+st.conf.Name+" cannot be watched")
		return
	}
	hb := st.watchHub(wt)
	sub, err := hb.subscribe()
	if err != nil {
		writeError(w, http.StatusBadGateway, webapi.CodeStore, "store "+st.conf.Name+": "+err.Error())
		return
	}
	defer hb.unsubscribe(sub)
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// The server's read timeout must not end a stream that reads nothing.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(": leasectl\n\n")) {
		return
	}
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-sub.Wake:
			evs, ended := hb.next(sub)
			for len(evs) > 0 {
				n := min(len(evs), maxBatch)
				buf = append(buf[:0], "data: ["...)
				for i, ev := range evs[:n] {
					if i > 0 {
						buf = append(buf, ',')
					}
					buf = appendEvent(buf, ev)
				}
				buf = append(buf, "]\n\n"...)
				if !write(buf) {
					return
				}
				evs = evs[n:]
			}
			if ended {
				return
			}
		}
	}
}

// appendEntry appends e as a webapi.Entry in JSON, as encoding/json would
// encode webapi.FromEntry(e) (the Benchmark and the tests compare them),
// without its reflection or copies.
func appendEntry(b []byte, e stores.Entry) []byte {
	b = append(b, `{"key":`...)
	if utf8.ValidString(e.Key) {
		b = appendString(b, e.Key)
	} else {
		w := webapi.FromEntry(stores.Entry{Key: e.Key})
		b = appendString(b, w.Key)
		b = append(b, `,"key_b64":`...)
		b = appendString(b, w.KeyB64)
	}
	b = append(b, `,"value":`...)
	if utf8.Valid(e.Value) {
		b = appendString(b, string(e.Value)) // no copy: the compiler sees through it
	} else {
		w := webapi.FromEntry(stores.Entry{Value: e.Value})
		b = appendString(b, w.Value)
		b = append(b, `,"value_b64":`...)
		b = appendString(b, w.ValueB64)
	}
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	return append(b, '}')
}

// appendEvent appends ev as a webapi.Event in JSON.
func appendEvent(b []byte, ev stores.Event) []byte {
	w := webapi.FromEvent(ev)
	b = append(b, `{"kind":`...)
	b = appendString(b, w.Kind)
	if w.Entry != nil {
		b = append(b, `,"entry":`...)
		b = appendEntry(b, ev.Entry)
	}
	if w.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, w.Error)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	b, _ = jsonstr.Append(b, s)
	return b
}
