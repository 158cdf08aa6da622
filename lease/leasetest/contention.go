// Package leasetest checks the lease algorithm against a real store under
// contention: many candidates racing one key, round after round, over every
// kind of value a key can hold. Store drivers call Contention from their
// tests, like testing/fstest.TestFS.
package leasetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

// Scenario is what a key holds when a contention round starts.
type Scenario int

// The scenarios, in the order rounds cycle through them.
const (
	// Free: the key is absent; the winner creates it.
	Free Scenario = iota
	// Expired: the key holds an expired record; the winner CASes over it.
	Expired
	// Tombstone: the key holds a zero-length value.
	Tombstone
	// Corrupt: the key holds bytes that are not a record.
	Corrupt
	// Live: the key holds a live record; nobody may win.
	Live

	numScenarios
)

// String returns the scenario's lower-case name.
func (s Scenario) String() string {
	switch s {
	case Free:
		return "free"
	case Expired:
		return "expired"
	case Tombstone:
		return "tombstone"
	case Corrupt:
		return "corrupt"
	case Live:
		return "live"
	}
	return fmt.Sprintf("Scenario(%d)", int(s))
}

// Winners returns how many candidates must win a round of the scenario.
func (s Scenario) Winners() int {
	if s == Live {
		return 0
	}
	return 1
}

// ScenarioReport counts the rounds of one scenario.
type ScenarioReport struct {
	Scenario Scenario
	// Rounds is the number of rounds played, Attempts the TryAcquire calls
	// made, Wins the calls that won.
	Rounds, Attempts, Wins int
	// BadRounds is the number of rounds that broke the contract: a number of
	// winners other than Scenario.Winners(), a store error, or a store left
	// holding something other than the winner's record (or, for Live, the
	// planted one).
	BadRounds int
}

// ContentionReport is what Contention measured.
type ContentionReport struct {
	// Rounds, Attempts, Wins and BadRounds are totals over all scenarios.
	Rounds, Attempts, Wins, BadRounds int
	// Errors counts TryAcquire calls that failed with something other than
	// lease.ErrHeld.
	Errors int
	// Elapsed is the wall time of all the rounds.
	Elapsed time.Duration
	// Scenarios has one entry per scenario, in Scenario order.
	Scenarios []ScenarioReport
}

// String summarises the report on one line.
func (r ContentionReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rounds, %d attempts, %d wins, %d bad rounds, %d errors in %v", r.Rounds, r.Attempts, r.Wins, r.BadRounds, r.Errors, r.Elapsed.Round(time.Millisecond))
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "; %s: %d/%d won, %d bad", s.Scenario, s.Wins, s.Rounds, s.BadRounds)
	}
	return b.String()
}

// contentionTTL is the ttl every candidate asks for: long enough that no
// winner's record expires while its round is still being checked.
const contentionTTL = time.Hour

// maxReported bounds the failures reported one by one; the rest are counted.
const maxReported = 20

// Contention plays rounds rounds of workers candidates racing for one fresh
// key each round (contention/<unique>/<round>), cycling through the
// scenarios Free, Expired, Tombstone, Corrupt and Live. In each round the
// key is planted, every candidate is released at once by a barrier and calls
// TryAcquire once; then the store is read back. It calls t.Errorf for every
// bad round (see ScenarioReport.BadRounds) and returns the counts.
//
// The store must be writable and empty under "contention/". Candidates use
// the wall clock, so a store may be slow, but its clock need not agree with
// anyone's: expiry is judged by the candidates.
func Contention(t testing.TB, s stores.Store, workers, rounds int) ContentionReport {
	t.Helper()
	if workers < 1 || rounds < 1 {
		t.Fatalf("leasetest.Contention: workers %d and rounds %d must be at least 1", workers, rounds)
	}
	c := &contention{
		t:       t,
		s:       s,
		workers: workers,
		prefix:  fmt.Sprintf("contention/%d-%08x/", time.Now().UnixNano(), rand.Uint32()),
		report:  ContentionReport{Scenarios: make([]ScenarioReport, numScenarios)},
	}
	for i := range c.report.Scenarios {
		c.report.Scenarios[i].Scenario = Scenario(i)
	}
	start := time.Now()
	for round := range rounds {
		c.round(round, Scenario(round%int(numScenarios)))
	}
	c.report.Elapsed = time.Since(start)
	if c.failures > maxReported {
		t.Errorf("leasetest.Contention: %d more failures not shown", c.failures-maxReported)
	}
	return c.report
}

type contention struct {
	t        testing.TB
	s        stores.Store
	workers  int
	prefix   string
	report   ContentionReport
	failures int
}

// fail reports one failure, up to maxReported.
func (c *contention) fail(format string, args ...any) {
	c.t.Helper()
	c.failures++
	if c.failures <= maxReported {
		c.t.Errorf("leasetest.Contention: "+format, args...)
	}
}

// result is one candidate's attempt.
type result struct {
	guard *lease.Guard
	err   error
}

func (c *contention) round(round int, sc Scenario) {
	c.t.Helper()
	ctx := c.t.Context()
	key := fmt.Sprintf("%s%d", c.prefix, round)
	now := lease.UnixSeconds(time.Now())
	var planted []byte
	switch sc {
	case Expired:
		planted = lease.Record{HolderID: "contention-expired", AcquiredAtUnix: now - 600, ExpiresAtUnix: now - 300}.Encode()
	case Tombstone:
		planted = []byte{}
	case Corrupt:
		planted = []byte("contention: not a lease record")
	case Live:
		planted = lease.Record{HolderID: "contention-live", AcquiredAtUnix: now, ExpiresAtUnix: now + uint64(contentionTTL/time.Second)}.Encode()
	}
	if planted != nil {
		if _, err := c.s.Create(ctx, key, planted); err != nil {
			c.t.Fatalf("leasetest.Contention: round %d (%s): planting %q: %v", round, sc, key, err)
		}
	}

	leases := make([]*lease.Lease, c.workers)
	for w := range leases {
		l, err := lease.New(c.s, key, fmt.Sprintf("contention-%d-%d", round, w))
		if err != nil {
			c.t.Fatalf("leasetest.Contention: lease.New(%q): %v", key, err)
		}
		leases[w] = l
	}
	results := make([]result, c.workers)
	var ready, done sync.WaitGroup
	startCh := make(chan struct{})
	ready.Add(c.workers)
	for w, l := range leases {
		done.Go(func() {
			ready.Done()
			<-startCh
			g, err := l.TryAcquire(ctx, contentionTTL)
			results[w] = result{g, err}
		})
	}
	ready.Wait()
	close(startCh)
	done.Wait()

	sr := &c.report.Scenarios[sc]
	sr.Rounds++
	sr.Attempts += c.workers
	c.report.Rounds++
	c.report.Attempts += c.workers
	bad := false
	var winner *lease.Guard
	wins := 0
	for w, r := range results {
		switch {
		case r.err == nil && r.guard != nil:
			wins++
			winner = r.guard
		case r.err == nil:
			c.fail("round %d (%s): candidate %d: TryAcquire returned nil, nil", round, sc, w)
			bad = true
		case errors.Is(r.err, lease.ErrHeld):
		default:
			c.report.Errors++
			c.fail("round %d (%s): candidate %d: TryAcquire: %v", round, sc, w, r.err)
			bad = true
		}
	}
	sr.Wins += wins
	c.report.Wins += wins
	if wins != sc.Winners() {
		c.fail("round %d (%s): %d of %d candidates won %q, want %d", round, sc, wins, c.workers, key, sc.Winners())
		bad = true
	}

	e, err := c.s.Get(ctx, key)
	switch {
	case err != nil:
		c.fail("round %d (%s): reading %q back: %v", round, sc, key, err)
		bad = true
	case wins == 1:
		if want := winner.Record().Encode(); !bytes.Equal(e.Value, want) || e.Revision != winner.Revision() {
			c.fail("round %d (%s): %q holds %q at revision %d, want the winner's %q at %d", round, sc, key, e.Value, e.Revision, want, winner.Revision())
			bad = true
		}
	case wins == 0 && planted != nil:
		if !bytes.Equal(e.Value, planted) {
			c.fail("round %d (%s): nobody won but %q holds %q, want the planted %q", round, sc, key, e.Value, planted)
			bad = true
		}
	}
	if bad {
		sr.BadRounds++
		c.report.BadRounds++
	}
}
