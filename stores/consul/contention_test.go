package consul_test

import (
	"testing"

	"github.com/leasectl/leasectl/lease/leasetest"
)

// TestContention races 32 candidates for one key, 500 rounds, over every
// scenario (free, expired, tombstone, corrupt, live): exactly one winner per
// round (none for live), and the key left holding the winner's record.
func TestContention(t *testing.T) {
	const workers, rounds = 32, 500
	r := leasetest.Contention(t, newStore(t), workers, rounds)
	t.Logf("consul: %v", r)
	if r.Rounds != rounds || r.Attempts != workers*rounds || r.BadRounds != 0 || r.Errors != 0 {
		t.Errorf("Contention(%d, %d) = %v, want %d clean rounds of %d attempts", workers, rounds, r, rounds, workers)
	}
	wantWins := 0
	for _, s := range r.Scenarios {
		wantWins += s.Rounds * s.Scenario.Winners()
	}
	if r.Wins != wantWins {
		t.Errorf("Contention(%d, %d) wins = %d, want %d", workers, rounds, r.Wins, wantWins)
	}
}
