package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/leasectl/leasectl/stores"
)

// Shape of the random history: enough clients and operations to interleave
// on every key, few enough for porcupine to check in well under a second.
const (
	linClients      = 8
	linOpsPerClient = 200
	linKeys         = 3
	// linCheckTimeout bounds the search; a timeout is reported, not failed,
	// because it says nothing about the store.
	linCheckTimeout = 2 * time.Minute
)

type linKind int

const (
	linGet linKind = iota
	linCreate
	linUpdate
)

func (k linKind) String() string {
	return [...]string{"get", "create", "update"}[k]
}

// linOutcome is how an operation ended. linUnknown (any error other than the
// expected sentinel) means a write may or may not have been applied.
type linOutcome int

const (
	linOK linOutcome = iota
	linRefused
	linUnknown
)

// linRecord is one operation as the client saw it, revisions included.
type linRecord struct {
	client    int
	key       string
	kind      linKind
	value     string // written by create and update
	rev       uint64 // expected by update
	call, ret int64
	outcome   linOutcome
	got       stores.Entry // read by get, or the ExistsError's Current
	hasGot    bool
	newRev    uint64 // returned by a successful create or update
}

// linInput and linOutput are what porcupine sees. Revisions are assigned by
// the server, so the model has none: every write carries a unique value, and
// an update's expected revision is replaced by the value written at that
// revision. The register's state is then just (exists, value).
type linInput struct {
	key    string
	kind   linKind
	value  string
	expect string // the value an update expects to replace
}

type linOutput struct {
	outcome linOutcome
	value   string // value read by get, or the current value of a refused create
	hasGot  bool
}

type linState struct {
	exists bool
	value  string
}

var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		parts := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.kind {
		case linGet:
			switch out.outcome {
			case linOK:
				return st.exists && st.value == out.value, st
			case linRefused:
				return !st.exists, st
			}
			return true, st
		case linCreate:
			switch out.outcome {
			case linOK:
				return !st.exists, linState{exists: true, value: in.value}
			case linRefused:
				return st.exists && (!out.hasGot || out.value == st.value), st
			}
			// Unknown: applied here, or (its return being infinite)
			// linearized after everything else, which is the same as never.
			if !st.exists {
				return true, linState{exists: true, value: in.value}
			}
			return true, st
		case linUpdate:
			matches := st.exists && st.value == in.expect
			switch out.outcome {
			case linOK:
				return matches, linState{exists: true, value: in.value}
			case linRefused:
				return !matches, st
			}
			if matches {
				return true, linState{exists: true, value: in.value}
			}
			return true, st
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := [...]string{"ok", "refused", "unknown"}[out.outcome]
		switch in.kind {
		case linGet:
			if out.outcome == linOK {
				res = fmt.Sprintf("%q", out.value)
			}
			return fmt.Sprintf("get(%s) → %s", in.key, res)
		case linCreate:
			return fmt.Sprintf("create(%s, %q) → %s", in.key, in.value, res)
		}
		return fmt.Sprintf("update(%s, %q, expect %q) → %s", in.key, in.value, in.expect, res)
	},
	DescribeState: func(state any) string {
		st := state.(linState)
		if !st.exists {
			return "absent"
		}
		return fmt.Sprintf("%q", st.value)
	},
}

func testLinearizable(t *testing.T, s stores.Store) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	keys := make([]string, linKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("st/lin/%d", i)
	}

	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	records := make([][]linRecord, linClients)
	var wg sync.WaitGroup
	begin := make(chan struct{}) // released together, so that they overlap
	for c := range linClients {
		wg.Go(func() {
			<-begin
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			// Every revision this client saw per key, the latest last. An
			// update usually uses the latest, sometimes an older one, which
			// must be refused even when the clients happen not to overlap.
			seen := map[string][]uint64{}
			for i := range linOpsPerClient {
				// Yield, so that in-process stores interleave too.
				runtime.Gosched()
				r := linRecord{client: c, key: keys[rng.IntN(len(keys))], value: fmt.Sprintf("c%d-%d", c, i)}
				revs := seen[r.key]
				switch p := rng.IntN(10); {
				case p < 4:
					r.kind = linGet
				case p < 6 || len(revs) == 0:
					r.kind = linCreate
				case p < 9:
					r.kind, r.rev = linUpdate, revs[len(revs)-1]
				default:
					r.kind, r.rev = linUpdate, revs[rng.IntN(len(revs))]
				}
				linDo(t, s, &r, now)
				switch {
				case r.hasGot:
					seen[r.key] = append(revs, r.got.Revision)
				case r.outcome == linOK && r.kind != linGet:
					seen[r.key] = append(revs, r.newRev)
				}
				records[c] = append(records[c], r)
			}
		})
	}
	close(begin)
	wg.Wait()

	// Learn which value each revision wrote; a revision with two values is
	// itself a violation.
	written := map[string]map[uint64]string{}
	learn := func(r linRecord, rev uint64, value string) {
		if rev == 0 {
			t.Errorf("client %d: %v(%q) reported revision 0 for %q", r.client, r.kind, r.key, value)
			return
		}
		m := written[r.key]
		if m == nil {
			m = map[uint64]string{}
			written[r.key] = m
		}
		if old, ok := m[rev]; ok && old != value {
			t.Errorf("revision %d of %q holds both %q and %q", rev, r.key, old, value)
		}
		m[rev] = value
	}
	var history []porcupine.Operation
	unknown := 0
	for _, rs := range records {
		for _, r := range rs {
			if r.hasGot {
				learn(r, r.got.Revision, string(r.got.Value))
			}
			if r.outcome == linOK && r.kind != linGet {
				learn(r, r.newRev, r.value)
			}
			if r.outcome == linUnknown {
				unknown++
			}
		}
	}
	if t.Failed() {
		return
	}
	for _, rs := range records {
		for _, r := range rs {
			if r.kind == linGet && r.outcome == linUnknown {
				continue // a failed read tells nothing
			}
			in := linInput{key: r.key, kind: r.kind, value: r.value}
			if r.kind == linUpdate {
				v, ok := written[r.key][r.rev]
				if !ok {
					t.Fatalf("client %d updated %q at revision %d, which no operation returned", r.client, r.key, r.rev)
				}
				in.expect = v
			}
			op := porcupine.Operation{
				ClientId: r.client,
				Input:    in,
				Call:     r.call,
				Output:   linOutput{outcome: r.outcome, value: string(r.got.Value), hasGot: r.hasGot},
				Return:   r.ret,
			}
			if r.outcome == linUnknown {
				op.Return = math.MaxInt64
			}
			history = append(history, op)
		}
	}
	t.Logf("%d of %d operations overlapped another on the same key", overlapping(history), len(history))
	if unknown > 0 {
		t.Logf("%d of %d operations ended in an error other than the expected sentinel; counted as possibly applied", unknown, linClients*linOpsPerClient)
	}

	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, history, linCheckTimeout)
	t.Logf("porcupine: %s in %v", res, time.Since(checkStart).Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		t.Errorf("history of %d operations on %d keys is not linearizable (seed %d)%s", len(history), linKeys, seed, visualize(info))
	case porcupine.Unknown:
		t.Logf("linearizability check of %d operations timed out after %v; inconclusive", len(history), linCheckTimeout)
	}
}

// overlapping counts the operations whose interval overlaps another's on the
// same key: the ones whose order the checker has to search.
func overlapping(history []porcupine.Operation) int {
	n := 0
	for _, part := range linModel.Partition(history) {
		ops := slices.Clone(part)
		slices.SortFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		var latest int64 = math.MinInt64 // the latest return of the ops before i
		for i, op := range ops {
			if op.Call <= latest || (i+1 < len(ops) && ops[i+1].Call <= op.Return) {
				n++
			}
			latest = max(latest, op.Return)
		}
	}
	return n
}

// linDo runs r against s and records its timing and outcome.
func linDo(t *testing.T, s stores.Store, r *linRecord, now func() int64) {
	ctx := t.Context()
	var err error
	r.call = now()
	switch r.kind {
	case linGet:
		r.got, err = s.Get(ctx, r.key)
		r.hasGot = err == nil
		r.outcome = classify(err, stores.ErrNotFound)
	case linCreate:
		r.newRev, err = s.Create(ctx, r.key, []byte(r.value))
		r.outcome = classify(err, stores.ErrExists)
		if ee, ok := errors.AsType[*stores.ExistsError](err); ok {
			r.got, r.hasGot = ee.Current, true
		}
	case linUpdate:
		r.newRev, err = s.Update(ctx, r.key, []byte(r.value), r.rev)
		r.outcome = classify(err, stores.ErrConflict)
	}
	r.ret = now()
	if r.outcome == linUnknown {
		t.Logf("client %d: %v(%q) = %v", r.client, r.kind, r.key, err)
	}
}

func classify(err, refused error) linOutcome {
	switch {
	case err == nil:
		return linOK
	case errors.Is(err, refused):
		return linRefused
	}
	return linUnknown
}

// visualize writes porcupine's HTML view of a failed check to a temporary
// file (it outlives the test on purpose) and says where.
func visualize(info porcupine.LinearizationInfo) string {
	f, err := os.CreateTemp("", "storetest-linearizability-*.html")
	if err != nil {
		return ""
	}
	defer f.Close()
	if err := porcupine.Visualize(linModel, info, f); err != nil {
		return ""
	}
	return "; see " + f.Name()
}
