package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// keyChecked is a memory store that cannot hold a key with a space, as a
// driver with a stores.KeyChecker (NATS KV) cannot hold some keys.
type keyChecked struct{ *memory.Store }

func (keyChecked) CheckKey(key string) error {
	if strings.Contains(key, " ") {
		return fmt.Errorf("%w: %q holds a space", stores.ErrInvalidKey, key)
	}
	return nil
}

// TestLocalFindsCapabilitiesThroughWrappers builds the local backend on a
// store with and without the read-only wrapper: a wrapper must hide no
// capability, and a store without one says so with errors.ErrUnsupported.
func TestLocalFindsCapabilitiesThroughWrappers(t *testing.T) {
	hist := newHistoryStore(t) // a memory store: Watch, and History
	tests := []struct {
		name           string
		st             stores.Store
		watch, history bool
	}{
		{"plain", hist, true, true},
		{"read-only", stores.ReadOnly(hist), true, true},
		{"read-only twice", stores.ReadOnly(stores.ReadOnly(hist)), true, true},
		{"list only", listOnly{hist}, false, false},
		{"read-only, list only", stores.ReadOnly(listOnly{hist}), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRig(t, &auditLog{}).backend("prod", tt.st)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ch, err := b.Watch(ctx)
			switch {
			case !tt.watch && !errors.Is(err, errors.ErrUnsupported):
				t.Errorf("Watch() = %v, want errors.ErrUnsupported", err)
			case tt.watch && err != nil:
				t.Errorf("Watch() = %v, want a watch", err)
			case tt.watch:
				n := 0
				for ev := range ch {
					if ev.Kind == stores.EventSynced {
						break
					}
					n++
				}
				if n != len(fixture) {
					t.Errorf("Watch() snapshot of %d keys, want %d", n, len(fixture))
				}
			}
			h, err := b.History(t.Context(), "exports/checkpoint")
			switch {
			case !tt.history && !errors.Is(err, errors.ErrUnsupported):
				t.Errorf("History() = %v, %v; want errors.ErrUnsupported", h, err)
			case tt.history && (err != nil || len(h) != 2 || h[0].Revision >= h[1].Revision):
				t.Errorf("History() = %v, %v; want 2 values, oldest first", h, err)
			}
		})
	}
}

// TestLocalChecksKeysThroughWrappers runs an action on a key the store
// cannot hold, through the read-only wrapper too: the key check is found
// through it, and refuses before anything is audited.
func TestLocalChecksKeysThroughWrappers(t *testing.T) {
	st := keyChecked{memory.New()}
	t.Cleanup(func() { st.Close() })
	for _, s := range []stores.Store{st, stores.ReadOnly(st)} {
		audit := &auditLog{}
		b := newRig(t, audit).backend("prod", s)
		_, err := b.Do(t.Context(), lease.Request{Action: lease.ActionAcquire, Key: "exports/two words", TTL: time.Minute})
		if !errors.Is(err, stores.ErrInvalidKey) || !errors.Is(err, lease.ErrInvalidRequest) {
			t.Errorf("Do(%T, a key with a space) = %v, want a refusal matching stores.ErrInvalidKey", s, err)
		}
		if got := audit.outcomes(); len(got) != 0 {
			t.Errorf("Do(%T, a key with a space) audited %v", s, got)
		}
	}
}

// TestLocalScope makes a local backend scoped to a prefix: it lists and
// watches that prefix only, and its operator refuses writes outside it.
func TestLocalScope(t *testing.T) {
	st := newStore(t)
	if _, err := st.Create(t.Context(), "app/feature-flags", []byte(`{"dark_mode":true}`)); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, &auditLog{})
	op, err := lease.NewOperator(st, "prod", testOperator, lease.WithOperatorClock(r.clock.Now), lease.WithAuditor(r.audit), lease.WithScope("exports/"))
	if err != nil {
		t.Fatal(err)
	}
	b := NewLocal(st, "exports/", op)
	entries, err := b.List(t.Context())
	if err != nil || len(entries) != len(fixture) {
		t.Errorf("List() = %d entries, %v; want the %d under exports/", len(entries), err, len(fixture))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := b.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch() = %v", err)
	}
	for ev := range ch {
		if ev.Kind == stores.EventSynced {
			break
		}
		if !strings.HasPrefix(ev.Entry.Key, "exports/") {
			t.Errorf("Watch() sent %s, outside the prefix", ev.Entry.Key)
		}
	}
	_, err = b.Do(t.Context(), lease.Request{Action: lease.ActionAcquire, Key: "app/feature-flags", TTL: time.Minute, Seen: 10})
	if !errors.Is(err, lease.ErrOutsideScope) {
		t.Errorf("Do(acquire app/feature-flags) = %v, want lease.ErrOutsideScope", err)
	}
	if got := b.Holder(); got != lease.OperatorHolder(testOperator) {
		t.Errorf("Holder() = %q, want %q", got, lease.OperatorHolder(testOperator))
	}
}
