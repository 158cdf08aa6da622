package tui

import (
	"context"
	"errors"
	"fmt"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// Local is the Backend of a store opened in this process: it lists, watches
// and reads history on the store itself, and runs operator actions through a
// lease.Operator on it.
//
// The optional capabilities are looked up with stores.AsWatcher and
// stores.AsHistorian, which see through wrappers: a store opened read-only
// (stores.ReadOnly) is still watched and still shows history.
type Local struct {
	store  stores.Store
	prefix string
	op     *lease.Operator
}

var _ Backend = (*Local)(nil)

// NewLocal returns the Backend of st, scoped to the keys under prefix (""
// for every key), whose actions op runs. op must be an Operator on st —
// wrapped read-only when the store is — built with lease.WithScope(prefix)
// so that no write leaves the scope, an auditor (without one every write is
// refused) and lease.WithCallTimeout so that a hung store fails an action.
func NewLocal(st stores.Store, prefix string, op *lease.Operator) *Local {
	return &Local{store: st, prefix: prefix, op: op}
}

// List implements Backend.
func (l *Local) List(ctx context.Context) ([]stores.Entry, error) {
	return l.store.List(ctx, l.prefix)
}

// Watch implements Backend.
func (l *Local) Watch(ctx context.Context) (<-chan stores.Event, error) {
	w, ok := stores.AsWatcher(l.store)
	if !ok {
		return nil, fmt.Errorf("tui: watch: %w", errors.ErrUnsupported)
	}
	return w.Watch(ctx, l.prefix)
}

// History implements Backend.
func (l *Local) History(ctx context.Context, key string) ([]stores.Entry, error) {
	h, ok := stores.AsHistorian(l.store)
	if !ok {
		return nil, fmt.Errorf("tui: history: %w", errors.ErrUnsupported)
	}
	return h.History(ctx, key)
}

// Do implements Backend.
func (l *Local) Do(ctx context.Context, req lease.Request) (lease.Result, error) {
	return l.op.Do(ctx, req)
}

// Holder implements Backend.
func (l *Local) Holder() string { return l.op.HolderID() }
