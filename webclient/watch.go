package webclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/webapi"
)

// Reconnecting a dropped event stream: the first retry waits minBackoff,
// each failed one doubles the wait up to maxBackoff, so that a gateway
// that is back is seen within a few seconds and one that is down is not
// hammered.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 4 * time.Second
)

// idleTimeout is how long a stream may stay silent before it is taken for
// dropped: the gateway sends a comment every 15 s, so three missed pings
// mean a connection that died without a word (a laptop that slept).
const idleTimeout = 45 * time.Second

// maxMessage bounds one message of the stream (a snapshot batch can be
// large, but not without bound).
const maxMessage = 256 << 20

// errStreamEnded is the cause reported when the gateway closed a stream.
var errStreamEnded = errors.New("the gateway ended the event stream")

// Watch implements tui.Backend on the store's event stream
// (webapi.PathEvents, Server-Sent Events). When the stream drops, the
// channel carries a stores.EventError with the cause, the client
// reconnects with backoff, then sends stores.EventReset and the new
// stream's full snapshot: no key's final state is lost. The channel is
// closed once ctx ends. The error matches errors.ErrUnsupported when the
// store cannot be watched.
func (b *Backend) Watch(ctx context.Context) (<-chan stores.Event, error) {
	s, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan stores.Event)
	go b.follow(ctx, s, ch)
	return ch, nil
}

// stream is one connection to the event stream.
type stream struct {
	body   io.ReadCloser
	idle   *time.Timer
	cancel context.CancelFunc
}

// Read implements io.Reader; any data, a ping too, keeps the stream alive.
func (s *stream) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 {
		s.idle.Reset(idleTimeout)
	}
	return n, err
}

func (s *stream) close() {
	s.idle.Stop()
	s.cancel()
	s.body.Close()
}

// connect opens the event stream.
func (b *Backend) connect(ctx context.Context) (*stream, error) {
	cctx, cancel := context.WithCancel(ctx)
	resp, err := b.c.do(cctx, methodGet, storePath(webapi.PathEvents, b.store.Name), nil, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.status != statusOK {
		err := statusError(resp)
		resp.body.Close()
		cancel()
		return nil, err
	}
	return &stream{body: resp.body, idle: time.AfterFunc(idleTimeout, cancel), cancel: cancel}, nil
}

// follow passes the events of s, and of the streams that replace it when
// it drops, to ch until ctx ends; then it closes ch.
func (b *Backend) follow(ctx context.Context, s *stream, ch chan<- stores.Event) {
	defer close(ch)
	send := func(ev stores.Event) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	wait := minBackoff
	for {
		got, err := readEvents(s, send)
		s.close()
		if ctx.Err() != nil {
			return
		}
		if got {
			wait = minBackoff // it worked for a while: retry soon
		}
		if !send(stores.Event{Kind: stores.EventError, Err: fmt.Errorf("webclient: %s: events: %w", b.store.Name, err)}) {
			return
		}
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, maxBackoff)
			if s, err = b.connect(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if !send(stores.Event{Kind: stores.EventError, Err: fmt.Errorf("webclient: %s: events: %w", b.store.Name, err)}) {
				return
			}
		}
		if !send(stores.Event{Kind: stores.EventReset}) {
			return
		}
	}
}

// readEvents parses the Server-Sent Events of r (fields "data" only; each
// message's data a JSON array of webapi.Event) and sends each event, in
// order, until the stream fails, ends, or send refuses. got says whether
// any message arrived; the error is why the stream stopped.
func readEvents(r io.Reader, send func(stores.Event) bool) (got bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var data []byte
	has := false // a data field was seen since the last message
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errStreamEnded
			}
			return got, err
		}
		if len(line) == 0 { // the end of a message
			if has {
				got = true
				if err := dispatch(data, send); err != nil {
					return got, err
				}
			}
			data, has = data[:0], false
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(field) == 0 {
			continue // a comment: the gateway's ping
		}
		if string(field) != "data" {
			continue // event, id, retry: unused
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if has {
			data = append(data, '\n')
		}
		data, has = append(data, value...), true
		if len(data) > maxMessage {
			return got, fmt.Errorf("a message over %d bytes", maxMessage)
		}
	}
}

// dispatch sends the events of one message. A message that does not parse
// is an error: the stream can no longer be trusted to be complete.
func dispatch(data []byte, send func(stores.Event) bool) error {
	var batch []webapi.Event
	if err := json.Unmarshal(data, &batch); err != nil {
		return fmt.Errorf("a message: %w", err)
	}
	for _, w := range batch {
		ev, err := w.ToEvent()
		if err != nil {
			return err
		}
		if !send(ev) {
			return context.Canceled
		}
	}
	return nil
}

// readLine returns the next line of br without its end ("\n", "\r\n").
// The slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
			if len(long) > maxMessage {
				return nil, fmt.Errorf("a line over %d bytes", maxMessage)
			}
		}
		line = long
	}
	if err != nil {
		return nil, err // a line cut short by the end is dropped
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
