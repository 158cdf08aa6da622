package lease_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// clock is an injected wall clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(unix int64) *clock { return &clock{t: time.Unix(unix, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// events is an ordered log shared by a callStore and a recordingAuditor, so a
// test can check what happened before what.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(format string, args ...any) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// callStore wraps the real memory store to record calls and inject faults.
// It encodes no belief about a backend: every call it lets through is the
// memory store's.
type callStore struct {
	stores.Store
	log *events

	mu sync.Mutex
	// plainExists strips the *stores.ExistsError from Create, as a driver
	// that cannot return the current entry would.
	plainExists bool
	// createErr, getErr, updateErr fail the call instead of running it.
	createErr, getErr, updateErr error
	// beforeUpdate runs before each Update reaches the store.
	beforeUpdate func(ctx context.Context, key string)
	// lostAnswer makes a Create or Update that the store carried out
	// return this error instead of its result: the write landed, its
	// answer did not (a deadline, a dropped connection).
	lostAnswer error
	// getHook, when set, runs at each Get; a non-nil error fails it.
	getHook func() error
	// afterUpdate runs once an Update has reached the store.
	afterUpdate func()
}

func newCallStore(log *events) (*callStore, *memory.Store) {
	m := memory.New()
	return &callStore{Store: m, log: log}, m
}

func (s *callStore) Get(ctx context.Context, key string) (stores.Entry, error) {
	s.log.add("get %s", key)
	s.mu.Lock()
	err, hook := s.getErr, s.getHook
	s.mu.Unlock()
	if err == nil && hook != nil {
		err = hook()
	}
	if err != nil {
		return stores.Entry{}, err
	}
	return s.Store.Get(ctx, key)
}

func (s *callStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	s.log.add("create %s", key)
	s.mu.Lock()
	err, plain, lost := s.createErr, s.plainExists, s.lostAnswer
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	rev, err := s.Store.Create(ctx, key, value)
	if plain && err != nil {
		return 0, fmt.Errorf("callstore: %w", stores.ErrExists)
	}
	if lost != nil && err == nil {
		return 0, lost
	}
	return rev, err
}

func (s *callStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	err, hook, lost, after := s.updateErr, s.beforeUpdate, s.lostAnswer, s.afterUpdate
	s.mu.Unlock()
	if hook != nil {
		hook(ctx, key)
	}
	s.log.add("update %s@%d", key, rev)
	if err != nil {
		return 0, err
	}
	rev, err = s.Store.Update(ctx, key, value, rev)
	if after != nil {
		after()
	}
	if lost != nil && err == nil {
		return 0, lost
	}
	return rev, err
}

func (s *callStore) set(f func(s *callStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// logBuffer captures what a Lease logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newLease builds a Lease or fails the test.
func newLease(t testing.TB, s stores.Store, key, holder string, opts ...lease.Option) *lease.Lease {
	t.Helper()
	l, err := lease.New(s, key, holder, opts...)
	if err != nil {
		t.Fatalf("New(%q, %q) = %v", key, holder, err)
	}
	return l
}

// mustGet reads key from s or fails the test.
func mustGet(t testing.TB, s stores.Store, key string) stores.Entry {
	t.Helper()
	e, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return e
}

// mustCreate plants value under key or fails the test.
func mustCreate(t testing.TB, s stores.Store, key string, value []byte) uint64 {
	t.Helper()
	rev, err := s.Create(t.Context(), key, value)
	if err != nil {
		t.Fatalf("Create(%q, %q) = %v", key, value, err)
	}
	return rev
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
