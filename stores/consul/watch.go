package consul

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
)

// Watch streams the entries under prefix: a snapshot of every live key as
// stores.EventPut sorted by key, then stores.EventSynced, then changes.
//
// It follows Consul's blocking-query pattern: each query lists the whole
// prefix (GET ?recurse&index=<last index>&wait=<wait>) and returns when
// something under it changes or the wait ends; the driver diffs the answer
// against the previous one and sends EventPut for new or rewritten keys, in
// revision order, then EventDelete for vanished keys, in key order (with
// Revision 0: Consul does not say which index deleted a key). Changes
// between two answers are coalesced: a slow consumer sees the latest state
// of every key, not every intermediate value. A prefix whose keys change
// constantly costs one full listing per change.
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
	out := make(chan stores.Event)
	w := &watch{s: s, prefix: prefix, out: out}
	go func() {
		defer close(out)
		w.run(ctx)
	}()
	return out, nil
}

// watch is the state of one Watch call, owned by its goroutine.
type watch struct {
	s      *Store
	prefix string
	out    chan<- stores.Event

	known   map[string]stores.Entry // what the consumer holds
	index   uint64                  // X-Consul-Index of the last answer
	fresh   bool                    // the next answer starts a new history
	confirm bool                    // the next query must not block
	sent    bool                    // the consumer has received a snapshot
}

func (w *watch) run(ctx context.Context) {
	w.fresh = true
	delay := time.Duration(0)
	for {
		q := &api.QueryOptions{WaitTime: w.s.wait}
		if !w.fresh && !w.confirm {
			q.WaitIndex = w.index
		}
		// Bound the request: the agent answers within wait plus up to
		// wait/16 of jitter; past that the connection is dead.
		qctx, cancel := context.WithTimeout(ctx, w.s.wait+w.s.wait/16+blockingSlack)
		list, index, err := w.s.list(qctx, w.prefix, q)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.fresh = true
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
			continue
		}
		delay = 0
		if index < w.index {
			w.fresh = true // the agent's history restarted
		}
		var ok bool
		if w.fresh {
			ok = w.snapshot(ctx, list)
		} else {
			ok = w.diff(ctx, list)
		}
		if !ok {
			return
		}
		// A blocking query that answers without a new index ended its wait,
		// or the agent abandoned its state (a snapshot restore): Consul then
		// answers with the old state, and the next blocking query would wait
		// for the new state to pass the old index, possibly for the whole
		// wait. A non-blocking query sees the new state and its index, which
		// may have gone backwards. Cost: one extra listing per idle wait.
		w.confirm = q.WaitIndex != 0 && index == w.index
		// An index of 0 would make the next query return at once; Consul's
		// guidance is to wait on 1 instead.
		w.index = max(index, 1)
	}
}

// snapshot sends list as a new history.
func (w *watch) snapshot(ctx context.Context, list []stores.Entry) bool {
	if w.sent && !w.send(ctx, stores.Event{Kind: stores.EventReset}) {
		return false
	}
	w.known = make(map[string]stores.Entry, len(list))
	for _, e := range list {
		w.known[e.Key] = e
		if !w.send(ctx, stores.Event{Kind: stores.EventPut, Entry: e}) {
			return false
		}
	}
	w.fresh, w.sent = false, true
	return w.send(ctx, stores.Event{Kind: stores.EventSynced})
}

// diff sends what changed between the previous answer and list.
func (w *watch) diff(ctx context.Context, list []stores.Entry) bool {
	next := make(map[string]stores.Entry, len(list))
	for _, e := range list {
		next[e.Key] = e
	}
	var events []stores.Event
	for _, e := range list {
		old, ok := w.known[e.Key]
		if !ok || old.Revision != e.Revision || !bytes.Equal(old.Value, e.Value) {
			events = append(events, stores.Event{Kind: stores.EventPut, Entry: e})
		}
	}
	for key := range w.known {
		if _, ok := next[key]; !ok {
			events = append(events, stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: key}})
		}
	}
	// Puts in revision order, as they happened; then deletes (whose index
	// Consul does not report) in key order.
	slices.SortFunc(events, func(a, b stores.Event) int {
		if a.Kind != b.Kind {
			return cmp.Compare(a.Kind, b.Kind) // EventPut < EventDelete
		}
		return cmp.Or(cmp.Compare(a.Entry.Revision, b.Entry.Revision), strings.Compare(a.Entry.Key, b.Entry.Key))
	})
	w.known = next
	for _, ev := range events {
		if !w.send(ctx, ev) {
			return false
		}
	}
	return true
}

// send delivers ev unless ctx ends first.
func (w *watch) send(ctx context.Context, ev stores.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
