// Package etcd is the leasectl store driver for etcd v3.
//
// A Store wraps a clientv3 client. Revisions are etcd's mod_revision. Create
// is one transaction, If(CreateRevision(key) == 0).Then(Put).Else(Get), so a
// lost create returns the current entry in the same round trip as a
// *stores.ExistsError; Update is If(ModRevision(key) == rev).Then(Put). List
// reads a consistent snapshot in pages at one revision, and Watch follows a
// prefix from that snapshot on.
//
// Errors start with "etcd:" and name the operation and key. Outcomes match
// the stores sentinels (a lost Create is a *stores.ExistsError, whose message
// names the key and its revision); failures wrap the backend's own error, so
// errors.Is works against etcd's rpctypes errors and context errors. When a
// call runs out of time because no endpoint accepts a connection, the error
// also says why ("cluster unreachable: … connection refused"), which clientv3
// alone reduces to "context deadline exceeded".
//
// New wraps a client the caller owns; Dial builds and owns one, checks it
// (TLS, credentials, one request) and keeps its logging quiet. History and
// Delete serve the console and tests; leases themselves are never deleted.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores"
)

var (
	_ stores.Store     = (*Store)(nil)
	_ stores.Watcher   = (*Store)(nil)
	_ stores.Historian = (*Store)(nil)
	_ stores.Deleter   = (*Store)(nil)
	_ stores.Scanner   = (*Store)(nil)
)

const (
	// DefaultPageSize is how many keys List and Watch read per round trip:
	// a page of 5,000 lease records (about 100 bytes each) stays under a
	// megabyte, and 100,000 keys still cost only 20 round trips.
	DefaultPageSize = 5000

	// maxPageSize bounds WithPageSize so a page cannot ask the server for an
	// unbounded response.
	maxPageSize = 100_000

	// historyLimit is how many entries History returns at most: enough for
	// an operator to see the last rounds, few enough to stay interactive.
	historyLimit = 20

	// listAttempts is how many times List restarts from the first page when
	// a compaction overtakes the snapshot revision between two pages.
	listAttempts = 3
)

// Store is a stores.Store backed by etcd, with the optional capabilities
// stores.Watcher, stores.Historian, stores.Deleter and stores.Scanner. It is safe for
// concurrent use.
type Store struct {
	cli      *clientv3.Client
	owned    bool // Close closes cli (the store was built by Dial)
	pageSize int64

	// afterSnapshot, when set by tests, runs in the watch goroutine after a
	// snapshot was sent and before the change stream is opened.
	afterSnapshot func()
}

// Option configures a Store built by New or Dial.
type Option func(*Store) error

// WithPageSize sets how many keys List and Watch fetch per round trip
// (default DefaultPageSize). n must be between 1 and 100,000.
func WithPageSize(n int) Option {
	return func(s *Store) error {
		if n < 1 || n > maxPageSize {
			return fmt.Errorf("etcd: page size %d out of range 1..%d", n, maxPageSize)
		}
		s.pageSize = int64(n)
		return nil
	}
}

// New returns a Store that uses cli. The caller keeps ownership of cli: the
// Store's Close does not close it, so one client can serve several stores
// (and tests can dial however they need).
func New(cli *clientv3.Client, opts ...Option) (*Store, error) {
	if cli == nil {
		return nil, errors.New("etcd: nil client")
	}
	s := &Store{cli: cli, pageSize: DefaultPageSize}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases the store. It closes the client only when the store owns
// it, that is when it was built by Dial; a Store from New leaves the caller's
// client open. Watches end when the client closes.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: close: %w", err)
	}
	return nil
}

// Get returns the latest value of key and its mod_revision. It returns an
// error matching stores.ErrNotFound when the key does not exist, and
// stores.ErrInvalidKey for an empty key.
func (s *Store) Get(ctx context.Context, key string) (stores.Entry, error) {
	if key == "" {
		return stores.Entry{}, invalidKey("get")
	}
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return stores.Entry{}, s.wrap("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return stores.Entry{}, fmt.Errorf("etcd: get %q: %w", key, stores.ErrNotFound)
	}
	return entry(resp.Kvs[0]), nil
}

// Create writes value under key only if the key does not exist, and returns
// the new revision. When the key exists it returns a *stores.ExistsError
// (matching stores.ErrExists) holding the current entry, read in the same
// transaction: one round trip either way.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if key == "" {
		return 0, invalidKey("create")
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, s.wrap("create", key, err)
	}
	if resp.Succeeded {
		return uint64(resp.Header.Revision), nil
	}
	if kvs := rangeKvs(resp); len(kvs) > 0 {
		return 0, &stores.ExistsError{Current: entry(kvs[0])}
	}
	// Unreachable: the Else branch reads the key the compare just saw.
	return 0, fmt.Errorf("etcd: create %q: %w", key, stores.ErrExists)
}

// Update writes value under key only if the key's mod_revision is rev, and
// returns the new revision. It returns an error matching stores.ErrConflict
// when the key changed or no longer exists; the message names the current
// revision, read in the same transaction. Revision 0 means "absent" and can
// never match an existing key, so it conflicts without a round trip (a
// ModRevision == 0 compare would instead create the key).
func (s *Store) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if key == "" {
		return 0, invalidKey("update")
	}
	if rev == 0 || rev > math.MaxInt64 {
		return 0, fmt.Errorf("etcd: update %q: %w: revision %d cannot exist", key, stores.ErrConflict, rev)
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", int64(rev))).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return 0, s.wrap("update", key, err)
	}
	if resp.Succeeded {
		return uint64(resp.Header.Revision), nil
	}
	if kvs := rangeKvs(resp); len(kvs) > 0 {
		return 0, fmt.Errorf("etcd: update %q: %w: expected revision %d, current revision %d",
			key, stores.ErrConflict, rev, kvs[0].ModRevision)
	}
	return 0, fmt.Errorf("etcd: update %q: %w: expected revision %d, key does not exist",
		key, stores.ErrConflict, rev)
}

// Delete removes key unconditionally (stores.Deleter); deleting an absent
// key is not an error. It exists for tests and demos; leases are never
// deleted, they are released with a tombstone.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return invalidKey("delete")
	}
	if _, err := s.cli.Delete(ctx, key); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// List returns every key under prefix (every key for ""), sorted by key. It
// reads pages of the configured page size, all at the revision of the first
// page, so the result is one consistent snapshot in ceil(n/pageSize) round
// trips. If a compaction overtakes that revision between two pages, List
// starts over, at most twice.
func (s *Store) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	entries, _, err := s.list(ctx, prefix)
	return entries, err
}

// list is List that also returns the snapshot's revision.
func (s *Store) list(ctx context.Context, prefix string) ([]stores.Entry, int64, error) {
	start, end := prefixRange(prefix)
	var lastErr error
	for range listAttempts {
		var out []stores.Entry
		rev, err := s.pages(ctx, start, end, func(kvs []*mvccpb.KeyValue, count int64) error {
			if out == nil {
				out = make([]stores.Entry, 0, min(count, int64(maxPageSize)))
			}
			for _, kv := range kvs {
				out = append(out, entry(kv))
			}
			return nil
		})
		if err == nil {
			if out == nil {
				out = []stores.Entry{}
			}
			return out, rev, nil
		}
		lastErr = err
		// Only a compaction between pages is worth a fresh start.
		if rev == 0 || !errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
	}
	return nil, 0, s.wrap("list", prefix, lastErr)
}

// Scan calls fn with every key under prefix (every key for ""), sorted by
// key (stores.Scanner): page by page as List reads them, all pages at the
// revision of the first, so fn sees one consistent snapshot, and no more
// than two pages are held at a time (the next page is read while fn takes
// the entries of this one). Unlike List, Scan cannot start over once fn has
// seen entries: when a compaction overtakes the snapshot's revision between
// two pages, it returns an error matching rpctypes.ErrCompacted.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
	start, end := prefixRange(prefix)
	var fnErr error
	_, err := s.pages(ctx, start, end, func(kvs []*mvccpb.KeyValue, _ int64) error {
		for _, kv := range kvs {
			if fnErr = fn(entry(kv)); fnErr != nil {
				return fnErr
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return s.wrap("scan", prefix, err)
	}
	return nil
}

// pages reads [start, end) page by page at the first page's revision and
// passes each page's key-values to yield, with the number of keys the
// range holds (the first page's count). The next page is asked for while
// yield takes this one: the round trip overlaps the caller's work. It
// returns the snapshot's revision, also with an error once one was fixed.
// An error from yield stops the reading and is returned as it is.
func (s *Store) pages(ctx context.Context, start, end string, yield func(kvs []*mvccpb.KeyValue, count int64) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(s.pageSize))
	if err != nil {
		return 0, err
	}
	rev, count := resp.Header.Revision, resp.Count
	type page struct {
		resp *clientv3.GetResponse
		err  error
	}
	next := make(chan page, 1)
	for {
		more := resp.More && len(resp.Kvs) > 0
		if more {
			// The next page starts right after the last key of this one.
			key := string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
			go func() {
				resp, err := s.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(s.pageSize), clientv3.WithRev(rev))
				next <- page{resp, err}
			}()
		}
		err := yield(resp.Kvs, count)
		if err != nil || !more {
			if more {
				cancel()
				<-next // the request in flight ends with ctx
			}
			return rev, err
		}
		p := <-next
		if p.err != nil {
			return rev, p.err
		}
		resp = p.resp
	}
}

// History returns the values of the key still held in etcd's MVCC history,
// oldest first and ending with the current entry (stores.Historian), at most
// the 20 most recent. It walks back one revision at a time (one round trip
// per entry) and stops at the key's creation (an earlier incarnation, before
// a delete, is not included) or at the compaction horizon, which is not an
// error. It returns an error matching stores.ErrNotFound when the key does
// not exist now.
func (s *Store) History(ctx context.Context, key string) ([]stores.Entry, error) {
	if key == "" {
		return nil, invalidKey("history")
	}
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, s.wrap("history", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("etcd: history %q: %w", key, stores.ErrNotFound)
	}
	kv := resp.Kvs[0]
	created := kv.CreateRevision
	out := []stores.Entry{entry(kv)}
	for len(out) < historyLimit && kv.ModRevision > created {
		resp, err := s.cli.Get(ctx, key, clientv3.WithRev(kv.ModRevision-1))
		if errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
		if err != nil {
			return nil, s.wrap("history", key, err)
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != created {
			break
		}
		kv = resp.Kvs[0]
		out = append(out, entry(kv))
	}
	slices.Reverse(out)
	return out, nil
}

// wrap prefixes a backend error with the operation and key. When the call
// ran out of time while the connection was failing, it adds why: clientv3
// reports only "context deadline exceeded".
func (s *Store) wrap(op, key string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		if cerr := connError(s.cli); cerr != nil {
			return fmt.Errorf("etcd: %s %q: %w (%w)", op, key, err, cerr)
		}
	}
	return fmt.Errorf("etcd: %s %q: %w", op, key, err)
}

func invalidKey(op string) error {
	return fmt.Errorf("etcd: %s: %w: empty key", op, stores.ErrInvalidKey)
}

// prefixRange returns the [start, end) range of every key under prefix; for
// "" that is every key (etcd's "\x00" end means "to the last key").
func prefixRange(prefix string) (start, end string) {
	if prefix == "" {
		return "\x00", "\x00"
	}
	return prefix, clientv3.GetPrefixRangeEnd(prefix)
}

// entry converts a key-value; a zero-length value (a tombstone), which the
// client hands back as nil, comes back as an empty, non-nil slice, as every
// driver returns it.
func entry(kv *mvccpb.KeyValue) stores.Entry {
	v := kv.Value
	if v == nil {
		v = []byte{}
	}
	return stores.Entry{Key: string(kv.Key), Value: v, Revision: uint64(kv.ModRevision)}
}

// rangeKvs returns the key-values of a transaction's single Get branch.
func rangeKvs(resp *clientv3.TxnResponse) []*mvccpb.KeyValue {
	if len(resp.Responses) == 0 {
		return nil
	}
	if r := resp.Responses[0].GetResponseRange(); r != nil {
		return r.Kvs
	}
	return nil
}
