package timeline

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// t0 is the scripted fleet's first round.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// rec encodes a record acquired at a with a period of 60 s, completed at
// done seconds (<0: not completed) with cursor n.
func rec(holder string, a, done int) []byte {
	r := lease.Record{HolderID: holder, AcquiredAtUnix: uint64(at(a).Unix()), ExpiresAtUnix: uint64(at(a + 60).Unix())}
	if done >= 0 {
		c := uint64(at(done).Unix())
		r.CompletedAtUnix = &c
		r.CompletedCursorHex = "00000000000000" + string("0123456789abcdef"[a/60%16]) + "0"
	}
	return r.Encode()
}

// history is a scripted fleet's writes, as a store keeps them: no times.
type history struct {
	changes []Change
	rev     uint64
}

func (h *history) write(v []byte) uint64 {
	h.rev++
	h.changes = append(h.changes, Change{Entry: stores.Entry{Key: "exports/orders", Value: v, Revision: h.rev}, Source: FromStore})
	return h.rev
}

// fleet writes the scenario of the Done-when tests: three replicas, c
// crashes mid-round and stops, the fleet is down for three periods, a
// round is abandoned, a corrupt write, an operator's takeover.
func fleet() (*history, []Action) {
	h := &history{}
	h.write(rec("node-a", 0, -1))
	h.write(rec("node-a", 0, 12))
	h.write(rec("node-b", 60, -1))
	h.write(rec("node-b", 60, 70))
	h.write(rec("node-c", 120, -1)) // crashes: never completes
	h.write(rec("node-a", 180, -1))
	h.write(rec("node-a", 180, 195))
	h.write(rec("node-b", 240, -1))
	h.write([]byte{}) // b abandons at 250
	h.write(rec("node-a", 300, -1))
	h.write(rec("node-a", 300, 311))
	// the fleet is down: 360 → 540
	h.write(rec("node-b", 540, -1))
	h.write(rec("node-b", 540, 552))
	h.write([]byte(`{"holder_id":"node-x"`)) // corrupt at 560
	takeover := lease.Record{HolderID: "operator:alice", AcquiredAtUnix: uint64(at(570).Unix()), ExpiresAtUnix: uint64(at(630).Unix())}.Encode()
	rev := h.write(takeover)
	h.write(rec("node-a", 660, -1))
	h.write(rec("node-a", 660, 668))
	h.write(rec("node-b", 720, -1))
	h.write(rec("node-b", 720, 733))
	actions := []Action{{
		ID: "a1b2c3d4e5f6", Time: at(570), Operator: "alice", Action: lease.ActionTakeover,
		Outcome: lease.OutcomeWon, Reason: "corrupt record", RevisionAfter: rev, ValueAfter: takeover,
	}}
	return h, actions
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;:]*[a-zA-Z]`)

// golden compares got, ANSI stripped, with testdata/name, or rewrites it
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = ansiRE.ReplaceAllString(got, "") + "\n"
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestRenderFleet(t *testing.T) {
	h, actions := fleet()
	now := at(900)
	tl := Build(Input{Key: "exports/orders", Changes: h.changes, Actions: actions, Now: now, Thresholds: lease.DefaultThresholds()})
	for _, w := range []int{80, 120} {
		golden(t, "fleet_"+strconv.Itoa(w)+".golden", Render(tl, w, now, DefaultStyles(true)))
	}
}
