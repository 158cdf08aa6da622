// Package stores is the contract between leasectl and the key-value stores
// that hold export leases, in the spirit of database/sql/driver: one small
// interface, the Entry it returns, and sentinel errors that callers check with
// errors.Is. Drivers live in sub-packages (memory, etcd, consul, natskv) and
// prove themselves with the conformance suite in stores/storetest.
//
// Revisions are the backend's own: etcd's mod_revision, Consul's ModifyIndex,
// the JetStream stream sequence. Revision 0 always means "absent".
// A zero-length value is an ordinary value (a lease tombstone), never a
// deletion: Get returns it like any other.
package stores

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors. Drivers wrap them together with the backend's own error,
// e.g. fmt.Errorf("%w: %w", stores.ErrConflict, err), so that callers can
// both branch on the outcome and log what the server said.
var (
	// ErrNotFound means the key does not exist, or holds a delete or purge
	// marker (NATS KV).
	ErrNotFound = errors.New("stores: key not found")
	// ErrExists means a create-only write found the key already present.
	ErrExists = errors.New("stores: key already exists")
	// ErrConflict means a compare-and-swap found a revision other than the
	// one expected: someone else wrote the key since it was read.
	ErrConflict = errors.New("stores: revision conflict")
	// ErrInvalidKey means the backend cannot store this key (empty, or
	// characters the backend forbids). Nothing was sent to the server.
	ErrInvalidKey = errors.New("stores: invalid key")
	// ErrReadOnly means the store was opened read-only and refuses writes.
	ErrReadOnly = errors.New("stores: store is read-only")
	// ErrNotSent means the driver refused a request before it reached the
	// server (e.g. while reconnecting) and will not send it later: a write
	// that fails with it was not written. Drivers return it only when they
	// are sure; a request that may have left stays an ordinary error.
	ErrNotSent = errors.New("stores: request not sent")
)

// Entry is one key as stored, with the revision of its last write.
type Entry struct {
	// Key is the full key as stored (never a suffix relative to a prefix).
	Key string
	// Value is the raw stored bytes; zero-length (empty, not nil) for a
	// tombstone.
	Value []byte
	// Revision is the backend revision of the write that produced Value;
	// never 0 for an entry that exists.
	Revision uint64
}

// Store is what a lease needs from a key-value store. Implementations must be
// safe for concurrent use. Every method takes a context first and honours its
// cancellation.
type Store interface {
	// Get returns the latest value of key and its revision, including
	// zero-length values. It returns ErrNotFound when the key is absent or
	// holds a delete/purge marker.
	Get(ctx context.Context, key string) (Entry, error)

	// Create writes value under key only if the key does not exist (a
	// delete/purge marker counts as not existing) and returns the new
	// revision. It returns an error matching ErrExists when the key exists;
	// drivers that learn the current entry in the same round trip return it
	// inside an *ExistsError.
	Create(ctx context.Context, key string, value []byte) (uint64, error)

	// Update writes value under key only if the key's current revision is
	// rev, and returns the new revision. It returns an error matching
	// ErrConflict when the revision differs or the key no longer exists.
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)

	// List returns every live key under prefix (all keys for ""), with values
	// and revisions, sorted by key. It costs a bounded number of round trips,
	// not one per key.
	List(ctx context.Context, prefix string) ([]Entry, error)
}

// Watcher is the optional capability to follow changes, found by type
// assertion like http.Flusher. A watch guarantees the latest state of every
// key, not every intermediate value: a slow consumer may see a key's changes
// coalesced.
type Watcher interface {
	// Watch streams the entries under prefix: first a snapshot of every live
	// key as EventPut events, then EventSynced, then changes as they happen.
	// The channel is closed when ctx ends. Transient failures (a server
	// restart) are reported as EventError and retried by the driver; when the
	// driver cannot resume exactly where it was, it sends EventReset followed
	// by a fresh snapshot and EventSynced, so a consumer that drops its state
	// on EventReset never loses the latest state of a key.
	Watch(ctx context.Context, prefix string) (<-chan Event, error)
}

// EventKind says what a watch Event reports.
type EventKind int

const (
	// EventPut reports the current value of a key (snapshot or change).
	EventPut EventKind = iota + 1
	// EventDelete reports that a key was deleted or purged.
	EventDelete
	// EventSynced reports that the snapshot is complete: the consumer now
	// holds every live key.
	EventSynced
	// EventReset reports that the driver lost its position; the consumer
	// should forget what it holds, a fresh snapshot follows.
	EventReset
	// EventError reports a transient failure; the driver keeps retrying.
	EventError
)

// String returns the kind's lower-case name.
func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventSynced:
		return "synced"
	case EventReset:
		return "reset"
	case EventError:
		return "error"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one item of a watch stream.
type Event struct {
	Kind EventKind
	// Entry is the key's new state for EventPut, and carries Key (and the
	// deleting revision when known) for EventDelete.
	Entry Entry
	// Err is set for EventError.
	Err error
}

// ExistsError is the error a driver returns from Create when the key exists
// and the driver learned the current entry in the same round trip (etcd's
// Txn Else branch). It matches ErrExists; callers use errors.As to skip a
// separate read.
type ExistsError struct {
	// Current is the entry that made the create fail.
	Current Entry
}

// Error implements error.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("%v: %q at revision %d", ErrExists, e.Current.Key, e.Current.Revision)
}

// Is reports whether target is ErrExists.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Historian is the optional capability to list the values a key has held
// that the store still keeps (etcd's MVCC history within compaction, a NATS
// KV bucket's History setting). The console shows them in a lease's detail
// view.
type Historian interface {
	// History returns the values key has held that the store keeps, oldest
	// first (ascending revision), ending with the current value when the
	// key exists; zero-length values (tombstones) are included, delete and
	// purge markers are not. A driver may bound how many it returns: the
	// most recent ones. It returns ErrNotFound when the store keeps no value
	// of key.
	History(ctx context.Context, key string) ([]Entry, error)
}

// Scanner is the optional capability to stream a listing instead of
// returning it whole: a driver whose backend hands the listing over in parts
// (etcd's pages, a Consul answer decoded pair by pair) passes each entry on
// as it comes, so that a caller that writes each entry out (leasectl ls) or
// adds it to its own index (the console) never holds the listing twice.
type Scanner interface {
	// Scan calls fn with every live key under prefix (all keys for ""),
	// sorted by key, exactly as List would return them, at a bounded number
	// of round trips. fn may keep the Entry. An error from fn stops the
	// scan and is returned as it is; a failure of the store is returned
	// wrapped, possibly after fn has seen part of the listing.
	Scan(ctx context.Context, prefix string, fn func(Entry) error) error
}

// AsScanner returns s, or the store it wraps, as a Scanner.
func AsScanner(s Store) (Scanner, bool) { return as[Scanner](s) }

// Scan calls fn with every live key under prefix in key order: through s's
// Scanner when it has one, else from one List.
func Scan(ctx context.Context, s Store, prefix string, fn func(Entry) error) error {
	if sc, ok := AsScanner(s); ok {
		return sc.Scan(ctx, prefix, fn)
	}
	list, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, e := range list {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Deleter is the optional capability to delete a key outright, as an etcd
// delete or a NATS KV delete marker does. Leases are never deleted (they are
// released with a tombstone); tests and demos use it to make a key absent.
type Deleter interface {
	// Delete removes key, so that Get reports ErrNotFound and a later
	// Create succeeds. Deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// KeyChecker is the optional capability to tell, without I/O, whether the
// backend can hold a key. Operators check keys before auditing a write, so
// a typo is a clear error rather than an audited failure.
type KeyChecker interface {
	// CheckKey returns an error matching ErrInvalidKey for a key the
	// backend cannot hold.
	CheckKey(key string) error
}

// ReadOnlyReporter is the optional capability of a store to say that it
// refuses writes; the lease library refuses to build a fleet lease on it.
type ReadOnlyReporter interface {
	// ReadOnly reports whether every write will fail with ErrReadOnly.
	ReadOnly() bool
}

// Wrapper is implemented by a store that wraps another (ReadOnly does), the
// way errors wrap errors: Unwrap returns the wrapped store, so that the
// optional capabilities the wrapper does not implement itself are still
// found through it. A wrapper must never hide a capability: callers look
// them up with AsWatcher, AsHistorian, AsScanner, AsDeleter, CheckKey and
// IsReadOnly, never with a bare type assertion.
type Wrapper interface {
	// Unwrap returns the store this one wraps.
	Unwrap() Store
}

// as finds the first store in s's chain of wrappers that implements C.
func as[C any](s Store) (C, bool) {
	for s != nil {
		if c, ok := s.(C); ok {
			return c, true
		}
		w, ok := s.(Wrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var none C
	return none, false
}

// AsWatcher returns s, or the store it wraps, as a Watcher.
func AsWatcher(s Store) (Watcher, bool) { return as[Watcher](s) }

// AsHistorian returns s, or the store it wraps, as a Historian.
func AsHistorian(s Store) (Historian, bool) { return as[Historian](s) }

// AsDeleter returns s, or the store it wraps, as a Deleter. Through
// ReadOnly, that is the wrapper, whose Delete fails with ErrReadOnly.
func AsDeleter(s Store) (Deleter, bool) { return as[Deleter](s) }

// CheckKey reports whether s can hold key: an empty key never, otherwise as
// its KeyChecker says (stores without one accept any key).
func CheckKey(s Store, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if kc, ok := as[KeyChecker](s); ok {
		return kc.CheckKey(key)
	}
	return nil
}

// IsReadOnly reports whether s, or a store it wraps, says it refuses writes.
func IsReadOnly(s Store) bool {
	r, ok := as[ReadOnlyReporter](s)
	return ok && r.ReadOnly()
}

// ReadOnly wraps s so that every write fails with ErrReadOnly before
// anything reaches the backend. Reads pass through, and so do the read
// capabilities (watching, history, key checks), found through Unwrap.
func ReadOnly(s Store) Store {
	if IsReadOnly(s) {
		return s
	}
	return readOnly{s}
}

type readOnly struct{ inner Store }

var (
	_ Wrapper          = readOnly{}
	_ ReadOnlyReporter = readOnly{}
	_ Deleter          = readOnly{}
)

func (r readOnly) Unwrap() Store { return r.inner }

func (readOnly) ReadOnly() bool { return true }

func (r readOnly) Get(ctx context.Context, key string) (Entry, error) { return r.inner.Get(ctx, key) }

func (r readOnly) List(ctx context.Context, prefix string) ([]Entry, error) {
	return r.inner.List(ctx, prefix)
}

func (readOnly) Create(context.Context, string, []byte) (uint64, error) {
	return 0, ErrReadOnly
}

func (readOnly) Update(context.Context, string, []byte, uint64) (uint64, error) {
	return 0, ErrReadOnly
}

func (readOnly) Delete(context.Context, string) error { return ErrReadOnly }
