package storetest

import (
	"errors"
	"testing"

	"github.com/leasectl/leasectl/stores"
)

// readOnly wraps s with stores.ReadOnly, checking that the wrapper says so.
func readOnly(t *testing.T, s stores.Store) stores.Store {
	t.Helper()
	ro := stores.ReadOnly(s)
	if !stores.IsReadOnly(ro) {
		t.Fatalf("stores.IsReadOnly(stores.ReadOnly(%T)) = false, want true", s)
	}
	return ro
}

// testReadOnlyCapabilities checks that every declared capability is still
// found through stores.ReadOnly, and that the wrapper adds none but its
// refusing Delete.
func testReadOnlyCapabilities(t *testing.T, caps Capabilities, s stores.Store) {
	ro := readOnly(t, s)
	got := capabilitiesOf(ro)
	if got.Watch != caps.Watch {
		t.Errorf("stores.AsWatcher(stores.ReadOnly(%T)) found = %t, want %t as declared", s, got.Watch, caps.Watch)
	}
	if got.History != caps.History {
		t.Errorf("stores.AsHistorian(stores.ReadOnly(%T)) found = %t, want %t as declared", s, got.History, caps.History)
	}
	if got.Scan != caps.Scan {
		t.Errorf("stores.AsScanner(stores.ReadOnly(%T)) found = %t, want %t as declared", s, got.Scan, caps.Scan)
	}
	if !got.Delete {
		t.Errorf("stores.AsDeleter(stores.ReadOnly(%T)) found nothing, want the wrapper's refusing Delete", s)
	}
}

// testReadOnlyReads checks that reads through stores.ReadOnly give what the
// store itself gives: Get, List, History and Watch.
func testReadOnlyReads(t *testing.T, caps Capabilities, s stores.Store) {
	ro := readOnly(t, s)
	rev := mustCreate(t, s, "st/a", []byte("v1"))
	mustUpdate(t, s, "st/a", []byte("v2"), rev)
	mustCreate(t, s, "st/b", nil)
	mustCreate(t, s, "other/c", []byte("c"))
	keys := []string{"st/a", "st/b", "other/c", "st/missing"}

	for _, key := range keys {
		want, wantErr := s.Get(t.Context(), key)
		got, err := ro.Get(t.Context(), key)
		if !sameOutcome(err, wantErr) || !equalEntry(got, want) {
			t.Errorf("read-only Get(%q) = %s, %v, want %s, %v as unwrapped", key, fmtEntry(got), err, fmtEntry(want), wantErr)
		}
	}
	for _, prefix := range []string{"st/", "", "none/"} {
		want, wantErr := s.List(t.Context(), prefix)
		got, err := ro.List(t.Context(), prefix)
		if !sameOutcome(err, wantErr) || !equalEntries(got, want) {
			t.Errorf("read-only List(%q) = %s, %v, want %s, %v as unwrapped", prefix, fmtEntries(got), err, fmtEntries(want), wantErr)
		}
	}
	if caps.History {
		h, hro := historian(t, s), historian(t, ro)
		for _, key := range keys {
			want, wantErr := h.History(t.Context(), key)
			got, err := hro.History(t.Context(), key)
			if !sameOutcome(err, wantErr) || !equalEntries(got, want) {
				t.Errorf("read-only History(%q) = %s, %v, want %s, %v as unwrapped", key, fmtEntries(got), err, fmtEntries(want), wantErr)
			}
		}
	}
	if caps.Watch {
		w, wro := watch(t, s, "st/"), watch(t, ro, "st/")
		snapshot, err := s.List(t.Context(), "st/")
		if err != nil {
			t.Fatalf("List(%q) = %v, want nil", "st/", err)
		}
		w.wantSnapshot(snapshot)
		wro.wantSnapshot(snapshot)
		rev := mustCreate(t, s, "st/c", []byte("c"))
		w.wantPut("change", entry("st/c", "c", rev))
		wro.wantPut("change through the read-only wrapper", entry("st/c", "c", rev))
	}
}

// testReadOnlyKeyCheck checks that stores.CheckKey answers the same through
// stores.ReadOnly.
func testReadOnlyKeyCheck(t *testing.T, s stores.Store) {
	ro := readOnly(t, s)
	for _, key := range oddKeys {
		want, got := stores.CheckKey(s, key), stores.CheckKey(ro, key)
		if !sameOutcome(got, want) {
			t.Errorf("read-only stores.CheckKey(%q) = %v, want %v as unwrapped", key, got, want)
		}
	}
}

// testReadOnlyWrites checks that every write through stores.ReadOnly fails
// with stores.ErrReadOnly and changes nothing.
func testReadOnlyWrites(t *testing.T, caps Capabilities, s stores.Store) {
	ro := readOnly(t, s)
	rev := mustCreate(t, s, "st/a", []byte("v1"))
	before, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List(%q) = %v, want nil", "", err)
	}
	var history []stores.Entry
	if caps.History {
		history = mustHistory(t, historian(t, s), "st/a")
	}

	if got, err := ro.Create(t.Context(), "st/new", []byte("v")); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("read-only Create(%q) = %d, %v, want ErrReadOnly", "st/new", got, err)
	}
	if got, err := ro.Create(t.Context(), "st/a", []byte("v")); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("read-only Create(%q) of an existing key = %d, %v, want ErrReadOnly", "st/a", got, err)
	}
	if got, err := ro.Update(t.Context(), "st/a", []byte("v2"), rev); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("read-only Update(%q, rev %d) = %d, %v, want ErrReadOnly", "st/a", rev, got, err)
	}
	if d, ok := stores.AsDeleter(ro); !ok {
		t.Errorf("stores.AsDeleter(stores.ReadOnly(%T)) found nothing, want the wrapper's refusing Delete", s)
	} else if err := d.Delete(t.Context(), "st/a"); !errors.Is(err, stores.ErrReadOnly) {
		t.Errorf("read-only Delete(%q) = %v, want ErrReadOnly", "st/a", err)
	}

	wantAbsent(t, s, "st/new")
	wantList(t, s, "", before)
	if caps.History {
		wantHistory(t, historian(t, s), "st/a", history)
	}
}

// sameOutcome reports whether two results of the same call agree: both
// succeed, or both fail with the same sentinel of package stores.
func sameOutcome(got, want error) bool {
	if (got == nil) != (want == nil) {
		return false
	}
	for _, sentinel := range []error{stores.ErrNotFound, stores.ErrExists, stores.ErrConflict, stores.ErrInvalidKey, stores.ErrReadOnly} {
		if errors.Is(got, sentinel) != errors.Is(want, sentinel) {
			return false
		}
	}
	return true
}
