package lease_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/audit"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/memory"
)

// sharedEtcd is the embedded etcd of the tests that run on a real store,
// started by the first of them.
var sharedEtcd etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	sharedEtcd.Close()
	os.Exit(code)
}

// realStores are the stores the revert tests run on: the memory store and
// a real etcd (one key per test on the shared server).
var realStores = []struct {
	name string
	open func(t *testing.T) stores.Store
}{
	{"memory", func(*testing.T) stores.Store { return memory.New() }},
	{"etcd", func(t *testing.T) stores.Store {
		s, err := etcd.New(sharedEtcd.Get(t).Client(t))
		if err != nil {
			t.Fatalf("etcd.New() = %v", err)
		}
		return s
	}},
}

// auditID is the shape of every audit id.
var auditID = regexp.MustCompile(`^[0-9a-f]{12}$`)

// revertFixture is an Operator on a real store with a real audit log.
type revertFixture struct {
	store stores.Store
	log   string
	op    *lease.Operator
	key   string
}

func newRevertFixture(t *testing.T, s stores.Store) *revertFixture {
	t.Helper()
	f := &revertFixture{store: s, log: filepath.Join(t.TempDir(), "audit.jsonl")}
	// One key per test: the etcd server is shared.
	f.key = "exports/" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	log, err := audit.NewFile(f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.op, err = lease.NewOperator(s, "prod", "alice", lease.WithAuditor(log), lease.WithHost("bastion-1"), lease.WithScope("exports/"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// entries reads the fixture's audit log.
func (f *revertFixture) entries(t *testing.T) []audit.Entry {
	t.Helper()
	entries, err := audit.ReadFile(f.log)
	if err != nil {
		t.Fatalf("audit.ReadFile = %v", err)
	}
	return entries
}

// trail is the log as "action/outcome" entries.
func (f *revertFixture) trail(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, e := range f.entries(t) {
		out = append(out, fmt.Sprintf("%s/%s", e.Action, e.Outcome))
	}
	return out
}

// last returns the log's newest entry.
func (f *revertFixture) last(t *testing.T) audit.Entry {
	t.Helper()
	entries := f.entries(t)
	if len(entries) == 0 {
		t.Fatal("the audit log is empty")
	}
	return entries[len(entries)-1]
}

// TestRevertTakeover undoes a mistaken takeover of a live lease on each
// real store: the exact bytes come back, the revert is audited pointing at
// the takeover, and a second revert of the same entry is refused because
// the key changed since the takeover wrote it.
func TestRevertTakeover(t *testing.T) {
	for _, st := range realStores {
		t.Run(st.name, func(t *testing.T) {
			f := newRevertFixture(t, st.open(t))
			// Not a record lease.Encode would write: a revert writes bytes
			// back as they were, not a re-encoded record.
			original := []byte(`{"holder_id": "node-a",  "acquired_at_unix":` + fmt.Sprint(time.Now().Unix()) + `,"expires_at_unix":` + fmt.Sprint(time.Now().Unix()+3600) + `}`)
			seen := mustCreate(t, f.store, f.key, original)
			tk, err := f.op.Takeover(t.Context(), f.key, 10*time.Minute, "INC-42: wedged", seen)
			if err != nil {
				t.Fatalf("Takeover = %v", err)
			}
			taken := f.last(t)
			req, err := audit.RevertRequest(taken, "INC-42: wrong key")
			if err != nil {
				t.Fatalf("RevertRequest(%+v) = %v", taken, err)
			}
			if err := f.op.Check(req); err != nil {
				t.Fatalf("Check(revert) = %v", err)
			}
			res, err := f.op.Do(t.Context(), req)
			if err != nil || res.Outcome != lease.OutcomeWon || res.Action != lease.ActionRevert {
				t.Fatalf("revert = %+v, %v; want won", res, err)
			}
			e := mustGet(t, f.store, f.key)
			if !bytes.Equal(e.Value, original) || e.Revision != res.Revision || e.Revision <= tk.Revision {
				t.Errorf("after the revert the store holds %q at %d; want %q, the exact bytes, at a revision after %d", e.Value, e.Revision, original, tk.Revision)
			}
			if res.Before.Entry.Revision != tk.Revision || res.After.Status.Record.HolderID != "node-a" {
				t.Errorf("revert before/after = %+v / %+v", res.Before, res.After.Status)
			}

			again, err := f.op.Do(t.Context(), req)
			var changed *lease.ChangedError
			if again.Outcome != lease.OutcomeChanged || !errors.As(err, &changed) || changed.Seen != tk.Revision || changed.Current.Revision() != res.Revision {
				t.Errorf("second revert = %+v, %v; want changed (seen %d, now %d)", again, err, tk.Revision, res.Revision)
			}
			if e2 := mustGet(t, f.store, f.key); e2.Revision != e.Revision {
				t.Errorf("the refused revert wrote: revision %d, want %d", e2.Revision, e.Revision)
			}

			entries := f.entries(t)
			want := []string{"takeover/won", "revert/won", "revert/changed"}
			if got := f.trail(t); !reflect.DeepEqual(got, want) {
				t.Fatalf("audit = %v, want %v", got, want)
			}
			ids := map[string]bool{}
			for _, en := range entries {
				if !auditID.MatchString(en.ID) || ids[en.ID] {
					t.Errorf("entry id %q: want a fresh 12-hex id per action", en.ID)
				}
				ids[en.ID] = true
			}
			rv := entries[1]
			if rv.Reverts != taken.ID || entries[2].Reverts != taken.ID || entries[0].Reverts != "" {
				t.Errorf("reverts = %q, %q, %q; want %q on the reverts only", entries[0].Reverts, rv.Reverts, entries[2].Reverts, taken.ID)
			}
			if rv.Reason != "INC-42: wrong key" || rv.Seen != tk.Revision || !bytes.Equal(rv.ValueAfter, original) ||
				!bytes.Equal(rv.ValueBefore, tk.Written) || rv.RevisionAfter != res.Revision || rv.Store != "prod" {
				t.Errorf("revert entry = %+v", rv)
			}
		})
	}
}

// TestRevertOfACreateWritesATombstone reverts actions that wrote over an
// absent key: a revert never deletes, it writes a tombstone.
func TestRevertOfACreateWritesATombstone(t *testing.T) {
	for _, st := range realStores {
		t.Run(st.name, func(t *testing.T) {
			f := newRevertFixture(t, st.open(t))
			tk, err := f.op.Takeover(t.Context(), f.key, time.Minute, "pause exports", 0)
			if err != nil {
				t.Fatalf("Takeover(seen absent) = %v", err)
			}
			req, err := audit.RevertRequest(f.last(t), "resume")
			if err != nil {
				t.Fatal(err)
			}
			if res, err := f.op.Do(t.Context(), req); err != nil || res.Outcome != lease.OutcomeWon {
				t.Fatalf("revert = %+v, %v", res, err)
			}
			e := mustGet(t, f.store, f.key)
			if e.Value == nil || len(e.Value) != 0 || e.Revision <= tk.Revision {
				t.Errorf("after reverting a create the key holds %q at %d; want a tombstone", e.Value, e.Revision)
			}
			obs, err := f.op.Inspect(t.Context(), f.key)
			if err != nil || obs.Status.State != lease.Tombstone {
				t.Errorf("Inspect after the revert = %v, %v; want a tombstone", obs.Status.State, err)
			}
		})
	}
}

// TestRevertRefusedByTheRules checks that a revert respects read-only and
// the store's scope like any action: refused before it is audited.
func TestRevertRefusedByTheRules(t *testing.T) {
	for _, st := range realStores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			f := newRevertFixture(t, s)
			seen := mustCreate(t, s, f.key, liveA)
			if _, err := f.op.Takeover(t.Context(), f.key, time.Minute, "r", seen); err != nil {
				t.Fatal(err)
			}
			req, err := audit.RevertRequest(f.last(t), "undo")
			if err != nil {
				t.Fatal(err)
			}
			ro, err := lease.NewOperator(stores.ReadOnly(s), "prod", "alice", lease.WithAuditor(mustFile(t, f.log)))
			if err != nil {
				t.Fatal(err)
			}
			if res, err := ro.Do(t.Context(), req); !errors.Is(err, stores.ErrReadOnly) || !errors.Is(err, lease.ErrInvalidRequest) || res.Outcome != 0 {
				t.Errorf("revert on a read-only store = %+v, %v; want ErrReadOnly, refused", res, err)
			}
			outside := req
			outside.Key = "app/" + f.key
			if _, err := f.op.Do(t.Context(), outside); !errors.Is(err, lease.ErrOutsideScope) {
				t.Errorf("revert outside the prefix = %v, want ErrOutsideScope", err)
			}
			if got, want := f.trail(t), []string{"takeover/won"}; !reflect.DeepEqual(got, want) {
				t.Errorf("audit = %v, want %v: refused reverts are not audited", got, want)
			}
			if e := mustGet(t, s, f.key); bytes.Equal(e.Value, liveA) {
				t.Error("a refused revert wrote")
			}
		})
	}
}

// TestRevertAfterDelete reverts onto a key that was deleted since: changed,
// never a create.
func TestRevertAfterDelete(t *testing.T) {
	f := newOpFixture(t)
	rev := f.plant(t, liveA)
	if err := f.m.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	res, err := f.op.Do(t.Context(), lease.Request{Action: lease.ActionRevert, Key: key, Seen: rev, Value: expiredA, Reason: "undo", Reverts: "abcdef012345"})
	var changed *lease.ChangedError
	if res.Outcome != lease.OutcomeChanged || !errors.As(err, &changed) || changed.Current.Found {
		t.Errorf("revert onto a deleted key = %+v, %v; want changed, now absent", res, err)
	}
	if _, err := f.m.Get(t.Context(), key); !errors.Is(err, stores.ErrNotFound) {
		t.Errorf("the revert created the key: %v", err)
	}
}

// TestAuditIDs checks that every action gets a fresh id, the same on its
// intent and result records, and that a revert's records carry what it
// reverts and write its value as given.
func TestAuditIDs(t *testing.T) {
	f := newOpFixture(t)
	rev := f.plant(t, liveA)
	tk, err := f.op.Takeover(t.Context(), key, 10*time.Minute, "r", rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.op.Takeover(t.Context(), key, 10*time.Minute, "r", rev); err == nil {
		t.Fatal("a stale takeover was not refused")
	}
	value := append([]byte(nil), liveA...)
	req := lease.Request{Action: lease.ActionRevert, Key: key, Seen: tk.Revision, Value: value, Reason: "undo", Reverts: "0123456789ab"}
	if _, err := f.op.Do(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // the caller's slice, changed after Do: nothing of it was kept
	recs := f.auditor.all()
	if len(recs) != 6 {
		t.Fatalf("audit records = %d, want 6", len(recs))
	}
	seen := map[string]bool{}
	for i := 0; i < len(recs); i += 2 {
		in, out := recs[i], recs[i+1]
		if !auditID.MatchString(in.ID) || in.ID != out.ID || seen[in.ID] {
			t.Errorf("action %d: ids %q and %q; want one fresh 12-hex id on both records", i/2, in.ID, out.ID)
		}
		seen[in.ID] = true
	}
	in, out := recs[4], recs[5]
	if in.Action != lease.ActionRevert || in.Reverts != "0123456789ab" || out.Reverts != "0123456789ab" || recs[0].Reverts != "" {
		t.Errorf("revert records = %+v / %+v", in, out)
	}
	if !bytes.Equal(in.ValueAfter, liveA) || !bytes.Equal(out.ValueAfter, liveA) || !bytes.Equal(out.ValueBefore, aliceAt100) {
		t.Errorf("revert wrote %q (intent %q) over %q; want %q over %q", out.ValueAfter, in.ValueAfter, out.ValueBefore, liveA, aliceAt100)
	}
	if e := mustGet(t, f.m, key); !bytes.Equal(e.Value, liveA) {
		t.Errorf("store = %q, want %q", e.Value, liveA)
	}
	if a, b := lease.NewAuditID(), lease.NewAuditID(); a == b || !auditID.MatchString(a) {
		t.Errorf("NewAuditID() = %q, %q; want two different 12-hex ids", a, b)
	}
}

// mustFile returns the audit log at path.
func mustFile(t *testing.T, path string) *audit.File {
	t.Helper()
	f, err := audit.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
