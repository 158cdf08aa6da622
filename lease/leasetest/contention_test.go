package leasetest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/leasectl/leasectl/lease/leasetest"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

func TestContention(t *testing.T) {
	const workers, rounds = 8, 25
	r := leasetest.Contention(t, memory.New(), workers, rounds)
	if r.Rounds != rounds || r.Attempts != workers*rounds || r.BadRounds != 0 || r.Errors != 0 {
		t.Fatalf("Contention(%d, %d) = %v", workers, rounds, r)
	}
	if len(r.Scenarios) != 5 {
		t.Fatalf("report has %d scenarios, want 5", len(r.Scenarios))
	}
	for _, s := range r.Scenarios {
		if s.Rounds != rounds/5 || s.Attempts != workers*rounds/5 || s.Wins != s.Scenario.Winners()*s.Rounds {
			t.Errorf("scenario %v: %+v, want %d rounds with %d winner(s) each", s.Scenario, s, rounds/5, s.Scenario.Winners())
		}
	}
	if r.Wins != 4*rounds/5 {
		t.Errorf("Wins = %d, want %d", r.Wins, 4*rounds/5)
	}
	if s := r.String(); !strings.Contains(s, "25 rounds") || !strings.Contains(s, "live: 0/5 won") {
		t.Errorf("String() = %q", s)
	}
}

// TestContentionCatchesABrokenStore runs the suite on a store whose create is
// not create-only: every round must be reported bad.
func TestContentionCatchesABrokenStore(t *testing.T) {
	rec := &recordingTB{TB: t}
	const rounds = 10
	r := leasetest.Contention(rec, blindStore{memory.New()}, 4, rounds)
	if r.BadRounds != rounds {
		t.Errorf("Contention on a broken store: %v; want all %d rounds bad", r, rounds)
	}
	for _, s := range r.Scenarios {
		if s.BadRounds != s.Rounds {
			t.Errorf("scenario %v: %d of %d rounds bad, want all", s.Scenario, s.BadRounds, s.Rounds)
		}
	}
	if errs := rec.errors(); len(errs) < rounds {
		t.Errorf("Contention reported %d failures, want at least %d: %q", len(errs), rounds, errs)
	}
}

func TestScenarioNames(t *testing.T) {
	want := []string{"free", "expired", "tombstone", "corrupt", "live"}
	for i, name := range want {
		if got := leasetest.Scenario(i).String(); got != name {
			t.Errorf("Scenario(%d).String() = %q, want %q", i, got, name)
		}
	}
	if got := leasetest.Scenario(9).String(); got != "Scenario(9)" {
		t.Errorf("Scenario(9).String() = %q", got)
	}
}

// blindStore breaks the contract: Create overwrites an existing key.
type blindStore struct{ *memory.Store }

func (s blindStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := s.Store.Create(ctx, key, value)
	if !errors.Is(err, stores.ErrExists) {
		return rev, err
	}
	e, err := s.Store.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	return s.Store.Update(ctx, key, value, e.Revision)
}

// recordingTB records Errorf calls instead of failing the test.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}
