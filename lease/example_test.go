package lease_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

// Two replicas race for one round of an export; the winner exports and
// records its cursor, the loser skips the round.
func ExampleLease_TryAcquire() {
	ctx := context.Background()
	store := memory.New()
	now := time.Unix(1718000000, 0) // a fixed clock keeps the output stable
	clock := func() time.Time { return now }

	for _, node := range []string{"node-a", "node-b"} {
		l, err := lease.New(store, "exports/orders", node, lease.WithClock(clock))
		if err != nil {
			fmt.Println(err)
			return
		}
		g, err := l.TryAcquire(ctx, 5*time.Minute)
		if errors.Is(err, lease.ErrHeld) {
			fmt.Printf("%s skips the round: %v\n", node, err)
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s won: %s\n", node, g.Record().Encode())

		now = now.Add(42 * time.Second) // ... the export runs ...
		if err := g.Complete(ctx, lease.CursorFromRevision(42)); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s completed: %s\n", node, g.Record().Encode())
	}
	// Output:
	// node-a won: {"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}
	// node-a completed: {"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300,"completed_cursor_hex":"000000000000002a","completed_at_unix":1718000042}
	// node-b skips the round: lease: held: "exports/orders" by "node-a" until 1718000300
}
