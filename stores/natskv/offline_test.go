package natskv_test

import (
	"errors"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// TestOfflineWritesAreNotSent checks that a write made while Dial's
// connection is reconnecting fails at once as stores.ErrNotSent — the
// connection keeps no reconnect buffer — and that it never lands once the
// server is back: an operator who gave up on it must not see it applied
// later.
func TestOfflineWritesAreNotSent(t *testing.T) {
	srv := natstest.Start(t, serverOptions()...)
	s, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.URL(), Bucket: "offline", Create: true})
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	rev := mustCreate(t, s, "k", []byte("before"))

	srv.Stop()
	var werr error
	deadline := time.Now().Add(10 * time.Second) // a hang guard
	for {
		_, werr = s.Update(t.Context(), "k", []byte("after"), rev)
		if errors.Is(werr, stores.ErrNotSent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // until the client notices the server is gone
	}
	if !errors.Is(werr, stores.ErrNotSent) || errors.Is(werr, stores.ErrConflict) {
		t.Fatalf("Update with the server down = %v, want stores.ErrNotSent", werr)
	}
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, stores.ErrNotSent) {
		t.Errorf("Get with the server down = %v, want stores.ErrNotSent", err)
	}

	srv.Restart(t)
	var e stores.Entry
	deadline = time.Now().Add(10 * time.Second)
	for {
		if e, err = s.Get(t.Context(), "k"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // until the client is back
	}
	if err != nil {
		t.Fatalf("Get after the restart = %v", err)
	}
	time.Sleep(500 * time.Millisecond) // room for a buffered write to land, were there one
	if e, err = s.Get(t.Context(), "k"); err != nil || string(e.Value) != "before" || e.Revision != rev {
		t.Errorf("after the restart the key is %q at %d (%v), want %q at %d: the refused write landed", e.Value, e.Revision, err, "before", rev)
	}
}
