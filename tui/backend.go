package tui

import (
	"context"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// Backend is everything the console asks of one store: list, watch and read
// the history of the keys it shows, and run the operator actions on them.
// It is the seam between the console and wherever the store lives. Local
// implements it on a store opened in this process; a client of a remote
// gateway implements it over the network, and the console cannot tell the
// two apart.
//
// A Backend covers one store, scoped to the key prefix it was made with;
// the keys it returns are full keys. It is called from tea.Cmds, so it must
// be safe for concurrent use. Every call ends when ctx does. The console
// bounds List and History with a time-out of its own; Do must bound each of
// its store calls itself (an action makes several, and one whose answer was
// lost is read back), so that a store that hangs fails the action instead
// of hanging it.
type Backend interface {
	// List returns every key in scope with its value and revision, sorted
	// by key, as stores.Store.List does.
	List(ctx context.Context) ([]stores.Entry, error)

	// Watch follows the keys in scope with stores.Watcher's contract: a
	// snapshot of EventPut, EventSynced, then the changes (EventReset and
	// EventError included); the channel is closed once ctx ends. It
	// returns an error matching errors.ErrUnsupported when the store
	// cannot be watched: the console then lists it, and lists it again
	// when asked.
	Watch(ctx context.Context) (<-chan stores.Event, error)

	// History returns the values key has held that the store keeps,
	// oldest first, ending with the current one (stores.Historian's
	// contract). It returns an error matching errors.ErrUnsupported when
	// the store keeps no history, and one matching stores.ErrNotFound
	// when it keeps no value of key.
	History(ctx context.Context, key string) ([]stores.Entry, error)

	// Do runs an operator action with the lease core's rules, audit trail
	// and outcomes: its Result and error are those of lease.Operator.Do,
	// including *lease.RequestError, *lease.AuditError,
	// *lease.ChangedError and errors matching lease.ErrHeld. Who the
	// action is audited as is the Backend's to know, not the request's.
	Do(ctx context.Context, req lease.Request) (lease.Result, error)

	// Holder returns the holder id this Backend's acquire and takeover
	// write (lease.OperatorHolder of the operator's name), for the
	// previews the console shows before an action runs.
	Holder() string
}
