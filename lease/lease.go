package lease

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/leasectl/leasectl/stores"
)

// Errors of the fleet API.
var (
	// ErrHeld means TryAcquire lost the round: the lease is live (held by
	// another node, or by this very node from an earlier round), or another
	// candidate won the race. The caller skips this round.
	ErrHeld = errors.New("lease: held")
	// ErrNoRecord means Current found the key absent or holding a tombstone.
	ErrNoRecord = errors.New("lease: no record")
	// ErrInvalidTTL means a ttl outside MinTTL..MaxTTL: under a second it
	// would suppress nothing, over the skew cap every viewer would flag the
	// record skewed.
	ErrInvalidTTL = errors.New("lease: invalid ttl")
	// ErrAbandoned means Complete was called on a guard after Abandon.
	ErrAbandoned = errors.New("lease: guard was abandoned")
)

// Lease is one candidate (holderID) for one lease key in one store. It is
// safe for concurrent use; it holds no state between rounds.
type Lease struct {
	store  stores.Store
	key    string
	holder string
	now    func() time.Time
	log    *slog.Logger
}

// Option configures a Lease.
type Option func(*Lease) error

// WithClock makes the Lease read the wall clock from now instead of
// time.Now, e.g. to test expiry.
func WithClock(now func() time.Time) Option {
	return func(l *Lease) error {
		if now == nil {
			return errors.New("lease: WithClock: nil clock")
		}
		l.now = now
		return nil
	}
}

// WithLogger makes the Lease log to logger instead of slog.Default(): a
// completion that lost its round, a failed abandon.
func WithLogger(logger *slog.Logger) Option {
	return func(l *Lease) error {
		if logger == nil {
			return errors.New("lease: WithLogger: nil logger")
		}
		l.log = logger
		return nil
	}
}

// New returns the Lease of holderID on key in s. It fails when s reports
// that it is read-only (stores.IsReadOnly), when key or holderID is empty, or
// when holderID is not valid UTF-8.
func New(s stores.Store, key, holderID string, opts ...Option) (*Lease, error) {
	switch {
	case s == nil:
		return nil, errors.New("lease: nil store")
	case stores.IsReadOnly(s):
		return nil, fmt.Errorf("lease: %q: %w", key, stores.ErrReadOnly)
	case key == "":
		return nil, errors.New("lease: empty key")
	case holderID == "":
		return nil, errors.New("lease: empty holder id")
	case !utf8.ValidString(holderID):
		return nil, fmt.Errorf("lease: holder id %q is not valid UTF-8", holderID)
	}
	l := &Lease{store: s, key: key, holder: holderID, now: time.Now, log: slog.Default()}
	for _, opt := range opts {
		if err := opt(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Key returns the lease key.
func (l *Lease) Key() string { return l.key }

// HolderID returns the holder id this Lease writes.
func (l *Lease) HolderID() string { return l.holder }

// TryAcquire runs one round of the acquire algorithm (docs/design.md §3)
// with a lease of ttl. It returns a Guard when this holder won, an error
// matching ErrHeld when it lost (skip the round), an error matching
// ErrInvalidTTL for a ttl outside MinTTL..MaxTTL, and the store's error,
// wrapped, when the store failed. It never returns a nil Guard with a nil
// error.
//
// The clock is read once, before any store call. A live record is never
// taken over, whoever holds it, including this holder.
func (l *Lease) TryAcquire(ctx context.Context, ttl time.Duration) (*Guard, error) {
	if err := CheckTTL(ttl); err != nil {
		return nil, err
	}
	now := l.now()
	rec := NewRecord(l.holder, now, ttl)
	value := rec.Encode()
	a, err := acquire(ctx, l.store, l.key, value, UnixSeconds(now), 0)
	if err != nil {
		return nil, err
	}
	if !a.won {
		return nil, a.lost(l.key)
	}
	return &Guard{lease: l, rec: rec, rev: a.rev}, nil
}

// Current returns the record stored under the key, whether live or not. It
// returns an error matching ErrNoRecord when the key is absent or holds a
// tombstone, a *CorruptError (matching ErrCorrupt) when the bytes do not
// decode, and the store's error, wrapped, when the read fails.
func (l *Lease) Current(ctx context.Context) (Record, error) {
	e, err := l.store.Get(ctx, l.key)
	switch {
	case errors.Is(err, stores.ErrNotFound):
		return Record{}, fmt.Errorf("lease: %q is absent: %w", l.key, ErrNoRecord)
	case err != nil:
		return Record{}, fmt.Errorf("lease: read %q: %w", l.key, err)
	case len(e.Value) == 0:
		return Record{}, fmt.Errorf("lease: %q holds a tombstone: %w", l.key, ErrNoRecord)
	}
	return Decode(e.Value)
}

// CursorFromRevision returns a NATS-style export cursor: the revision as 8
// bytes big-endian, so 42 becomes 000000000000002a in a record.
func CursorFromRevision(rev uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, rev)
}

// NewRecord returns the record a round won at now writes: held by holder,
// acquired at now in whole seconds, expiring floor(ttl) seconds later
// (saturating at 2^64-1).
func NewRecord(holder string, now time.Time, ttl time.Duration) Record {
	return recordAt(holder, UnixSeconds(now), ttl)
}

// recordAt is NewRecord at now in whole Unix seconds.
func recordAt(holder string, now uint64, ttl time.Duration) Record {
	return Record{
		HolderID:       holder,
		AcquiredAtUnix: now,
		ExpiresAtUnix:  saturatingAdd(now, uint64(max(ttl, 0)/time.Second)),
	}
}

// attempt is the outcome of one run of the acquire algorithm.
type attempt struct {
	won bool
	rev uint64 // the revision written, when won
	// seen is the entry the algorithm judged after its create failed; found
	// is false when the create succeeded or the key vanished before the read.
	seen  stores.Entry
	found bool
	// wrote is set when the error came from a write (the create, or the
	// compare-and-swap against seen), which may have landed all the same.
	wrote bool
}

// acquire is the acquire algorithm (docs/design.md §3, steps 2–5), shared
// by Lease.TryAcquire and Operator.Acquire: value is the encoded fresh
// record and now the clock sampled when it was built; timeout, when
// positive, bounds each store call. Losing is not an error.
func acquire(ctx context.Context, s stores.Store, key string, value []byte, now uint64, timeout time.Duration) (attempt, error) {
	call := func() (context.Context, context.CancelFunc) {
		if timeout > 0 {
			return context.WithTimeout(ctx, timeout)
		}
		return ctx, func() {}
	}
	cctx, cancel := call()
	rev, err := s.Create(cctx, key, value)
	cancel()
	if err == nil {
		return attempt{won: true, rev: rev}, nil
	}
	if !errors.Is(err, stores.ErrExists) {
		return attempt{wrote: true}, fmt.Errorf("lease: create %q: %w", key, err)
	}
	var a attempt
	if ee, ok := errors.AsType[*stores.ExistsError](err); ok && ee.Current.Revision != 0 {
		a.seen, a.found = ee.Current, true // the driver saved us the read
	} else {
		cctx, cancel := call()
		e, err := s.Get(cctx, key)
		cancel()
		switch {
		case errors.Is(err, stores.ErrNotFound):
			return attempt{}, nil // deleted in between: lost, no retry
		case err != nil:
			return attempt{}, fmt.Errorf("lease: read %q: %w", key, err)
		}
		a.seen, a.found = e, true
	}
	a.seen.Key = key
	if r, err := Decode(a.seen.Value); err == nil && r.LiveAt(now) {
		return a, nil
	}
	if err := ctx.Err(); err != nil {
		return a, fmt.Errorf("lease: update %q: %w", key, err)
	}
	cctx, cancel = call()
	rev, err = s.Update(cctx, key, value, a.seen.Revision)
	cancel()
	switch {
	case err == nil:
		a.won, a.rev = true, rev
		return a, nil
	case isChanged(err):
		return a, nil
	default:
		a.wrote = true
		return a, fmt.Errorf("lease: update %q at revision %d: %w", key, a.seen.Revision, err)
	}
}

// lost is the ErrHeld error for a lost attempt.
func (a attempt) lost(key string) error {
	if a.found {
		if r, err := Decode(a.seen.Value); err == nil {
			return fmt.Errorf("%w: %q by %q until %d", ErrHeld, key, r.HolderID, r.ExpiresAtUnix)
		}
	}
	return fmt.Errorf("%w: %q: another candidate won the race", ErrHeld, key)
}

// isChanged reports whether a write failed because the key is not what the
// writer last saw.
func isChanged(err error) bool {
	return errors.Is(err, stores.ErrConflict) || errors.Is(err, stores.ErrExists) || errors.Is(err, stores.ErrNotFound)
}

// Guard is the proof of a won round. It is safe for concurrent use, though a
// round normally ends with exactly one Complete or Abandon, or neither:
// forgetting a Guard releases nothing, the fleet waits out the ttl.
type Guard struct {
	lease *Lease

	mu        sync.Mutex
	rec       Record
	rev       uint64
	abandoned bool
}

// Key returns the lease key.
func (g *Guard) Key() string { return g.lease.key }

// Record returns the record this guard last wrote.
func (g *Guard) Record() Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rec.clone()
}

// Revision returns the revision of this guard's last write.
func (g *Guard) Revision() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rev
}

// Complete records that the round's artifact was published with cursor:
// it rewrites the record with completed_cursor_hex (the lower-case hex of
// cursor) and completed_at_unix (now), holder and times unchanged, by a
// compare-and-swap against the guard's revision. When the key has changed —
// the round overran and was taken over — Complete logs it, writes nothing and
// returns nil. It returns ErrAbandoned after Abandon and the store's error,
// wrapped, when the write fails otherwise.
func (g *Guard) Complete(ctx context.Context, cursor []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned {
		return fmt.Errorf("lease: complete %q: %w", g.lease.key, ErrAbandoned)
	}
	at := UnixSeconds(g.lease.now())
	rec := g.rec.clone()
	rec.CompletedCursorHex = hex.EncodeToString(cursor)
	rec.CompletedAtUnix = &at
	rev, err := g.lease.store.Update(ctx, g.lease.key, rec.Encode(), g.rev)
	switch {
	case err == nil:
		g.rec, g.rev = rec, rev
		return nil
	case isChanged(err):
		g.lease.log.WarnContext(ctx, "lease: round overran and was taken over; completion not recorded",
			"key", g.lease.key, "holder", g.rec.HolderID, "revision", g.rev,
			"cursor", rec.CompletedCursorHex, "err", err)
		return nil
	default:
		return fmt.Errorf("lease: complete %q at revision %d: %w", g.lease.key, g.rev, err)
	}
}

// Abandon gives the round up so that the next trigger anywhere wins at once:
// it writes a zero-length value (a tombstone, not a delete) by a
// compare-and-swap against the guard's revision. It is best effort: a
// failure, or a key that has changed since, is logged and otherwise ignored.
// After Abandon, Complete returns ErrAbandoned.
func (g *Guard) Abandon(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abandoned {
		return
	}
	g.abandoned = true
	rev, err := g.lease.store.Update(ctx, g.lease.key, []byte{}, g.rev)
	switch {
	case err == nil:
		g.rev = rev
	case isChanged(err):
		g.lease.log.InfoContext(ctx, "lease: abandon found the round already taken over",
			"key", g.lease.key, "holder", g.rec.HolderID, "revision", g.rev, "err", err)
	default:
		g.lease.log.WarnContext(ctx, "lease: abandon failed; the fleet waits out the ttl",
			"key", g.lease.key, "holder", g.rec.HolderID, "revision", g.rev, "err", err)
	}
}
