package gateway

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/leasectl/leasectl/stores"
)

// subscriberBuffer is how many events a page may be behind the store
// before it is dropped: a page that cannot keep up reconnects and starts
// again from a fresh snapshot, so that a slow tab never holds the store's
// watch back, nor makes the gateway hold an unbounded queue for it.
const subscriberBuffer = 16 << 10

// hub shares one watch of a store among every page that follows it. A
// page's stream starts with what the hub knows (every key's latest entry,
// then EventSynced once the store's own snapshot is complete) and goes on
// with the store's events as they come; a dropped page reconnects and gets
// the same. So however many tabs are open, the store serves one watch —
// which matters most for Consul, whose watch of a large prefix holds dozens
// of the agent's connections — and the state the pages see is the store's.
//
// The watch starts with the first page and stops with the last.
type hub struct {
	watcher stores.Watcher
	prefix  string

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	keys   map[string]stores.Entry // the latest entry of every key
	synced bool                    // the store's snapshot is complete
	stop   context.CancelFunc      // of the running watch; nil when none runs
	gen    int                     // counts the watches started
	// failing is the store's last EventError while nothing has arrived
	// since: a page that joins then is told the store is failing.
	failing *stores.Event
}

// subscriber is one page's stream: the hub's events after its snapshot. C
// is closed when the page fell too far behind or the watch ended.
type subscriber struct {
	C chan stores.Event
}

func newHub(w stores.Watcher, prefix string) *hub {
	return &hub{watcher: w, prefix: prefix, subs: map[*subscriber]struct{}{}, keys: map[string]stores.Entry{}}
}

// subscribe adds a page: it returns the events that bring the page to the
// hub's state (puts in key order, synced once the store's snapshot is
// complete, and the store's last error while it is failing) and the subscriber whose channel carries
// everything after them. It starts the store's watch when none runs.
func (h *hub) subscribe() ([]stores.Event, *subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := h.watcher.Watch(ctx, h.prefix)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		h.stop = cancel
		h.gen++
		go h.follow(ch, h.gen)
	}
	snap := make([]stores.Event, 0, len(h.keys)+1)
	for _, e := range h.keys {
		snap = append(snap, stores.Event{Kind: stores.EventPut, Entry: e})
	}
	slices.SortFunc(snap, func(a, b stores.Event) int { return strings.Compare(a.Entry.Key, b.Entry.Key) })
	if h.synced {
		snap = append(snap, stores.Event{Kind: stores.EventSynced})
	}
	if h.failing != nil {
		snap = append(snap, *h.failing)
	}
	s := &subscriber{C: make(chan stores.Event, subscriberBuffer)}
	h.subs[s] = struct{}{}
	return snap, s, nil
}

// unsubscribe removes a page; the last one stops the store's watch and
// forgets its state.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return // dropped already
	}
	delete(h.subs, s)
	close(s.C)
	if len(h.subs) == 0 {
		h.stopLocked()
	}
}

// close stops the watch and ends every page's stream.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		delete(h.subs, s)
		close(s.C)
	}
	h.stopLocked()
}

func (h *hub) stopLocked() {
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
	clear(h.keys)
	h.synced = false
	h.failing = nil
}

// follow applies the events of the gen-th watch to the hub's state and
// passes them to every page, until the watch ends. Once a newer watch runs
// (this one was stopped), what is left of this one is drained unseen.
func (h *hub) follow(ch <-chan stores.Event, gen int) {
	for ev := range ch {
		h.mu.Lock()
		if gen != h.gen || h.stop == nil {
			h.mu.Unlock()
			continue
		}
		h.failing = nil
		switch ev.Kind {
		case stores.EventError:
			h.failing = &ev
		case stores.EventPut:
			h.keys[ev.Entry.Key] = ev.Entry
		case stores.EventDelete:
			delete(h.keys, ev.Entry.Key)
		case stores.EventSynced:
			h.synced = true
		case stores.EventReset:
			clear(h.keys)
			h.synced = false
		}
		for s := range h.subs {
			select {
			case s.C <- ev:
			default: // too far behind: the page starts again
				delete(h.subs, s)
				close(s.C)
			}
		}
		if len(h.subs) == 0 {
			h.stopLocked()
		}
		h.mu.Unlock()
	}
	// The watch ended: stopped by the hub, or by the store (closed). Pages
	// still following reconnect and start a watch of their own.
	h.mu.Lock()
	if gen == h.gen && h.stop != nil {
		for s := range h.subs {
			delete(h.subs, s)
			close(s.C)
		}
		h.stopLocked()
	}
	h.mu.Unlock()
}
