package consul

import (
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// A watch of a large prefix is split into shards: regions of the key space
// under the prefix, each followed by a blocking query of its own, so that a
// change costs the agent (and the driver) an answer the size of its shard
// rather than of the whole prefix. A shard is a plain prefix, listed with
// ?recurse, or a single key (exact), read without it: a key that is itself
// a prefix of keys that the other shards share out.

// shardSpec is the region of one shard.
type shardSpec struct {
	prefix string
	exact  bool // only the key prefix itself
}

// covers reports whether key lies in the region.
func (s shardSpec) covers(key string) bool {
	if s.exact {
		return key == s.prefix
	}
	return strings.HasPrefix(key, s.prefix)
}

// plan splits the keys under prefix (sorted, as the agent lists them) into
// at most maxShards regions of about target keys or fewer, and returns them
// sorted by prefix. Every key lies in exactly one region; parts of the key
// space where no key lies now are left out (a guard query finds keys that
// appear there). A prefix with at most target keys, or maxShards below 2,
// gives the prefix itself: one query for everything, no guard.
//
// The regions come from the trie of the keys: the largest region is
// replaced by its children (the longest prefix common to its keys, extended
// by each rune that follows it, plus that prefix itself as an exact key when
// it is one) as long as that keeps within maxShards. A region whose
// children the agent could not be asked for as they are (a "//" or a "."
// segment, which its HTTP router rewrites into another path; an unprintable
// character; broken UTF-8) is kept whole.
func plan(prefix string, keys []string, maxShards, target int) []shardSpec {
	whole := []shardSpec{{prefix: prefix}}
	if len(keys) <= max(target, 1) || maxShards < 2 {
		return whole
	}
	type node struct {
		spec   shardSpec
		lo, hi int // keys[lo:hi] lie in it
		leaf   bool
	}
	nodes := []node{{spec: whole[0], lo: 0, hi: len(keys)}}
	for {
		big := -1
		for i, n := range nodes {
			if !n.leaf && n.hi-n.lo > target && (big < 0 || n.hi-n.lo > nodes[big].hi-nodes[big].lo) {
				big = i
			}
		}
		if big < 0 {
			break
		}
		n := nodes[big]
		children, ok := children(keys, n.lo, n.hi, len(n.spec.prefix))
		if !ok {
			nodes[big].leaf = true
			continue
		}
		if len(nodes)-1+len(children) > maxShards {
			break
		}
		nodes = slices.Delete(nodes, big, big+1)
		for _, c := range children {
			nodes = append(nodes, node{spec: c.spec, lo: c.lo, hi: c.hi, leaf: c.spec.exact})
		}
	}
	specs := make([]shardSpec, len(nodes))
	for i, n := range nodes {
		specs[i] = n.spec
	}
	slices.SortFunc(specs, func(a, b shardSpec) int { return strings.Compare(a.prefix, b.prefix) })
	return specs
}

// child is a region of the trie with its keys keys[lo:hi].
type child struct {
	spec   shardSpec
	lo, hi int
}

// children splits keys[lo:hi] (sorted, sharing a prefix of length at least
// from, more than one key) into the regions below their longest common
// prefix. ok is false when one of them could not be queried as it is.
func children(keys []string, lo, hi, from int) ([]child, bool) {
	q := keys[lo][:commonPrefix(keys[lo], keys[hi-1])]
	if len(q) < from {
		return nil, false // not sorted: keep the region whole
	}
	var out []child
	if keys[lo] == q {
		if !queryable(q, true) {
			return nil, false
		}
		out = append(out, child{spec: shardSpec{prefix: q, exact: true}, lo: lo, hi: lo + 1})
		lo++
	}
	for lo < hi {
		_, size := utf8.DecodeRuneInString(keys[lo][len(q):])
		p := keys[lo][:len(q)+size]
		if !queryable(p, false) {
			return nil, false
		}
		end := lo + sort.Search(hi-lo, func(i int) bool { return !strings.HasPrefix(keys[lo+i], p) })
		if end == lo {
			return nil, false // not sorted
		}
		out = append(out, child{spec: shardSpec{prefix: p}, lo: lo, hi: end})
		lo = end
	}
	return out, true
}

// commonPrefix returns the length of the longest common prefix of a and b,
// cut back to a rune boundary.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && n < len(a) && !utf8.RuneStart(a[n]) {
		n--
	}
	return n
}

// queryable reports whether the agent can be asked for the prefix (or, for
// an exact region, the key) as it is: the driver's own rules for keys.
func queryable(prefix string, exact bool) bool {
	if exact {
		return checkKey("watch", prefix) == nil
	}
	return checkPrefix("watch", prefix) == nil
}

// region returns a region for key, which no region of specs (sorted by
// prefix) covers: the shortest prefix of key, longer than the watched
// prefix, that overlaps none of them, or key itself as an exact region. ok
// is false when no such region can be queried.
func region(specs []shardSpec, prefix, key string) (shardSpec, bool) {
	for i := len(prefix); i < len(key); {
		_, size := utf8.DecodeRuneInString(key[i:])
		i += size
		p := key[:i]
		j, _ := slices.BinarySearchFunc(specs, p, func(s shardSpec, p string) int { return strings.Compare(s.prefix, p) })
		if j < len(specs) && strings.HasPrefix(specs[j].prefix, p) {
			continue // a region lies inside p
		}
		if queryable(p, false) {
			return shardSpec{prefix: p}, true
		}
	}
	if queryable(key, true) {
		return shardSpec{prefix: key, exact: true}, true
	}
	return shardSpec{}, false
}

// coverage finds, for keys in increasing order, the region of specs (sorted
// by prefix, non-overlapping) that holds each, walking specs along with the
// keys; a key that comes out of order is looked up from scratch. It works
// on the bytes of the agent's answer, without copying them into strings.
type coverage struct {
	specs []shardSpec
	at    int    // the last region whose prefix is at most last
	last  []byte // the last key looked up
}

// newCoverage starts a walk over specs.
func newCoverage(specs []shardSpec) *coverage { return &coverage{specs: specs, at: -1} }

// covered reports whether a region holds key.
func (c *coverage) covered(key []byte) bool {
	if c.at < 0 || string(key) < string(c.last) {
		c.at = sort.Search(len(c.specs), func(i int) bool { return c.specs[i].prefix > string(key) }) - 1
	}
	for c.at+1 < len(c.specs) && c.specs[c.at+1].prefix <= string(key) {
		c.at++
	}
	c.last = append(c.last[:0], key...)
	if c.at < 0 {
		return false
	}
	// Regions do not overlap, so only the last one whose prefix is at most
	// key can hold it: a later prefix at most key would lie inside it.
	sp := c.specs[c.at]
	if sp.exact {
		return string(key) == sp.prefix
	}
	return len(key) >= len(sp.prefix) && string(key[:len(sp.prefix)]) == sp.prefix
}
