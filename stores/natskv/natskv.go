// Package natskv is the NATS JetStream key-value driver for leasectl's store
// contract (package stores).
//
// A lease key is a key of a KV bucket, the lease value is the raw bytes of the
// entry, and a revision is the stream sequence of the entry's message. That is
// the layout the Rust fleets (crate beyond-slipstream over async-nats) use, so
// both sides read and write the same buckets.
//
// Mapping onto JetStream:
//   - Get reads the last message of the key's subject from the stream leader
//     (STREAM.MSG.GET, not the direct get a follower may answer, which can
//     miss the latest write of a replicated bucket). Delete and purge markers
//     (the KV-Operation header, or a server Nats-Marker-Reason) read as
//     stores.ErrNotFound.
//   - Create publishes with Nats-Expected-Last-Subject-Sequence: 0, as
//     nats.go's KeyValue.Create does, and when the latest message of the key
//     is a delete or purge marker, publishes again against the marker's
//     sequence. When it is a live entry, Create returns a *stores.ExistsError
//     carrying that entry, so that a caller needs no second read.
//   - Update publishes with Nats-Expected-Last-Subject-Sequence: rev. Both
//     "wrong last sequence" API errors map to stores.ErrConflict: 10071, and
//     10164, which replicated streams send while another write of the key is
//     in flight. A write refused with 10164 is repeated for a moment first,
//     so that the conflict is reported only once the other write is visible
//     (otherwise a Get after the conflict could still see the old value).
//   - A zero-length value is an ordinary message, never a KV delete marker.
//   - List and Watch read an ordered push consumer (nats.go's KeyValue
//     watcher) after reading the stream's last sequence from the leader: two
//     requests however many keys the bucket holds, and a snapshot that holds
//     every write acknowledged before it started even when the consumer is
//     placed on a lagging follower.
//   - History reads the key's kept messages from the stream leader, one
//     STREAM.MSG.GET each, so that it ends with the latest write (an ordered
//     consumer on a lagging follower would not).
//
// A revision handed out by this driver for a live entry is never the sequence
// of a marker, so an Update against a revision from Get, List, Create, Update
// or an EventPut fails with stores.ErrConflict once the key has been deleted.
// The one exception is the revision an EventDelete carries: JetStream cannot
// tell a CAS against a marker's sequence from any other, so Update with that
// revision writes over the marker (the caller has seen the deletion).
//
// New opens a bucket through a JetStream context the caller owns; Dial
// connects (credentials, TLS, reconnects) and owns the connection it opens.
package natskv

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
)

var (
	_ stores.Store     = (*Store)(nil)
	_ stores.Watcher   = (*Store)(nil)
	_ stores.Historian = (*Store)(nil)
	_ stores.Deleter   = (*Store)(nil)
)

const (
	// defaultWatchRetry is the pause between attempts to re-create a watch
	// whose consumer ended: a restarting server is usually back within
	// seconds, and one consumer-create request a second costs it nothing.
	defaultWatchRetry = time.Second

	// watchBuffer is the capacity of a Watch channel: enough to absorb a
	// burst of changes without making the consumer's callback wait.
	watchBuffer = 64

	// casRetryMin, casRetryMax and casInFlightAttempts pace the repeats of
	// a write refused with 10164: a write in flight lands within a round of
	// replication, a few milliseconds, and ten attempts wait about a quarter
	// of a second in all before giving up.
	casRetryMin         = time.Millisecond
	casRetryMax         = 50 * time.Millisecond
	casInFlightAttempts = 10

	// Header names and values of KV markers, as nats.go and async-nats write
	// them.
	kvOperationHeader = "KV-Operation"
	kvOpDelete        = "DEL"
	kvOpPurge         = "PURGE"
)

// validBucket mirrors nats.go's bucket name rule.
var validBucket = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Store is a stores.Store on one JetStream KV bucket, with the optional
// capabilities stores.Watcher, stores.Historian, stores.Deleter and
// stores.KeyChecker. It is safe for concurrent use.
type Store struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
	// msgGet is the subject of the bucket stream's STREAM.MSG.GET API.
	msgGet string
	// subjectPrefix is "$KV.<bucket>.", the prefix of every key's subject.
	subjectPrefix string
	watchRetry    time.Duration

	// nc is the connection Dial opened, nil when the caller owns it.
	nc        *nats.Conn
	ncClosed  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Option configures a Store opened by New or Dial.
type Option func(*options) error

type options struct {
	watchRetry time.Duration
}

// WithWatchRetry sets the pause between attempts to re-create a watch whose
// JetStream consumer ended (default one second). It must be positive.
func WithWatchRetry(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("natskv: watch retry %v must be positive", d)
		}
		o.watchRetry = d
		return nil
	}
}

// New opens the existing KV bucket named bucket through js. The caller keeps
// ownership of js's connection: Close does not close it.
//
// New returns an error wrapping jetstream.ErrBucketNotFound when the bucket
// does not exist. Mirrored buckets are refused: a mirror is read-only, and
// its leases live in the origin bucket.
func New(ctx context.Context, js jetstream.JetStream, bucket string, opts ...Option) (*Store, error) {
	o := options{watchRetry: defaultWatchRetry}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if !validBucket.MatchString(bucket) {
		return nil, fmt.Errorf("natskv: invalid bucket name %q: must match %s", bucket, validBucket)
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("natskv: open bucket %q: %w", bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("natskv: open bucket %q: %w", bucket, err)
	}
	// The raw reads (Get, and Create's look at what is in the way) go to
	// the bucket's stream, so that a marker's sequence is known.
	stream := "KV_" + bucket
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		info := bs.StreamInfo()
		if m := info.Config.Mirror; m != nil {
			return nil, fmt.Errorf("natskv: bucket %q mirrors stream %q: open the origin bucket", bucket, m.Name)
		}
		stream = info.Config.Name
	}
	return &Store{
		js:            js,
		kv:            kv,
		msgGet:        msgGetSubject(js, stream),
		bucket:        bucket,
		subjectPrefix: "$KV." + bucket + ".",
		watchRetry:    o.watchRetry,
	}, nil
}

// Bucket returns the name of the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// Get returns the latest value of key and its revision (the stream sequence),
// including zero-length values. It returns an error matching stores.ErrNotFound
// when the key has no message or its latest message is a delete or purge
// marker, and stores.ErrInvalidKey, without I/O, for a key NATS cannot store.
func (s *Store) Get(ctx context.Context, key string) (stores.Entry, error) {
	if err := checkKey(key); err != nil {
		return stores.Entry{}, err
	}
	e, op, err := s.latest(ctx, key)
	if err != nil {
		return stores.Entry{}, fmt.Errorf("natskv: get %q: %w", key, err)
	}
	if op != jetstream.KeyValuePut {
		return stores.Entry{}, fmt.Errorf("natskv: get %q: %w: %s marker at revision %d", key, stores.ErrNotFound, opName(op), e.Revision)
	}
	return e, nil
}

// Create writes value under key only if the key does not exist, a delete or
// purge marker counting as not existing, and returns the new revision.
//
// When the key holds a live entry (a zero-length value included) the error
// matches stores.ErrExists and is a *stores.ExistsError carrying that entry,
// read in the same call. It returns stores.ErrInvalidKey, without I/O, for a
// key NATS cannot store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	// Expected sequence 0 means "no message on the subject". A marker is a
	// message, so a key deleted or purged needs a second write against the
	// marker's sequence; two attempts after the first cover a marker and a
	// key that vanished in between, and keep a busy key from looping.
	var expect uint64
	var err error
	for range 3 {
		var rev uint64
		// With revision 0 this is exactly kv.Create's first publish.
		rev, err = s.cas(ctx, key, value, expect)
		if err == nil {
			return rev, nil
		}
		if !isWrongLastSequence(err) {
			return 0, fmt.Errorf("natskv: create %q: %w", key, err)
		}
		cur, op, gerr := s.latest(ctx, key)
		switch {
		case gerr == nil && op == jetstream.KeyValuePut:
			return 0, fmt.Errorf("natskv: create %q: %w: %w", key, &stores.ExistsError{Current: cur}, err)
		case gerr == nil:
			expect = cur.Revision // write over the marker
		case errors.Is(gerr, stores.ErrNotFound):
			expect = 0 // purged away since the write was refused
		default:
			return 0, fmt.Errorf("natskv: create %q: %w: read after %w", key, gerr, err)
		}
	}
	return 0, fmt.Errorf("natskv: create %q: %w: %w", key, stores.ErrExists, err)
}

// Update writes value under key only if the key's latest revision is rev and
// returns the new revision. It returns an error matching stores.ErrConflict,
// wrapping the server's answer, when the revision differs (error codes 10071
// and 10164), when the key was deleted since rev was read, and for rev 0. It
// returns stores.ErrInvalidKey, without I/O, for a key NATS cannot store.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if rev == 0 {
		return 0, fmt.Errorf("natskv: update %q: %w: revision 0 names no entry", key, stores.ErrConflict)
	}
	n, err := s.cas(ctx, key, value, rev)
	if err != nil {
		return 0, mapUpdateError(key, rev, err)
	}
	return n, nil
}

// cas publishes value under key with the expected-last-subject-sequence
// header set to expect, as kv.Update does, and publishes again while the
// server answers 10164 for a write of the key still in flight.
//
// A replicated stream checks the header before it replicates the write, and
// refuses a write of a subject that has another write in flight with 10164
// before that write is visible: reporting the conflict at once would let a
// Get made after it still return the old value, which is not linearizable
// (storetest's porcupine check catches it). The refused write was not
// stored, so publishing it again is safe; the answer after the other write
// has landed is 10071 (a real conflict) or, if that write was lost in a
// leader change, success. After casInFlightAttempts the 10164 is returned
// and reads as stores.ErrConflict.
func (s *Store) cas(ctx context.Context, key string, value []byte, expect uint64) (uint64, error) {
	delay := casRetryMin
	for attempt := 1; ; attempt++ {
		rev, err := s.kv.Update(ctx, key, value, expect)
		if err == nil || !isInFlight(err) || attempt == casInFlightAttempts {
			return rev, offline(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, err
		case <-t.C:
		}
		delay = min(2*delay, casRetryMax)
	}
}

// errNotConnected says why a request made while reconnecting was refused:
// the connection keeps no reconnect buffer, so nothing was sent and nothing
// will be sent later.
var errNotConnected = errors.New("not connected to the server (reconnecting)")

// offline marks an error that nats.go gives a request or publish made while
// reconnecting without a reconnect buffer — whose own text, "outbound buffer
// limit exceeded", does not say what happened — as stores.ErrNotSent.
func offline(err error) error {
	if errors.Is(err, nats.ErrReconnectBufExceeded) {
		return fmt.Errorf("%w: %w (%w)", stores.ErrNotSent, errNotConnected, err)
	}
	return err
}

// isInFlight reports whether err is API error 10164, a CAS refused because
// another write of the subject is in flight on a replicated stream.
func isInFlight(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// mapUpdateError turns a failed CAS publish into the contract's errors.
func mapUpdateError(key string, rev uint64, err error) error {
	if isWrongLastSequence(err) {
		return fmt.Errorf("natskv: update %q at revision %d: %w: %w", key, rev, stores.ErrConflict, err)
	}
	return fmt.Errorf("natskv: update %q at revision %d: %w", key, rev, err)
}

// isWrongLastSequence reports whether err is JetStream's answer to an
// expected-last-subject-sequence mismatch: API error 10071
// (JSStreamWrongLastSequenceErrF), or 10164 (JSStreamWrongLastSequenceConstantErr,
// sent by replicated streams while another write to the subject is in flight
// and for batches), however nats.go wrapped it.
func isWrongLastSequence(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Delete writes a KV delete marker on key, as `nats kv del` does: Get then
// reports stores.ErrNotFound and Create succeeds. It is meant for tests and
// demos; leases are released with a zero-length value instead.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("natskv: delete %q: %w", key, err)
	}
	return nil
}

// entry builds a stores.Entry; a zero-length value is returned as an empty,
// non-nil slice.
func entry(key string, value []byte, rev uint64) stores.Entry {
	if value == nil {
		value = []byte{}
	}
	return stores.Entry{Key: key, Value: value, Revision: rev}
}

// operation classifies a stored message by its headers, as nats.go does:
// the KV-Operation header of client markers first, then the reason of a
// marker the server wrote itself (message TTLs, limit markers).
func operation(h nats.Header) jetstream.KeyValueOp {
	if len(h) == 0 {
		return jetstream.KeyValuePut
	}
	switch h.Get(kvOperationHeader) {
	case kvOpDelete:
		return jetstream.KeyValueDelete
	case kvOpPurge:
		return jetstream.KeyValuePurge
	case "":
	default:
		return jetstream.KeyValuePut
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge":
		return jetstream.KeyValuePurge
	case "Remove":
		return jetstream.KeyValueDelete
	}
	return jetstream.KeyValuePut
}

// opName names a marker operation in error messages.
func opName(op jetstream.KeyValueOp) string {
	switch op {
	case jetstream.KeyValueDelete:
		return "delete"
	case jetstream.KeyValuePurge:
		return "purge"
	}
	return "put"
}

// keyRule is the key rule in words, for error messages.
const keyRule = "keys must match [-/_=.a-zA-Z0-9]+ and not start or end with '.' nor contain '..'"

// checkKey mirrors nats.go's key check (jetstream.keyValid) so that a bad
// key is refused before any I/O with an error naming the key and the rule.
func checkKey(key string) error {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return fmt.Errorf("natskv: %w %q: %s", stores.ErrInvalidKey, key, keyRule)
	}
	for i, r := range key {
		if !keyRune(r) {
			return fmt.Errorf("natskv: %w %q: %q at byte %d is not allowed: %s", stores.ErrInvalidKey, key, r, i, keyRule)
		}
	}
	return nil
}

// keyRune reports whether c may appear in a key.
func keyRune(c rune) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '/', c == '_', c == '=', c == '.':
		return true
	}
	return false
}
