package storetest

import (
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// deleter returns s's stores.Deleter, failing the test when the lookup does
// not find the capability the driver declared.
func deleter(t *testing.T, s stores.Store) stores.Deleter {
	t.Helper()
	d, ok := stores.AsDeleter(s)
	if !ok {
		t.Fatalf("stores.AsDeleter(%T) finds no stores.Deleter, but Capabilities.Delete is declared", s)
	}
	return d
}

func mustDelete(t *testing.T, d stores.Deleter, key string) {
	t.Helper()
	if err := d.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete(%q) = %v, want nil", key, err)
	}
}

func testDeleteRecreate(t *testing.T, s stores.Store) {
	d := deleter(t, s)
	const key = "st/a"
	rev1 := mustCreate(t, s, key, []byte("v1"))
	revB := mustCreate(t, s, "st/b", []byte("b"))
	mustDelete(t, d, key)
	wantAbsent(t, s, key)
	wantList(t, s, "st/", []stores.Entry{{Key: "st/b", Value: []byte("b"), Revision: revB}})
	wantConflict(t, s, key, []byte("v2"), rev1)
	wantConflict(t, s, key, []byte("v2"), 0)
	wantAbsent(t, s, key)

	rev2 := mustCreate(t, s, key, []byte("v2"))
	if rev2 <= rev1 {
		t.Errorf("Create(%q) after Delete = revision %d, want > %d", key, rev2, rev1)
	}
	wantGet(t, s, key, []byte("v2"), rev2)
	wantList(t, s, "st/", []stores.Entry{
		{Key: key, Value: []byte("v2"), Revision: rev2},
		{Key: "st/b", Value: []byte("b"), Revision: revB},
	})
}

// testDeleteMissing checks that deleting an absent key, never written or
// deleted already, is not an error and leaves the key creatable.
func testDeleteMissing(t *testing.T, s stores.Store) {
	d := deleter(t, s)
	revB := mustCreate(t, s, "st/b", []byte("b"))
	mustDelete(t, d, "st/never")
	wantAbsent(t, s, "st/never")

	rev := mustCreate(t, s, "st/a", []byte("v1"))
	mustDelete(t, d, "st/a")
	mustDelete(t, d, "st/a") // a second time
	wantAbsent(t, s, "st/a")
	wantList(t, s, "st/", []stores.Entry{{Key: "st/b", Value: []byte("b"), Revision: revB}})

	for _, key := range []string{"st/never", "st/a"} {
		next := mustCreate(t, s, key, []byte("again"))
		if next <= rev {
			t.Errorf("Create(%q) after Delete = revision %d, want > %d", key, next, rev)
		}
		wantGet(t, s, key, []byte("again"), next)
	}
}
