// Package memory is an in-process stores.Store: the default for demos and
// tests. It keeps the contract exactly (create-only writes, compare-and-swap
// updates, zero-length values as ordinary values) and numbers writes with one
// store-wide revision counter that starts at 1, like etcd's.
package memory

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/leasectl/leasectl/stores"
)

// ErrClosed is returned by every operation on a Store after Close.
var ErrClosed = errors.New("memory: store is closed")

var (
	_ stores.Store   = (*Store)(nil)
	_ stores.Watcher = (*Store)(nil)
	_ stores.Deleter = (*Store)(nil)
)

// Store is an in-memory key-value store. The zero value is not usable; call
// New. A Store is safe for concurrent use. Values are copied in and out, so
// callers may reuse or mutate their slices.
type Store struct {
	mu       sync.Mutex
	rev      uint64                  // revision of the last write; 0 before the first
	entries  map[string]stores.Entry // Value is owned by the store, never handed out
	watchers map[*watcher]struct{}
	closed   bool
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		entries:  make(map[string]stores.Entry),
		watchers: make(map[*watcher]struct{}),
	}
}

// Get returns the latest value of key and its revision. It returns an error
// matching stores.ErrNotFound when the key is absent.
func (s *Store) Get(ctx context.Context, key string) (stores.Entry, error) {
	if err := check(ctx, "get", key); err != nil {
		return stores.Entry{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return stores.Entry{}, ErrClosed
	}
	e, ok := s.entries[key]
	if !ok {
		return stores.Entry{}, fmt.Errorf("memory: get %q: %w", key, stores.ErrNotFound)
	}
	return clone(e), nil
}

// Create writes value under key only if key does not exist and returns the
// new revision. When key exists it returns a *stores.ExistsError holding the
// current entry, which matches stores.ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := check(ctx, "create", key); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if e, ok := s.entries[key]; ok {
		return 0, fmt.Errorf("memory: create: %w", &stores.ExistsError{Current: clone(e)})
	}
	return s.put(key, value), nil
}

// Update writes value under key only if the key's current revision is rev,
// and returns the new revision. It returns an error matching
// stores.ErrConflict when the revision differs or the key does not exist
// (rev 0 therefore always conflicts).
func (s *Store) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := check(ctx, "update", key); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	e, ok := s.entries[key]
	if !ok {
		return 0, fmt.Errorf("memory: update %q at revision %d: %w: key does not exist", key, rev, stores.ErrConflict)
	}
	if e.Revision != rev {
		return 0, fmt.Errorf("memory: update %q at revision %d: %w: current revision is %d", key, rev, stores.ErrConflict, e.Revision)
	}
	return s.put(key, value), nil
}

// Delete removes key, like a NATS purge; a later Create of key succeeds.
// Deleting an absent key is not an error and changes nothing. A deletion
// takes a revision of its own and is reported to watchers as
// stores.EventDelete.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.entries[key]; !ok {
		return nil
	}
	delete(s.entries, key)
	s.rev++
	s.notify(stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: key, Revision: s.rev}})
	return nil
}

// List returns every key under prefix (all keys for ""), a plain string
// prefix, with values and revisions, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list %q: %w", prefix, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.listLocked(prefix), nil
}

// Scan calls fn with every key under prefix, sorted by key (stores.Scanner):
// a copy of the listing taken at once, so fn may call the store.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
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

// Watch streams the entries under prefix: a snapshot of every key as
// stores.EventPut sorted by key, then stores.EventSynced, then every later
// change in revision order. The channel is closed when ctx ends or the store
// is closed.
//
// Writers never wait for a watcher. Each watcher owns a queue that a
// goroutine drains into the channel; while a change to a key is still queued,
// a newer change to the same key replaces it and moves to the back of the
// queue. The queue therefore stays in revision order, holds at most one change
// per key (plus the snapshot), and a slow consumer may skip intermediate
// values of a key but always receives its latest state.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: watch %q: %w", prefix, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{
		prefix: prefix,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		latest: make(map[string]*list.Element),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	for _, e := range s.listLocked(prefix) {
		w.queue.PushBack(queued{ev: stores.Event{Kind: stores.EventPut, Entry: e}})
	}
	w.queue.PushBack(queued{ev: stores.Event{Kind: stores.EventSynced}})
	s.watchers[w] = struct{}{}
	s.mu.Unlock()

	out := make(chan stores.Event)
	go func() {
		defer close(out)
		defer func() {
			s.mu.Lock()
			delete(s.watchers, w)
			s.mu.Unlock()
		}()
		w.run(ctx, out)
	}()
	return out, nil
}

// Close closes every watch channel and makes every later call fail with
// ErrClosed. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for w := range s.watchers {
		w.cancel()
	}
	return nil
}

// put stores a copy of value under key at the next revision and tells the
// watchers. s.mu must be held.
func (s *Store) put(key string, value []byte) uint64 {
	s.rev++
	e := stores.Entry{Key: key, Value: copyBytes(value), Revision: s.rev}
	s.entries[key] = e
	s.notify(stores.Event{Kind: stores.EventPut, Entry: e})
	return s.rev
}

// notify queues ev for every watcher whose prefix covers its key. s.mu must
// be held, which is what keeps each queue in revision order.
func (s *Store) notify(ev stores.Event) {
	for w := range s.watchers {
		if strings.HasPrefix(ev.Entry.Key, w.prefix) {
			ev.Entry = clone(ev.Entry) // each consumer may mutate its own copy
			w.push(ev)
		}
	}
}

// listLocked returns copies of the entries under prefix, sorted by key. s.mu
// must be held.
func (s *Store) listLocked(prefix string) []stores.Entry {
	list := []stores.Entry{}
	for k, e := range s.entries {
		if strings.HasPrefix(k, prefix) {
			list = append(list, clone(e))
		}
	}
	slices.SortFunc(list, func(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) })
	return list
}

// watcher is one Watch call: a queue filled by writers under the store's lock
// and drained by its own goroutine.
type watcher struct {
	prefix string
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: "the queue may be non-empty"

	mu     sync.Mutex
	queue  list.List                // of queued, in delivery order
	latest map[string]*list.Element // the queued change of each key, if any
}

// queued is one element of a watcher's queue. Snapshot events and EventSynced
// are never coalesced (a key must not leave the snapshot); changes are.
type queued struct {
	ev     stores.Event
	change bool
}

// push appends a change, replacing the key's change that is still queued.
func (w *watcher) push(ev stores.Event) {
	w.mu.Lock()
	if el, ok := w.latest[ev.Entry.Key]; ok {
		w.queue.Remove(el)
	}
	w.latest[ev.Entry.Key] = w.queue.PushBack(queued{ev: ev, change: true})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// pop removes and returns the first queued event.
func (w *watcher) pop() (stores.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	el := w.queue.Front()
	if el == nil {
		return stores.Event{}, false
	}
	q := w.queue.Remove(el).(queued)
	if q.change {
		delete(w.latest, q.ev.Entry.Key)
	}
	return q.ev, true
}

// run delivers the queue to out until ctx ends.
func (w *watcher) run(ctx context.Context, out chan<- stores.Event) {
	for {
		ev, ok := w.pop()
		if !ok {
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// check rejects a done context and the empty key.
func check(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, key, err)
	}
	if key == "" {
		return fmt.Errorf("memory: %s: %w: empty key", op, stores.ErrInvalidKey)
	}
	return nil
}

func clone(e stores.Entry) stores.Entry {
	e.Value = copyBytes(e.Value)
	return e
}

// copyBytes copies b; the copy is never nil, so a zero-length value reads
// back as an empty, non-nil slice.
func copyBytes(b []byte) []byte {
	return append([]byte{}, b...)
}
