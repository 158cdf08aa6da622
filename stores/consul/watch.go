package consul

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
)

// Watch limits and defaults beyond those in consul.go.
const (
	// DefaultWatchShards is the most blocking queries a watch of a large
	// prefix holds at once (plus its guard). The agent allows one client
	// address 200 connections by default (http_max_conns_per_client) and
	// answers any request past them with 429: at 48 a watch takes a
	// quarter, so that three consoles, a `leasectl serve` and the CLI on
	// one machine still fit. (At 100, two consoles were enough to make a
	// third process's every call fail with 429.) 100,000 keys make shards
	// of about 2,100 keys.
	DefaultWatchShards = 48

	// shardKeys is the size of shard a watch aims at: a prefix with more
	// keys is split. The agent answers 1,000 keys with about 5 ms of CPU,
	// against 0.5 s for 100,000.
	shardKeys = 1000

	// guardGap is the least time between two answers of a sharded watch's
	// guard query, which lists every key name under the prefix to find keys
	// that appear outside all shards: it costs the agent ~0.1 s of CPU at
	// 100,000 keys and answers after every write, so it runs at most once
	// a second while the prefix changes. Keys in the shards do not wait for
	// it.
	guardGap = time.Second

	// watchBuffer lets a snapshot flow while the consumer works on what it
	// has, as the other drivers' watches do.
	watchBuffer = 64
)

// WithWatchShards sets the most blocking queries a watch holds at once to
// follow a large prefix (default DefaultWatchShards); 1 follows every
// prefix with a single query, as the Consul tools do, at the cost of a full
// listing per change. It must be positive.
func WithWatchShards(n int) Option {
	return func(s *Store) error {
		if n < 1 {
			return fmt.Errorf("consul: watch shards %d: want at least 1", n)
		}
		s.maxShards = n
		return nil
	}
}

// Watch streams the entries under prefix: a snapshot of every live key as
// stores.EventPut sorted by key, then stores.EventSynced, then changes.
//
// It follows Consul's blocking-query pattern (GET ?recurse&index=<last
// index>&wait=<wait>): a query returns when something under its prefix
// changes or the wait ends, and its answer lists the whole prefix; the
// driver compares each key's ModifyIndex and a hash of its value with what
// it sent before (it keeps no values), decodes only what changed, and sends
// EventPut for new or rewritten keys, in revision order, then EventDelete
// for vanished keys, in key order (with Revision 0: Consul does not say
// which index deleted a key). Changes between two answers are coalesced: a
// slow consumer sees the latest state of every key, not every intermediate
// value.
//
// One answer listing a large prefix costs the agent about half a second at
// 100,000 keys, and would be the latency of every change. A prefix with
// more than 1,000 keys is therefore split into shards (see plan), each
// followed by its own blocking query, at most WithWatchShards of them (a
// connection each), so a change costs an answer the size of its shard. Keys
// that appear outside every shard are found by a guard query listing the
// key names under the prefix, at most once a second, and get a shard of
// their own (or, past the limit, the shards are planned again). Changes to
// keys in different shards may then arrive out of revision order; the
// changes of one key always arrive in order.
//
// A blocking query that ends without a new index is followed by one
// non-blocking query, because Consul answers a query interrupted by a
// snapshot restore with the old state and would then block on an index the
// restored state may not reach for minutes. A failed query is reported as
// stores.EventError and retried with exponential backoff. The first answer
// after a failure, and any answer whose index went backwards (a restored
// snapshot, a new agent), starts a new history: stores.EventReset (when a
// snapshot was sent before), the full snapshot, stores.EventSynced. The
// channel is closed when ctx ends. Watch itself fails only for an invalid
// prefix or a done ctx.
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	if err := checkPrefix("watch", prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("consul: watch %q: %w", prefix, err)
	}
	out := make(chan stores.Event, watchBuffer)
	w := &watch{s: s, prefix: prefix, out: out, maxShards: s.maxShards, seed: maphash.MakeSeed()}
	go func() {
		defer close(out)
		w.run(ctx)
	}()
	return out, nil
}

// Why an epoch of a watch ended, other than a failure.
var (
	// errRestart: an index went backwards, the agent's history restarted.
	errRestart = errors.New("consul: the agent's index went backwards")
	// errReplan: the shards no longer fit; plan them again.
	errReplan = errors.New("consul: watch shards replanned")
)

// watch is the state of one Watch call.
type watch struct {
	s         *Store
	prefix    string
	out       chan<- stores.Event
	seed      maphash.Seed
	sent      bool // the consumer has received a snapshot
	maxShards int  // lowered when the agent refuses connections
}

func (w *watch) run(ctx context.Context) {
	delay := time.Duration(0)
	for {
		synced, err := w.epoch(ctx)
		if ctx.Err() != nil {
			return
		}
		if synced {
			delay = 0
		}
		if errors.Is(err, errRestart) {
			continue // a new history, from a working agent: no failure
		}
		var se api.StatusError
		if errors.As(err, &se) && se.Code == 429 && w.maxShards > 1 {
			// The agent refuses this address more connections: hold fewer.
			w.maxShards = max(1, w.maxShards/2)
		}
		if !w.send(ctx, stores.Event{Kind: stores.EventError, Err: fmt.Errorf("consul: watch %q: %w", w.prefix, err)}) {
			return
		}
		delay = min(max(2*delay, w.s.retryMin), w.s.retryMax)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// epoch sends a snapshot and then follows the prefix until a query fails
// or the history restarts; synced reports whether the snapshot was
// complete.
func (w *watch) epoch(ctx context.Context) (synced bool, err error) {
	whole, err := w.snapshot(ctx)
	if err != nil {
		return false, err
	}
	for {
		specs := w.plan(whole)
		if len(specs) == 1 && specs[0] == (shardSpec{prefix: w.prefix}) {
			// One query follows everything, until the prefix has grown
			// enough to be worth planning again.
			grown := -1
			if w.maxShards > 1 {
				grown = max(2*len(whole.metas), w.s.shardKeys)
			}
			err = w.follow(ctx, whole, grown, nil)
		} else {
			whole, err = w.sharded(ctx, whole, specs)
		}
		if !errors.Is(err, errReplan) {
			return true, err
		}
	}
}

// plan sorts what whole has sent by key and plans shards for it.
func (w *watch) plan(whole *shard) []shardSpec {
	if !slices.IsSortedFunc(whole.metas, compareMetas) {
		slices.SortFunc(whole.metas, compareMetas)
		whole.at = nil // positions moved
	}
	keys := make([]string, len(whole.metas))
	for i, m := range whole.metas {
		keys[i] = m.key
	}
	specs := plan(w.prefix, keys, w.maxShards, w.s.shardKeys)
	if w.s.onPlan != nil && (len(specs) > 1 || specs[0] != (shardSpec{prefix: w.prefix})) {
		w.s.onPlan(specs)
	}
	return specs
}

func compareMetas(a, b keyMeta) int { return strings.Compare(a.key, b.key) }

// keyMeta is what a watch keeps of a key it has sent: enough to tell
// whether an answer changes it, not its value.
type keyMeta struct {
	key  string
	mod  uint64 // ModifyIndex
	hash uint64 // of the value's text in the answer
	seen uint32 // the last answer (shard.gen) that listed it
}

// shard is one blocking query of a watch and what it has sent; it belongs
// to one goroutine at a time.
type shard struct {
	spec    shardSpec
	index   uint64 // X-Consul-Index of the last answer
	confirm bool   // the next query must not block
	metas   []keyMeta
	at      map[string]int32 // key → position in metas; built on first use
	gen     uint32
}

// newShard returns a shard that has sent metas (which it takes over) and
// waits for an index after index.
func newShard(spec shardSpec, metas []keyMeta, index uint64) *shard {
	for i := range metas {
		metas[i].seen = 0 // another shard's count
	}
	return &shard{spec: spec, index: index, metas: metas}
}

// positions returns the key → position map, building it on first use: a
// snapshot's is needed only when one query follows the whole prefix.
func (sh *shard) positions() map[string]int32 {
	if sh.at == nil {
		sh.at = make(map[string]int32, len(sh.metas))
		for i, m := range sh.metas {
			sh.at[m.key] = int32(i)
		}
	}
	return sh.at
}

// snapshot lists the prefix and sends it as a new history: the entries as
// they are decoded, in the agent's order (key order), then EventSynced. It
// returns a shard over the whole prefix that holds them.
func (w *watch) snapshot(ctx context.Context) (*shard, error) {
	qctx, cancel := context.WithTimeout(ctx, w.s.wait+w.s.wait/16+blockingSlack)
	defer cancel()
	reset := w.sent
	var metas []keyMeta
	sc := pooledScanner()
	defer scanners.Put(sc)
	index, err := w.s.scanPairs(qctx, w.prefix, recurse, sc, func(p *pair) error {
		e, err := p.entry()
		if err != nil {
			return err
		}
		if reset {
			if !w.send(ctx, stores.Event{Kind: stores.EventReset}) {
				return ctx.Err()
			}
			reset = false
		}
		metas = append(metas, keyMeta{key: e.Key, mod: e.Revision, hash: maphash.Bytes(w.seed, p.value)})
		if !w.send(ctx, stores.Event{Kind: stores.EventPut, Entry: e}) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reset && !w.send(ctx, stores.Event{Kind: stores.EventReset}) {
		return nil, ctx.Err()
	}
	w.sent = true
	if !w.send(ctx, stores.Event{Kind: stores.EventSynced}) {
		return nil, ctx.Err()
	}
	// An index of 0 would make the next query return at once; Consul's
	// guidance is to wait on 1 instead.
	return newShard(shardSpec{prefix: w.prefix}, metas, max(index, 1)), nil
}

// follow runs sh's blocking queries and sends what changes, until ctx ends
// or a query fails. Alone (retire nil) it returns errReplan once sh holds
// more than grown keys (never, for grown < 0); as one of several shards, it
// retires (calls retire and returns nil) once its region is empty.
func (w *watch) follow(ctx context.Context, sh *shard, grown int, retire func(*shard)) error {
	sc := pooledScanner()
	defer scanners.Put(sc)
	var changes []stores.Event
	for {
		params := url.Values{"wait": {durToMsec(w.s.wait)}}
		if !sh.spec.exact {
			params.Set("recurse", "")
		}
		blocking := !sh.confirm
		if blocking {
			params.Set("index", strconv.FormatUint(sh.index, 10))
		}
		// Bound the request: the agent answers within wait plus up to
		// wait/16 of jitter; past that the connection is dead.
		qctx, cancel := context.WithTimeout(ctx, w.s.wait+w.s.wait/16+blockingSlack)
		var err error
		changes, err = w.diff(qctx, sh, params, sc, changes[:0])
		cancel()
		if ctx.Err() != nil {
			// The epoch ended (a new plan, or the watch's end) with these
			// changes counted in sh but not sent: the listing that brings
			// the next plan up to date must see them as changes.
			sh.unsent(changes)
			return nil
		}
		if err != nil {
			return err
		}
		for i, ev := range changes {
			if !w.send(ctx, ev) {
				sh.unsent(changes[i:])
				return nil
			}
		}
		if retire != nil && len(sh.metas) == 0 {
			retire(sh)
			return nil
		}
		if grown >= 0 && len(sh.metas) > grown {
			return errReplan
		}
	}
}

// diff runs one query of sh, updates sh to its answer and returns the
// changes to send: puts in revision order, as they happened, then deletes
// (whose index Consul does not report) in key order.
func (w *watch) diff(ctx context.Context, sh *shard, params url.Values, sc *pairScanner, changes []stores.Event) ([]stores.Event, error) {
	sh.gen++
	at := sh.positions()
	seen := 0
	puts := len(changes)
	index, err := w.s.scanPairs(ctx, sh.spec.prefix, params, sc, func(p *pair) error {
		var key string
		i, ok := int32(0), false
		if p.keyEsc {
			k, err := p.entryKey()
			if err != nil {
				return err
			}
			key = k
			i, ok = at[key]
		} else {
			i, ok = at[string(p.key)] // no allocation
		}
		h := maphash.Bytes(w.seed, p.value)
		if ok {
			m := &sh.metas[i]
			if m.seen != sh.gen {
				m.seen = sh.gen
				seen++
			}
			if m.mod == p.modify && m.hash == h {
				return nil
			}
			v, err := p.decodeValue()
			if err != nil {
				return err
			}
			m.mod, m.hash = p.modify, h
			changes = append(changes, stores.Event{Kind: stores.EventPut, Entry: stores.Entry{Key: m.key, Value: v, Revision: p.modify}})
			return nil
		}
		e, err := p.entry()
		if err != nil {
			return err
		}
		at[e.Key] = int32(len(sh.metas))
		sh.metas = append(sh.metas, keyMeta{key: e.Key, mod: e.Revision, hash: h, seen: sh.gen})
		seen++
		changes = append(changes, stores.Event{Kind: stores.EventPut, Entry: e})
		return nil
	})
	if err != nil {
		// What sh took in before the failure is in changes too, for
		// follow to undo when it cannot send them.
		return changes, err
	}
	if index < sh.index {
		return changes[:puts], errRestart
	}
	slices.SortFunc(changes[puts:], func(a, b stores.Event) int {
		return cmp.Or(cmp.Compare(a.Entry.Revision, b.Entry.Revision), strings.Compare(a.Entry.Key, b.Entry.Key))
	})
	if seen < len(sh.metas) {
		dels := len(changes)
		for i := 0; i < len(sh.metas); {
			m := sh.metas[i]
			if m.seen == sh.gen {
				i++
				continue
			}
			changes = append(changes, stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: m.key}})
			last := len(sh.metas) - 1
			sh.metas[i] = sh.metas[last]
			at[sh.metas[i].key] = int32(i)
			sh.metas = sh.metas[:last]
			delete(at, m.key)
		}
		slices.SortFunc(changes[dels:], func(a, b stores.Event) int { return strings.Compare(a.Entry.Key, b.Entry.Key) })
	}
	// A blocking query that answers without a new index ended its wait,
	// or the agent abandoned its state (a snapshot restore): Consul then
	// answers with the old state, and the next blocking query would wait
	// for the new state to pass the old index, possibly for the whole
	// wait. A non-blocking query sees the new state and its index, which
	// may have gone backwards. Cost: one extra listing per idle wait.
	sh.confirm = params.Has("index") && index == sh.index
	sh.index = max(index, 1)
	return changes, nil
}

// unsent makes sh forget that it sent changes, which it took in from an
// answer but could not send: the next answer listing their keys shows them
// as changed again (a put's key is marked with ModifyIndex 0, which no
// entry has; a deleted key is kept, so that its absence is a delete).
func (sh *shard) unsent(changes []stores.Event) {
	at := sh.positions()
	for _, ev := range changes {
		switch ev.Kind {
		case stores.EventPut:
			if i, ok := at[ev.Entry.Key]; ok {
				sh.metas[i].mod = 0
			}
		case stores.EventDelete:
			if _, ok := at[ev.Entry.Key]; !ok {
				at[ev.Entry.Key] = int32(len(sh.metas))
				sh.metas = append(sh.metas, keyMeta{key: ev.Entry.Key})
			}
		}
	}
}

// shardMsg is what a shard's or the guard's goroutine tells its epoch.
type shardMsg struct {
	err     error
	retired *shard
	found   []string // keys outside every shard (the guard)
}

// sharded follows the prefix with the shards of specs, planned from whole
// (sorted by key), until a query fails, the history restarts, or the
// shards must be planned again; then it returns a shard over the whole
// prefix holding what was sent, brought up to date, to plan from.
func (w *watch) sharded(ctx context.Context, whole *shard, specs []shardSpec) (*shard, error) {
	// Share out what was sent: both are sorted.
	shards := make(map[string]*shard, len(specs))
	lo := 0
	for _, sp := range specs {
		for lo < len(whole.metas) && whole.metas[lo].key < sp.prefix {
			lo++ // a key no region covers: never, plan covers every key
		}
		hi := lo
		for hi < len(whole.metas) && sp.covers(whole.metas[hi].key) {
			hi++
		}
		shards[sp.prefix] = newShard(sp, slices.Clone(whole.metas[lo:hi]), whole.index)
		lo = hi
	}
	index := whole.index
	whole = nil // the shards hold it now

	ectx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	msgs := make(chan shardMsg)
	tell := func(m shardMsg) {
		select {
		case msgs <- m:
		case <-ectx.Done():
		}
	}
	start := func(sh *shard) {
		wg.Go(func() {
			err := w.follow(ectx, sh, -1, func(sh *shard) { tell(shardMsg{retired: sh}) })
			if err != nil {
				tell(shardMsg{err: err})
			}
		})
	}
	// current is read by the guard: each plan it holds is a slice of its
	// own, never written again (specs, the variable, is).
	var current atomic.Pointer[[]shardSpec]
	publish := func(plan []shardSpec) { current.Store(&plan) }
	publish(specs)
	for _, sh := range shards {
		start(sh)
	}
	wg.Go(func() {
		if err := w.guard(ectx, index, &current, tell); err != nil {
			tell(shardMsg{err: err})
		}
	})

	err := func() error {
		for {
			var m shardMsg
			select {
			case <-ctx.Done():
				return ctx.Err()
			case m = <-msgs:
			}
			switch {
			case m.err != nil:
				return m.err
			case m.retired != nil:
				delete(shards, m.retired.spec.prefix)
				specs = slices.DeleteFunc(slices.Clone(specs), func(s shardSpec) bool { return s.prefix == m.retired.spec.prefix })
				publish(specs)
			case len(m.found) > 0:
				added := false
				next := slices.Clone(specs)
				c := newCoverage(next)
				for _, key := range m.found {
					if c.covered([]byte(key)) {
						continue // found by an earlier key, or already a shard
					}
					sp, ok := region(next, w.prefix, key)
					if !ok || len(next) >= w.maxShards {
						return errReplan
					}
					i, _ := slices.BinarySearchFunc(next, sp.prefix, func(s shardSpec, p string) int { return strings.Compare(s.prefix, p) })
					next = slices.Insert(next, i, sp)
					c = newCoverage(next)
					// Its first query does not block: everything in it is new.
					sh := &shard{spec: sp, confirm: true}
					shards[sp.prefix] = sh
					start(sh)
					added = true
				}
				if added {
					specs = next
					publish(specs)
				}
			}
		}
	}()
	cancel()
	wg.Wait()
	if !errors.Is(err, errReplan) {
		return nil, err
	}
	// Gather what the shards hold and bring it up to date with one listing,
	// then plan again from there.
	var metas []keyMeta
	for _, sh := range shards {
		metas = append(metas, sh.metas...)
	}
	whole = newShard(shardSpec{prefix: w.prefix}, metas, index)
	whole.confirm = true
	qctx, qcancel := context.WithTimeout(ctx, w.s.wait+w.s.wait/16+blockingSlack)
	defer qcancel()
	sc := pooledScanner()
	defer scanners.Put(sc)
	changes, err := w.diff(qctx, whole, url.Values{"recurse": {""}}, sc, nil)
	if err != nil {
		return nil, err
	}
	for _, ev := range changes {
		if !w.send(ctx, ev) {
			return nil, ctx.Err()
		}
	}
	return whole, errReplan
}

// guard lists the key names under the prefix whenever they change, at most
// once per guardGap, and tells the epoch about keys that no shard of
// current covers. It returns the error that ends it.
func (w *watch) guard(ctx context.Context, index uint64, current *atomic.Pointer[[]shardSpec], tell func(shardMsg)) error {
	sc := pooledScanner()
	defer scanners.Put(sc)
	confirm := false
	var last time.Time
	for {
		if d := w.s.guardGap - time.Since(last); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		params := url.Values{"keys": {""}, "wait": {durToMsec(w.s.wait)}}
		if !confirm {
			params.Set("index", strconv.FormatUint(index, 10))
		}
		qctx, cancel := context.WithTimeout(ctx, w.s.wait+w.s.wait/16+blockingSlack)
		found, next, err := w.outside(qctx, params, sc, current)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		last = time.Now()
		if next < index {
			return errRestart
		}
		if len(found) > 0 {
			tell(shardMsg{found: found})
		}
		confirm = !confirm && next == index // see diff
		index = max(next, 1)
	}
}

// outside runs one keys listing of the prefix and returns the keys that no
// shard covers, in the agent's order, with the answer's index.
func (w *watch) outside(ctx context.Context, params url.Values, sc *pairScanner, current *atomic.Pointer[[]shardSpec]) ([]string, uint64, error) {
	a, err := w.s.kvGet(ctx, w.prefix, params)
	if err != nil {
		return nil, 0, classify(err)
	}
	if a.filtered {
		a.close(false)
		return nil, 0, fmt.Errorf("%w: the token cannot read every key under the prefix", ErrPermissionDenied)
	}
	if a.body == nil {
		return nil, a.index, nil
	}
	sc.reset(a.body)
	c := newCoverage(*current.Load())
	var found []string
	for {
		raw, escaped, more, err := sc.nextKey()
		if err != nil {
			a.close(false)
			return nil, 0, classify(err)
		}
		if !more {
			break
		}
		if !escaped && c.covered(raw) {
			continue
		}
		key, err := unquote(raw, escaped)
		if err != nil {
			a.close(false)
			return nil, 0, err
		}
		if !c.covered([]byte(key)) {
			found = append(found, key)
		}
	}
	a.close(true)
	return found, a.index, nil
}

// scanners keeps the decoding windows of finished queries for the next
// ones: a watch runs up to a hundred shards, few of them answering at once.
var scanners = sync.Pool{New: func() any { return newPairScanner(nil) }}

func pooledScanner() *pairScanner { return scanners.Get().(*pairScanner) }

// send delivers ev unless ctx ends first.
func (w *watch) send(ctx context.Context, ev stores.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
