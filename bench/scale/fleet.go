//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
)

// The seeded fleet: lease i lives under key(i) and holds value(i, gen, now).
// The mix is the issue's: a tenth expired, a twentieth corrupt, a twentieth
// tombstones, the rest held; records are about recordSize bytes. Every
// class is spread evenly over the keys, so any prefix of the fleet (the
// smaller sizes of the series) has the same mix.

// recordSize is the length of a record: the issue's "values about 200
// bytes".
const recordSize = 200

// perFold is the number of leases in one fold-NNN directory: a hundred
// consecutive leases, so that every fold, and so the console's first
// screen sorted by key, holds the whole mix.
const perFold = 100

// keyPrefix is where every lease lives, in every store.
const keyPrefix = "exports/"

// class is what a seeded value is.
type class int

const (
	held class = iota
	expired
	corrupt
	tombstone
)

func (c class) String() string {
	return [...]string{"held", "expired", "corrupt", "tombstone"}[c]
}

// classOf returns the class of lease i.
func classOf(i int) class {
	switch {
	case i%20 == 0:
		return corrupt
	case i%20 == 1:
		return tombstone
	case i%10 == 2:
		return expired
	}
	return held
}

// key returns the key of lease i.
func key(i int) string {
	return fmt.Sprintf("%sbulk/fold-%03d/export-%06d", keyPrefix, i/perFold, i)
}

// value returns what lease i holds in generation gen (0 when seeded; the
// steady-state writes rewrite a lease with the next generation, keeping its
// class) at Unix time now.
//
// Held leases expire two to three hours from now, so that none changes state
// during a run; expired ones lapsed a minute to a day ago. Holders are padded
// so that every record is recordSize bytes.
func value(i, gen int, now int64) []byte {
	switch classOf(i) {
	case tombstone:
		return []byte{}
	case corrupt:
		return corruptValue(i, gen, now)
	case expired:
		exp := now - 60 - int64(i*7919%86_400)
		return record(holder(i, gen), exp-300, exp)
	}
	exp := now + 7200 + int64(i*7919%3600)
	return record(holder(i, gen), now-60-int64(i%300), exp)
}

// holder returns the holder id of lease i in generation gen, without the
// padding.
func holder(i, gen int) string {
	return fmt.Sprintf("export-worker-%02d.eu-west-1.prod.example.internal/g%d", i%97, gen)
}

// record returns a complete record (a round completed 30 s after it was
// acquired, with a cursor) of recordSize bytes, its holder padded with '-'.
func record(h string, acquired, expires int64) []byte {
	build := func(h string) []byte {
		return fmt.Appendf(nil, `{"holder_id":%q,"acquired_at_unix":%d,"expires_at_unix":%d,"completed_cursor_hex":"%016x","completed_at_unix":%d}`,
			h, acquired, expires, uint64(acquired)*7, acquired+30)
	}
	b := build(h)
	if pad := recordSize - len(b); pad > 0 {
		b = build(h + strings.Repeat("-", pad))
	}
	return b
}

// corruptValue returns one of the ways a value is corrupt, by i: the
// strict parser's refusals that fleets actually meet.
func corruptValue(i, gen int, now int64) []byte {
	r := record(holder(i, gen), now-60, now+300)
	switch (i / 20) % 5 {
	case 0: // a torn write
		return r[:len(r)/2]
	case 1: // the array form
		return fmt.Appendf(nil, `[%q,%d,%d]`, holder(i, gen), now, now+300)
	case 2: // a time as a string
		return fmt.Appendf(nil, `{"holder_id":%q,"acquired_at_unix":"%d","expires_at_unix":%d}`, holder(i, gen), now, now+300)
	case 3: // a duplicate field
		return fmt.Appendf(nil, `{"holder_id":%q,"holder_id":"x","acquired_at_unix":%d,"expires_at_unix":%d}`, holder(i, gen), now, now+300)
	}
	// invalid UTF-8 inside the holder
	b := slices.Clone(r)
	b[15] = 0xff
	return b
}

// firstKeys returns the indexes of the n leases whose keys sort first among
// the first size leases: the console's top rows, sorted by key.
func firstKeys(size, n int) []int {
	idx := make([]int, size)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	return idx[:min(n, size)]
}
