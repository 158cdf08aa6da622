package storetest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
	"github.com/leasectl/leasectl/stores/storetest"
)

// faultEnv names the fault TestFaulty injects; empty means none.
const faultEnv = "STORETEST_FAULT"

// TestFaulty runs the suite against the memory store behind a wrapper that
// adds history and injects the fault named by $STORETEST_FAULT. Run plainly,
// it injects none, so the wrapper itself must pass; TestSuiteCatches runs it
// once per fault in a child process and expects it to fail.
func TestFaulty(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if _, ok := faults[fault]; !ok && fault != "" {
		t.Fatalf("$%s = %q, want one of the faults TestSuiteCatches knows", faultEnv, fault)
	}
	caps := storetest.Capabilities{Watch: true, History: true, Delete: true, Scan: true}
	if fault == "undeclared-history" {
		caps.History = false
	}
	storetest.Run(t, caps, func(t *testing.T) stores.Store {
		m := memory.New()
		t.Cleanup(func() { m.Close() })
		f := &faulty{Store: m, fault: fault, last: map[string]stores.Entry{}, prev: map[string]stores.Entry{}, hist: map[string][]stores.Entry{}}
		if fault == "hide-watcher" {
			return hidesWatcher{f}
		}
		return f
	})
}

// faults maps each fault to the subtests that must catch it (others may
// too), and to the -test.run pattern of its child process: the whole suite,
// except that a store dropping watch events makes some subtests wait for
// their timeout, so only the ones that notice at once are run.
var faults = map[string]struct {
	want []string
	run  string
}{
	"update-ignores-revision": {[]string{"update/stale", "update/rev-zero", "race/update", "linearizable"}, "^TestFaulty$"},
	"create-overwrites":       {[]string{"create/twice", "race/create", "linearizable"}, "^TestFaulty$"},
	"get-stale":               {[]string{"linearizable"}, "^TestFaulty$"},
	"watch-drops":             {[]string{"watch/snapshot-then-changes"}, "^TestFaulty$/^watch$/^(snapshot-then-changes|burst|cancel)$"},
	// A wrapper that hides a declared capability, the defect of a
	// read-only wrapper that lost the console its history.
	"hide-watcher":         {[]string{"capabilities", "watch/snapshot-then-changes", "watch/delete", "readonly/capabilities", "readonly/reads"}, "^TestFaulty$"},
	"undeclared-history":   {[]string{"capabilities"}, "^TestFaulty$"},
	"history-newest-first": {[]string{"history/order", "history/bounded", "history/recreated"}, "^TestFaulty$"},
	"delete-missing-fails": {[]string{"delete/missing"}, "^TestFaulty$"},
	// A store that says it is read-only, so stores.ReadOnly hands it back
	// as it is, and yet takes writes.
	"readonly-lets-writes": {[]string{"capabilities", "readonly/writes-refused"}, "^TestFaulty$"},
	"key-check-disagrees":  {[]string{"key-check/agrees-with-writes"}, "^TestFaulty$"},
}

func TestSuiteCatches(t *testing.T) {
	for fault, tc := range faults {
		t.Run(fault, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+tc.run, "-test.count=1")
			cmd.Env = append(os.Environ(), faultEnv+"="+fault, "TMPDIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if _, ok := errors.AsType[*exec.ExitError](err); !ok {
				t.Fatalf("suite with fault %q: exit = %v, want a failing exit status; output:\n%s", fault, err, out)
			}
			for _, sub := range tc.want {
				if line := "--- FAIL: TestFaulty/" + sub + " "; !strings.Contains(string(out), line) {
					t.Errorf("suite with fault %q: output lacks %q; output:\n%s", fault, line, out)
				}
			}
		})
	}
}

// faulty wraps the memory store, adds a history of its own, and breaks it
// on purpose.
type faulty struct {
	*memory.Store
	fault string

	mu   sync.Mutex
	gets int
	last map[string]stores.Entry   // the latest write seen per key
	prev map[string]stores.Entry   // the write before it
	hist map[string][]stores.Entry // every write per key since its creation, by revision
}

var (
	_ stores.Historian        = (*faulty)(nil)
	_ stores.KeyChecker       = (*faulty)(nil)
	_ stores.ReadOnlyReporter = (*faulty)(nil)
)

// hidesWatcher forwards everything of a faulty store but Watch, as a
// careless wrapper without Unwrap does.
type hidesWatcher struct{ f *faulty }

func (h hidesWatcher) Get(ctx context.Context, key string) (stores.Entry, error) {
	return h.f.Get(ctx, key)
}

func (h hidesWatcher) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	return h.f.Create(ctx, key, value)
}

func (h hidesWatcher) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	return h.f.Update(ctx, key, value, rev)
}

func (h hidesWatcher) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	return h.f.List(ctx, prefix)
}

func (h hidesWatcher) Delete(ctx context.Context, key string) error { return h.f.Delete(ctx, key) }

func (h hidesWatcher) History(ctx context.Context, key string) ([]stores.Entry, error) {
	return h.f.History(ctx, key)
}

func (f *faulty) Get(ctx context.Context, key string) (stores.Entry, error) {
	e, err := f.Store.Get(ctx, key)
	if f.fault != "get-stale" || err != nil {
		return e, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if p, ok := f.prev[key]; ok && f.gets%3 == 0 && p.Revision < e.Revision {
		return p, nil
	}
	return e, nil
}

func (f *faulty) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	for {
		rev, err := f.Store.Create(ctx, key, value)
		if ee, ok := errors.AsType[*stores.ExistsError](err); ok && f.fault == "create-overwrites" {
			rev, err = f.Store.Update(ctx, key, value, ee.Current.Revision)
			if errors.Is(err, stores.ErrConflict) {
				continue
			}
		}
		f.wrote(key, value, rev, err)
		return rev, err
	}
}

func (f *faulty) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if f.fault == "update-ignores-revision" {
		if e, err := f.Store.Get(ctx, key); err == nil {
			rev = e.Revision
		}
	}
	next, err := f.Store.Update(ctx, key, value, rev)
	f.wrote(key, value, next, err)
	return next, err
}

func (f *faulty) wrote(key string, value []byte, rev uint64, err error) {
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := stores.Entry{Key: key, Value: append([]byte{}, value...), Revision: rev}
	if l, ok := f.last[key]; ok && l.Revision < rev {
		f.prev[key] = l
	}
	f.last[key] = e
	// Racing writers may report out of order: keep the history sorted.
	f.hist[key] = append(f.hist[key], e)
	slices.SortFunc(f.hist[key], func(a, b stores.Entry) int { return cmp.Compare(a.Revision, b.Revision) })
}

func (f *faulty) Delete(ctx context.Context, key string) error {
	if f.fault == "delete-missing-fails" {
		if _, err := f.Store.Get(ctx, key); errors.Is(err, stores.ErrNotFound) {
			return err
		}
	}
	if err := f.Store.Delete(ctx, key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.hist, key) // a history starts at the key's creation, as etcd's
	return nil
}

// History returns the writes of key since its creation, oldest first.
func (f *faulty) History(ctx context.Context, key string) ([]stores.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("faulty: history: %w", stores.ErrInvalidKey)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	hist := slices.Clone(f.hist[key])
	if len(hist) == 0 {
		return nil, fmt.Errorf("faulty: history %q: %w", key, stores.ErrNotFound)
	}
	for i, e := range hist {
		hist[i].Value = slices.Clone(e.Value)
	}
	if f.fault == "history-newest-first" {
		slices.Reverse(hist)
	}
	return hist, nil
}

// CheckKey accepts every key the memory store accepts, unless the fault
// makes it refuse keys with a space that the store writes all the same.
func (f *faulty) CheckKey(key string) error {
	if f.fault == "key-check-disagrees" && strings.Contains(key, " ") {
		return fmt.Errorf("faulty: %w %q", stores.ErrInvalidKey, key)
	}
	return nil
}

// ReadOnly reports false, unless the fault makes the store claim to be
// read-only while it takes writes.
func (f *faulty) ReadOnly() bool { return f.fault == "readonly-lets-writes" }

func (f *faulty) Watch(ctx context.Context, prefix string) (<-chan stores.Event, error) {
	in, err := f.Store.Watch(ctx, prefix)
	if err != nil || f.fault != "watch-drops" {
		return in, err
	}
	out := make(chan stores.Event)
	go func() {
		defer close(out)
		synced, n := false, 0
		for ev := range in {
			if synced {
				n++
				if n%2 == 0 {
					continue // every second change is lost
				}
			}
			synced = synced || ev.Kind == stores.EventSynced
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
