package gateway

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/leasectl/leasectl/stores"
)

// hub shares one watch of a store among every page that follows it, so
// that however many tabs are open the store serves one watch — which
// matters most for Consul, whose watch of a large prefix holds dozens of
// the agent's connections. The hub keeps the latest entry of every key.
//
// A page is not sent a queue of the store's events but the keys that
// changed since it was last written to, each with its entry as it is now:
// a page that reads slowly (a browser decoding a snapshot of 100,000 keys)
// gets fewer, fresher events instead of falling behind, nothing is ever
// dropped, and what the gateway holds for a page is bounded by the number
// of keys. A page starts with every key the hub knows as changed, then
// synced once the store's snapshot is complete; a reset of the store's
// watch resets every page. The final state of every key always reaches
// every page; the order of changes across keys is not kept (the console
// orders each key's changes by revision).
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

// subscriber is one page's stream. Wake has a value whenever something is
// pending for it; next takes what is pending.
type subscriber struct {
	Wake chan struct{}

	// Guarded by hub.mu.
	dirty   map[string]uint64 // keys changed; for a deleted key, its deleting revision
	reset   bool              // an EventReset goes first
	synced  bool              // an EventSynced goes after the keys
	failing *stores.Event     // an EventError goes last
	ended   bool              // the watch ended: the stream must end
}

func newHub(w stores.Watcher, prefix string) *hub {
	return &hub{watcher: w, prefix: prefix, subs: map[*subscriber]struct{}{}, keys: map[string]stores.Entry{}}
}

// subscribe adds a page, with every key the hub knows pending for it
// (then synced, if the store's snapshot is complete, and the store's last
// error while it is failing). It starts the store's watch when none runs.
func (h *hub) subscribe() (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := h.watcher.Watch(ctx, h.prefix)
		if err != nil {
			cancel()
			return nil, err
		}
		h.stop = cancel
		h.gen++
		go h.follow(ch, h.gen)
	}
	s := &subscriber{Wake: make(chan struct{}, 1), dirty: make(map[string]uint64, len(h.keys)),
		synced: h.synced, failing: h.failing}
	for k := range h.keys {
		s.dirty[k] = 0
	}
	h.subs[s] = struct{}{}
	s.wake()
	return s, nil
}

func (s *subscriber) wake() {
	select {
	case s.Wake <- struct{}{}:
	default:
	}
}

// next takes what is pending for s, in the order the page must see it:
// a reset, the changed keys in key order (each a put of its entry now, or
// a delete), synced, the error. ended reports that the watch has ended
// and the stream must too.
func (h *hub) next(s *subscriber) (evs []stores.Event, ended bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.reset {
		evs = append(evs, stores.Event{Kind: stores.EventReset})
		s.reset = false
	}
	if len(s.dirty) > 0 {
		keys := make([]string, 0, len(s.dirty))
		for k := range s.dirty {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, strings.Compare)
		evs = slices.Grow(evs, len(keys)+2)
		for _, k := range keys {
			if e, ok := h.keys[k]; ok {
				evs = append(evs, stores.Event{Kind: stores.EventPut, Entry: e})
			} else {
				evs = append(evs, stores.Event{Kind: stores.EventDelete, Entry: stores.Entry{Key: k, Revision: s.dirty[k]}})
			}
		}
		clear(s.dirty)
	}
	if s.synced {
		evs = append(evs, stores.Event{Kind: stores.EventSynced})
		s.synced = false
	}
	if s.failing != nil {
		evs = append(evs, *s.failing)
		s.failing = nil
	}
	return evs, s.ended
}

// unsubscribe removes a page; the last one stops the store's watch and
// forgets its state.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	if len(h.subs) == 0 {
		h.stopLocked()
	}
}

// close stops the watch and ends every page's stream.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked()
}

// endLocked ends every page's stream and stops the watch.
func (h *hub) endLocked() {
	for s := range h.subs {
		s.ended = true
		s.wake()
		delete(h.subs, s)
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
// marks them pending for every page, until the watch ends. Once a newer
// watch runs (this one was stopped), what is left of this one is drained
// unseen.
func (h *hub) follow(ch <-chan stores.Event, gen int) {
	for ev := range ch {
		h.mu.Lock()
		if gen != h.gen || h.stop == nil {
			h.mu.Unlock()
			continue
		}
		h.failing = nil
		switch ev.Kind {
		case stores.EventPut:
			h.keys[ev.Entry.Key] = ev.Entry
		case stores.EventDelete:
			delete(h.keys, ev.Entry.Key)
		case stores.EventSynced:
			h.synced = true
		case stores.EventReset:
			clear(h.keys)
			h.synced = false
		case stores.EventError:
			h.failing = &ev
		}
		for s := range h.subs {
			if ev.Kind != stores.EventError {
				s.failing = nil // superseded: the store answers again
			}
			switch ev.Kind {
			case stores.EventPut:
				s.dirty[ev.Entry.Key] = 0
			case stores.EventDelete:
				s.dirty[ev.Entry.Key] = ev.Entry.Revision
			case stores.EventSynced:
				s.synced = true
			case stores.EventReset:
				clear(s.dirty)
				s.reset, s.synced, s.failing = true, false, nil
			case stores.EventError:
				s.failing = &ev
			}
			s.wake()
		}
		h.mu.Unlock()
	}
	// The watch ended: stopped by the hub, or by the store (closed). Pages
	// still following end their streams, reconnect, and start a new watch.
	h.mu.Lock()
	if gen == h.gen && h.stop != nil {
		h.endLocked()
	}
	h.mu.Unlock()
}
