package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// oddKeys are keys that some backend cannot hold, or that a careless driver
// would send to another key: empty, path tricks a router cleans up, NATS
// subject wildcards and separators, URL delimiters, control and bidi
// characters, invalid UTF-8. Each starts with "st/" or "/st", or is empty.
var oddKeys = []string{
	"", "st/k", "st/k/", "st/k-_=.0", "/st/k", "st//k", "st/./k", "st/../k", "st/k/.",
	"st/.k", "st/k.", "st/k..x", "st/k x", "st/k\tx", "st/k\x00x", "st/k\x7f",
	"st/\xff", "st/ü", "st/k*", "st/k>", "st/k?x", "st/k#x", "st/k%2Fx", "st/k\u202e",
}

// testKeyCheckAgrees checks that stores.CheckKey, which operators ask before
// they audit a write, agrees with the store: a key it refuses is refused by
// every operation with stores.ErrInvalidKey, and a key it accepts can be
// written, read back, listed, updated (and deleted) as itself.
func testKeyCheckAgrees(t *testing.T, caps Capabilities, s stores.Store) {
	ctx := t.Context()
	var accepted []stores.Entry
	for _, key := range oddKeys {
		err := stores.CheckKey(s, key)
		if err != nil {
			if !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("stores.CheckKey(%q) = %v, want nil or ErrInvalidKey", key, err)
			}
			wantInvalidKey(t, caps, s, key)
			continue
		}
		rev, err := s.Create(ctx, key, []byte(key))
		if err != nil || rev == 0 {
			t.Errorf("Create(%q) = %d, %v, want a revision: stores.CheckKey accepted the key", key, rev, err)
			continue
		}
		accepted = append(accepted, entry(key, key, rev))
	}
	slices.SortFunc(accepted, func(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) })
	wantList(t, s, "", accepted)
	for _, e := range accepted {
		wantGet(t, s, e.Key, e.Value, e.Revision)
		rev := mustUpdate(t, s, e.Key, []byte("updated"), e.Revision)
		wantGet(t, s, e.Key, []byte("updated"), rev)
		if caps.History {
			if got := mustHistory(t, historian(t, s), e.Key); len(got) == 0 || !equalEntry(got[len(got)-1], entry(e.Key, "updated", rev)) {
				t.Errorf("History(%q) = %s, want it to end with revision %d", e.Key, fmtEntries(got), rev)
			}
		}
		if caps.Delete {
			mustDelete(t, deleter(t, s), e.Key)
			wantAbsent(t, s, e.Key)
		}
	}
}

// wantInvalidKey checks that every operation refuses key with
// stores.ErrInvalidKey.
func wantInvalidKey(t *testing.T, caps Capabilities, s stores.Store, key string) {
	t.Helper()
	ctx := t.Context()
	if e, err := s.Get(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
		t.Errorf("Get(%q) = %s, %v, want ErrInvalidKey as stores.CheckKey says", key, fmtEntry(e), err)
	}
	if rev, err := s.Create(ctx, key, []byte("v")); !errors.Is(err, stores.ErrInvalidKey) {
		t.Errorf("Create(%q) = %d, %v, want ErrInvalidKey as stores.CheckKey says", key, rev, err)
	}
	if rev, err := s.Update(ctx, key, []byte("v"), 1); !errors.Is(err, stores.ErrInvalidKey) {
		t.Errorf("Update(%q, rev 1) = %d, %v, want ErrInvalidKey as stores.CheckKey says", key, rev, err)
	}
	if caps.History {
		if got, err := historian(t, s).History(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
			t.Errorf("History(%q) = %s, %v, want ErrInvalidKey as stores.CheckKey says", key, fmtEntries(got), err)
		}
	}
	if caps.Delete {
		if err := deleter(t, s).Delete(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey as stores.CheckKey says", key, err)
		}
	}
}
