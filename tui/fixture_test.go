package tui

import (
	"testing"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// now0 is t0 in lease seconds.
const now0 = uint64(1718000000)

func ptr(u uint64) *uint64 { return &u }

// record encodes a lease record.
func record(holder string, acquired, expires uint64) []byte {
	return lease.Record{HolderID: holder, AcquiredAtUnix: acquired, ExpiresAtUnix: expires}.Encode()
}

// evilHolder is a holder id that would clear the screen and retitle the
// window if it reached the terminal raw.
const evilHolder = "\x1b[2J\x1b]0;pwned\x07mallory"

// fixture is a mix of every state and flag, keyed by lease key.
var fixture = []struct {
	key   string
	value []byte
}{
	{"exports/orders", record("node-a", now0-180, now0+252)},
	{"exports/invoices", record("node-b", now0-600, now0-12)},
	{"exports/corrupt", []byte(`{"holder_id":"node-c","acquired_at_unix":1718000000}`)},
	{"exports/binary", []byte{0xff, 0xfe, 'h', 'i', 0x00, 0x1b}},
	{"exports/released", []byte{}},
	{"exports/checkpoint", record("node-d", now0-120, now0+180)},
	{"exports/skewed", record("node-e", now0+3600, now0+3900)},
	{"exports/eu-west-1/very/long/key/name/for/the/monthly/billing/export/of/all/customers", record("replica-with-an-extraordinarily-long-holder-id-0123456789", now0-30, now0+600)},
	{"exports/evil", record(evilHolder, now0-5, now0+55)},
}

// completedCheckpoint is exports/checkpoint after its holder completed the
// round (cursor 42, a minute ago).
var completedCheckpoint = lease.Record{HolderID: "node-d", AcquiredAtUnix: now0 - 120, ExpiresAtUnix: now0 + 180, CompletedCursorHex: "000000000000002a", CompletedAtUnix: ptr(now0 - 60)}.Encode()

// seed writes the fixture into st, then completes exports/checkpoint so
// that it has a history.
func seed(t *testing.T, st stores.Store) {
	t.Helper()
	revs := map[string]uint64{}
	for _, f := range fixture {
		rev, err := st.Create(t.Context(), f.key, f.value)
		if err != nil {
			t.Fatalf("Create(%q) = %v", f.key, err)
		}
		revs[f.key] = rev
	}
	if _, err := st.Update(t.Context(), "exports/checkpoint", completedCheckpoint, revs["exports/checkpoint"]); err != nil {
		t.Fatalf("Update(exports/checkpoint) = %v", err)
	}
}

// newStore returns a memory store holding the fixture.
func newStore(t *testing.T) *memory.Store {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	seed(t, st)
	return st
}

// newHistoryStore returns a history-keeping memory store holding the
// fixture.
func newHistoryStore(t *testing.T) *historyStore {
	t.Helper()
	st := &historyStore{Store: memory.New(), past: map[string][]stores.Entry{}}
	t.Cleanup(func() { st.Close() })
	seed(t, st)
	return st
}

// get reads key from st.
func get(t *testing.T, st stores.Store, key string) stores.Entry {
	t.Helper()
	e, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return e
}
