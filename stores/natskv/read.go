package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
)

// Reads go to the stream leader through $JS.API.STREAM.MSG.GET, not to the
// direct-get API that nats.go's KeyValue.Get uses on buckets with
// AllowDirect (every bucket nats.go or the nats CLI creates). On a
// replicated bucket a direct get may be answered by a follower that has not
// applied the latest write yet, so a Get right after a successful Update can
// return the previous value (TestReplicated's conformance run shows it). The
// lease algorithm would stay safe, its CAS failing on the stale revision, but
// a round could end with no winner, and the contract promises the latest
// value. The cost is the same one request, served by the leader.

// msgGetRequest is the body of a STREAM.MSG.GET request: the last message
// of a subject, or the first message at or after Seq of a subject. Both
// subjects may be wildcards.
type msgGetRequest struct {
	Seq           uint64 `json:"seq,omitempty"`
	LastBySubject string `json:"last_by_subj,omitempty"`
	NextBySubject string `json:"next_by_subj,omitempty"`
}

// msgGetResponse is the answer to a STREAM.MSG.GET request.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject  string `json:"subject"`
		Sequence uint64 `json:"seq"`
		Header   []byte `json:"hdrs,omitempty"`
		Data     []byte `json:"data,omitempty"`
	} `json:"message,omitempty"`
}

// msgGetSubject returns the STREAM.MSG.GET subject of stream, under js's API
// prefix or domain.
func msgGetSubject(js jetstream.JetStream, stream string) string {
	o := js.Options()
	prefix := o.APIPrefix
	if o.Domain != "" {
		prefix = "$JS." + o.Domain + ".API."
	}
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	if !strings.HasSuffix(prefix, ".") {
		prefix += "."
	}
	return prefix + "STREAM.MSG.GET." + stream
}

// latest reads the last message of key's subject from the stream leader,
// markers included, in one request. The returned entry carries the marker's
// sequence when op is not a put. A key without any message gives an error
// matching stores.ErrNotFound (and jetstream.ErrMsgNotFound).
func (s *Store) latest(ctx context.Context, key string) (stores.Entry, jetstream.KeyValueOp, error) {
	m, err := s.getMessage(ctx, msgGetRequest{LastBySubject: s.subjectPrefix + key})
	if err != nil {
		return stores.Entry{}, 0, err
	}
	return entry(key, m.data, m.seq), operation(m.header), nil
}

// lastSequence returns the stream sequence of the last message whose key
// matches filter (a key filter as Watch takes it), 0 when there is none, read
// from the stream leader: the point a snapshot must reach to include every
// write acknowledged before it started.
func (s *Store) lastSequence(ctx context.Context, filter string) (uint64, error) {
	return s.sequence(ctx, msgGetRequest{LastBySubject: s.subjectPrefix + filter})
}

// nextSequence returns the stream sequence of the first message at or after
// sequence from whose key matches filter, 0 when there is none, read from the
// stream leader. A snapshot whose consumer has delivered up to from-1 and is
// still short of its barrier asks it: 0 means that no message the consumer
// has yet to deliver is still stored (the rest expired or was removed), so
// the snapshot holds everything the stream holds.
func (s *Store) nextSequence(ctx context.Context, filter string, from uint64) (uint64, error) {
	return s.sequence(ctx, msgGetRequest{Seq: from, NextBySubject: s.subjectPrefix + filter})
}

// sequence returns the sequence of the message req names, 0 when there is
// none.
func (s *Store) sequence(ctx context.Context, req msgGetRequest) (uint64, error) {
	m, err := s.getMessage(ctx, req)
	if errors.Is(err, stores.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.seq, nil
}

// rawMessage is a stored message as STREAM.MSG.GET returns it.
type rawMessage struct {
	seq    uint64
	header nats.Header
	data   []byte
}

// getMessage asks the stream leader for the message req names, in one
// request. No such message gives an error matching stores.ErrNotFound (and
// jetstream.ErrMsgNotFound).
func (s *Store) getMessage(ctx context.Context, r msgGetRequest) (rawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		if d := s.js.Options().DefaultTimeout; d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	req, err := json.Marshal(r)
	if err != nil {
		return rawMessage{}, err
	}
	msg, err := s.js.Conn().RequestWithContext(ctx, s.msgGet, req)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			err = fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, err)
		}
		return rawMessage{}, offline(err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return rawMessage{}, fmt.Errorf("%w: %w", jetstream.ErrInvalidJetStreamResponse, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return rawMessage{}, fmt.Errorf("%w: %w", stores.ErrNotFound, jetstream.ErrMsgNotFound)
	case resp.Error != nil:
		return rawMessage{}, resp.Error
	case resp.Message == nil:
		return rawMessage{}, jetstream.ErrInvalidJetStreamResponse
	}
	m := rawMessage{seq: resp.Message.Sequence, data: resp.Message.Data}
	if len(resp.Message.Header) > 0 {
		if m.header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return rawMessage{}, fmt.Errorf("%w: headers: %w", jetstream.ErrInvalidJetStreamResponse, err)
		}
	}
	return m, nil
}
