package timeline

import (
	"container/list"
	"sync"
	"time"

	"github.com/leasectl/leasectl/stores"
)

const (
	// DefaultPerKey is how many changes a Recorder keeps per key: enough
	// for a dozen rounds (an acquire and a completion each) and what ended
	// them.
	DefaultPerKey = 32
	// DefaultMaxKeys is how many keys a Recorder keeps changes of: only
	// keys that changed are kept, and the least recently changed go first,
	// so a console over 100,000 leases holds at most a few megabytes.
	DefaultMaxKeys = 4096
)

// Recorder keeps the changes a watch delivered, per key, for stores that
// keep no history of their own (Consul, memory): the last few changes of
// each key that changed, with the time each was seen. It keeps nothing of a
// key that never changed while it watched. It is safe for concurrent use.
type Recorder struct {
	perKey, maxKeys int

	mu   sync.Mutex
	keys map[string]*list.Element // of *ring
	lru  list.List                // most recently changed first
}

// ring is the last changes of one key, oldest first once unrolled.
type ring struct {
	key     string
	changes []Change
	next    int // where the next change goes once the ring is full
}

// NewRecorder returns a Recorder that keeps perKey changes of at most
// maxKeys keys; zero or less means DefaultPerKey, DefaultMaxKeys.
func NewRecorder(perKey, maxKeys int) *Recorder {
	if perKey <= 0 {
		perKey = DefaultPerKey
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Recorder{perKey: perKey, maxKeys: maxKeys, keys: map[string]*list.Element{}}
}

// Observe records that a watch delivered e, a change of e.Key, at the time
// at. before is the value the watcher held for the key until then (found
// false: none): the first change of a key keeps it too, with an unknown
// time, so that the round that was running when the watch started is part
// of the key's timeline. A change whose revision is not newer than the last
// one kept (a snapshot after a reset repeating it) is ignored.
func (r *Recorder) Observe(e stores.Entry, at time.Time, before stores.Entry, found bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.keys[e.Key]
	if !ok {
		rg := &ring{key: e.Key, changes: make([]Change, 0, min(4, r.perKey))}
		el = r.lru.PushFront(rg)
		r.keys[e.Key] = el
		if found && before.Revision != 0 && before.Revision < e.Revision {
			rg.add(Change{Entry: before, Source: FromObserved}, r.perKey)
		}
		for r.lru.Len() > r.maxKeys {
			old := r.lru.Back()
			r.lru.Remove(old)
			delete(r.keys, old.Value.(*ring).key)
		}
	} else {
		r.lru.MoveToFront(el)
	}
	rg := el.Value.(*ring)
	if last, ok := rg.last(); ok && last.Entry.Revision >= e.Revision {
		return
	}
	rg.add(Change{Entry: e, At: at, Source: FromObserved}, r.perKey)
}

// Changes returns the changes kept of key, oldest first: a copy the caller
// may keep.
func (r *Recorder) Changes(key string) []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	el, ok := r.keys[key]
	if !ok {
		return nil
	}
	rg := el.Value.(*ring)
	out := make([]Change, 0, len(rg.changes))
	out = append(out, rg.changes[rg.next:]...)
	return append(out, rg.changes[:rg.next]...)
}

// Keys returns how many keys the Recorder keeps changes of.
func (r *Recorder) Keys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func (rg *ring) add(c Change, perKey int) {
	if len(rg.changes) < perKey {
		rg.changes = append(rg.changes, c)
		return
	}
	rg.changes[rg.next] = c
	rg.next = (rg.next + 1) % perKey
}

// last returns the newest change kept.
func (rg *ring) last() (Change, bool) {
	n := len(rg.changes)
	if n == 0 {
		return Change{}, false
	}
	return rg.changes[(rg.next+n-1)%n], true
}
