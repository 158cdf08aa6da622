// Package consul is the stores.Store driver for the Consul KV store, built on
// github.com/hashicorp/consul/api.
//
// A revision is the key's ModifyIndex. Reads use the KV endpoint (one GET
// per Get, one GET ?recurse per List). Writes go through the transaction
// endpoint (PUT /v1/txn) with a single "cas" operation rather than through
// PUT /v1/kv/<key>?cas=<index>: both are the same compare-and-swap in the
// state store, but the KV endpoint answers only true or false, with no index,
// while the transaction endpoint answers with the written entry and its
// ModifyIndex. Create and Update therefore cost one round trip each and
// return the exact revision of their own write; a follow-up Get could return
// a later writer's revision, and a guard holding that revision would then
// overwrite a write it has never seen.
//
// Consul skips a write whose key, value, flags and session equal what is
// stored, and keeps the old ModifyIndex. Two compare-and-swaps against the
// same revision that write the same bytes would then both succeed. The driver
// therefore stores, in the key's Flags, the revision each write replaced
// (0 for a create): every successful write differs from the entry it replaces
// (whose Flags hold a strictly smaller revision), so every write takes a new
// index, as on etcd and NATS, and at most one compare-and-swap per revision
// succeeds. Flags carry nothing else and the driver never reads them.
//
// Keys must not be empty, start with "/", contain "//" or a "." or ".."
// segment (the agent's HTTP router rewrites such paths, so a read would
// silently reach another key), contain a non-printable character (the agent
// refuses such paths), or be invalid UTF-8 (JSON would rewrite it).
// Such keys fail with stores.ErrInvalidKey before anything is sent.
//
// New builds a Store from an api.Config the caller fills in; Dial builds
// one from a Config (address, token, TLS, with Consul's environment
// variables as defaults) and checks that the agent answers.
//
// Listings (List, Scan and every query of a watch) are decoded pair by pair
// as the agent's answer arrives, from GETs the driver sends itself with the
// api client's settings; see http.go and decode.go. A watch of a large
// prefix follows it with several blocking queries at once; see watch.go.
package consul

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
)

var (
	_ stores.Store   = (*Store)(nil)
	_ stores.Watcher = (*Store)(nil)
	_ stores.Scanner = (*Store)(nil)
	_ stores.Deleter = (*Store)(nil)
)

// ErrPermissionDenied means the agent refused the request because of its
// ACLs: the token is unknown, lacks the key:read or key:write permission the
// operation needs, or (for List and Watch) cannot read every key under the
// prefix. The agent's own message is wrapped alongside it.
var ErrPermissionDenied = errors.New("consul: permission denied by ACLs")

// Watch defaults and limits.
const (
	// DefaultWatchWait is how long a watch's blocking query waits for a
	// change before asking again: Consul's recommended ~5m keeps idle
	// watches to one request per key prefix every few minutes.
	DefaultWatchWait = 5 * time.Minute

	// DefaultRetryMin is a watch's first delay after a failed query: quick
	// enough that a restarted agent is noticed at once.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax caps a watch's exponential backoff: a console recovers
	// within seconds of an agent coming back, without hammering one that is
	// down.
	DefaultRetryMax = 5 * time.Second

	// maxWatchWait is the longest wait the agent honours (it caps wait at
	// 10 minutes).
	maxWatchWait = 10 * time.Minute

	// blockingSlack is added to the wait (and Consul's wait/16 jitter) to
	// bound each blocking query, so a silently dead connection is noticed.
	blockingSlack = 15 * time.Second
)

// Store is a stores.Store on a Consul agent's KV store, with the optional
// capabilities stores.Watcher, stores.Scanner, stores.Deleter and
// stores.KeyChecker. It is safe for concurrent use.
type Store struct {
	client *api.Client
	kv     *api.KV
	// cfg is the client's configuration as api.NewClient completed it (the
	// api client keeps its own copy private): the driver's own GETs use it.
	cfg api.Config
	// compress lets the transport ask the agent for gzip; off for an agent
	// on this machine, where compressing costs the agent more than it saves.
	compress bool

	wait      time.Duration
	retryMin  time.Duration
	retryMax  time.Duration
	maxShards int
	shardKeys int
	guardGap  time.Duration
	onPlan    func([]shardSpec) // tests: each plan of a sharded watch
}

// Option configures a Store.
type Option func(*Store) error

// WithWatchWait sets how long a watch's blocking query waits for a change
// (default DefaultWatchWait). It must be positive and at most 10 minutes,
// the agent's own limit.
func WithWatchWait(d time.Duration) Option {
	return func(s *Store) error {
		if d <= 0 || d > maxWatchWait {
			return fmt.Errorf("consul: watch wait %v out of range (0, %v]", d, maxWatchWait)
		}
		s.wait = d
		return nil
	}
}

// WithRetryBackoff sets the bounds of a watch's exponential backoff after a
// failed query (defaults DefaultRetryMin and DefaultRetryMax). Both must be
// positive and min at most max.
func WithRetryBackoff(minDelay, maxDelay time.Duration) Option {
	return func(s *Store) error {
		if minDelay <= 0 || maxDelay < minDelay {
			return fmt.Errorf("consul: retry backoff [%v, %v] invalid: want 0 < min <= max", minDelay, maxDelay)
		}
		s.retryMin, s.retryMax = minDelay, maxDelay
		return nil
	}
}

// New returns a Store on the agent that cfg describes. It builds the api
// client with api.NewClient, which fills cfg's empty fields from Consul's
// environment variables (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, …) and
// defaults, on a copy: cfg itself is not changed. It does not contact the
// agent. New takes a configuration rather than a client because an
// api.Client does not expose its own, and the driver sends its listings
// itself with the same settings (to decode them as they arrive).
func New(cfg *api.Config, opts ...Option) (*Store, error) {
	if cfg == nil {
		return nil, errors.New("consul: nil api configuration")
	}
	c := *cfg
	client, err := api.NewClient(&c) // completes c: address, scheme, HTTP client, token
	if err != nil {
		return nil, fmt.Errorf("consul: client for %s: %w", cfg.Address, err)
	}
	s := &Store{
		client:    client,
		kv:        client.KV(),
		cfg:       c,
		compress:  !isLoopback(c.Address),
		wait:      DefaultWatchWait,
		retryMin:  DefaultRetryMin,
		retryMax:  DefaultRetryMax,
		maxShards: DefaultWatchShards,
		shardKeys: shardKeys,
		guardGap:  guardGap,
	}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Get returns the latest value of key and its revision (ModifyIndex),
// including zero-length values. It returns an error matching
// stores.ErrNotFound when the key is absent, stores.ErrInvalidKey for a key
// Consul cannot address, and ErrPermissionDenied when the ACL token may not
// read it.
func (s *Store) Get(ctx context.Context, key string) (stores.Entry, error) {
	if err := checkKey("get", key); err != nil {
		return stores.Entry{}, err
	}
	pair, _, err := s.kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return stores.Entry{}, fmt.Errorf("consul: get %q: %w", key, classify(err))
	}
	if pair == nil {
		return stores.Entry{}, fmt.Errorf("consul: get %q: %w", key, stores.ErrNotFound)
	}
	return entry(pair), nil
}

// Create writes value under key only if the key does not exist, in one round
// trip, and returns the revision of this write. It returns an error matching
// stores.ErrExists when the key exists (Consul does not say what is there, so
// it is not a *stores.ExistsError), stores.ErrInvalidKey for a key Consul
// cannot address, and ErrPermissionDenied when the token may not write it.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := checkKey("create", key); err != nil {
		return 0, err
	}
	return s.cas(ctx, "create", key, value, 0)
}

// Update writes value under key only if the key's current revision is rev,
// in one round trip, and returns the revision of this write. It returns an
// error matching stores.ErrConflict when the revision differs or the key does
// not exist (rev 0 conflicts without a request: Consul would read it as
// create-only), stores.ErrInvalidKey for a key Consul cannot address, and
// ErrPermissionDenied when the token may not write it.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := checkKey("update", key); err != nil {
		return 0, err
	}
	if rev == 0 {
		return 0, fmt.Errorf("consul: update %q at revision 0: %w: revision 0 means absent", key, stores.ErrConflict)
	}
	return s.cas(ctx, "update", key, value, rev)
}

// staleText is how the agent says that a transaction's check-and-set found
// another index (agent/consul/state/txn.go); permissionText and aclNotFound
// are how it says that the ACLs refused (acl/errors.go). Consul matches these
// strings itself, since errors cross its RPC layer as text.
const (
	staleText      = "index is stale"
	permissionText = "Permission denied"
	aclNotFound    = "ACL not found"
)

// cas runs one check-and-set through the transaction endpoint: index 0 means
// create-only. The answer carries the written entry's ModifyIndex.
func (s *Store) cas(ctx context.Context, op, key string, value []byte, rev uint64) (uint64, error) {
	ops := api.TxnOps{{KV: &api.KVTxnOp{
		Verb:  api.KVCAS,
		Key:   key,
		Value: value,
		Index: rev,
		Flags: rev, // see the package doc: makes every write take a new index
	}}}
	ok, resp, _, err := s.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("consul: %s %q: %w", op, key, classify(err))
	}
	if !ok {
		return 0, s.txnError(op, key, rev, resp)
	}
	if len(resp.Results) != 1 || resp.Results[0].KV == nil || resp.Results[0].KV.ModifyIndex == 0 {
		return 0, fmt.Errorf("consul: %s %q: unexpected transaction answer with %d results", op, key, len(resp.Results))
	}
	return resp.Results[0].KV.ModifyIndex, nil
}

// txnError maps a rolled-back transaction to the contract's errors.
func (s *Store) txnError(op, key string, rev uint64, resp *api.TxnResponse) error {
	var msgs []string
	for _, e := range resp.Errors {
		msgs = append(msgs, e.What)
	}
	backend := fmt.Errorf("transaction rolled back: %s", strings.Join(msgs, "; "))
	text := backend.Error()
	switch {
	case strings.Contains(text, permissionText) || strings.Contains(text, aclNotFound):
		return fmt.Errorf("consul: %s %q: %w: %w", op, key, ErrPermissionDenied, backend)
	case strings.Contains(text, staleText) && rev == 0:
		return fmt.Errorf("consul: %s %q: %w: %w", op, key, stores.ErrExists, backend)
	case strings.Contains(text, staleText):
		return fmt.Errorf("consul: %s %q at revision %d: %w: %w", op, key, rev, stores.ErrConflict, backend)
	}
	return fmt.Errorf("consul: %s %q: %w", op, key, backend)
}

// Delete removes key; a later Create of key succeeds. Deleting an absent key
// is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	if _, err := s.kv.Delete(key, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("consul: delete %q: %w", key, classify(err))
	}
	return nil
}

// classify wraps an api client error so that ACL refusals match
// ErrPermissionDenied and an unreachable agent says so.
func classify(err error) error {
	var se api.StatusError
	text := err.Error()
	switch {
	case errors.As(err, &se) && se.Code == 403,
		strings.Contains(text, permissionText), strings.Contains(text, aclNotFound):
		return fmt.Errorf("%w: %w", ErrPermissionDenied, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer from the agent before the deadline: %w", err)
	}
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) && errors.As(err, &oe) {
		return fmt.Errorf("agent unreachable: %w", err)
	}
	return err
}

// entry converts a KV pair; a zero-length value comes back as an empty,
// non-nil slice.
func entry(p *api.KVPair) stores.Entry {
	v := p.Value
	if v == nil {
		v = []byte{}
	}
	return stores.Entry{Key: p.Key, Value: v, Revision: p.ModifyIndex}
}

// checkKey rejects keys that Consul cannot address faithfully.
func checkKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("consul: %s: %w: empty key", op, stores.ErrInvalidKey)
	}
	return checkPrefix(op, key)
}

// checkPrefix rejects what checkKey rejects except the empty string (list
// everything). The agent serves keys as URL paths: its router redirects a
// path with "//", "." or ".." to the cleaned path, so a read would reach
// another key, and it answers 400 to a path with a non-printable character
// (unicode.IsPrint), so a key written through a transaction could never be
// read back. JSON replaces invalid UTF-8, so a write would reach another key.
func checkPrefix(op, key string) error {
	if key == "" {
		return nil
	}
	reason := ""
	switch {
	case key[0] == '/':
		reason = "starts with /"
	case !utf8.ValidString(key):
		reason = "not valid UTF-8"
	case strings.IndexFunc(key, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		reason = "contains a non-printable character"
	default:
		segs := strings.Split(key, "/")
		for i, seg := range segs {
			if seg == "." || seg == ".." || (seg == "" && i < len(segs)-1) {
				reason = `contains "//" or a "." or ".." segment`
				break
			}
		}
	}
	if reason != "" {
		return fmt.Errorf("consul: %s %q: %w: %s", op, key, stores.ErrInvalidKey, reason)
	}
	return nil
}
