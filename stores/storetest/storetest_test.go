package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
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
// injects the fault named by $STORETEST_FAULT. Run plainly, it injects none,
// so the wrapper itself must pass; TestSuiteCatches runs it once per fault
// in a child process and expects it to fail.
func TestFaulty(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if _, ok := faults[fault]; !ok && fault != "" {
		t.Fatalf("$%s = %q, want one of the faults TestSuiteCatches knows", faultEnv, fault)
	}
	storetest.Run(t, func(t *testing.T) stores.Store {
		m := memory.New()
		t.Cleanup(func() { m.Close() })
		return &faulty{Store: m, fault: fault, last: map[string]stores.Entry{}, prev: map[string]stores.Entry{}}
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

// faulty wraps the memory store and breaks it on purpose.
type faulty struct {
	*memory.Store
	fault string

	mu   sync.Mutex
	gets int
	last map[string]stores.Entry // the latest write seen per key
	prev map[string]stores.Entry // the write before it
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
	if e, ok := f.last[key]; ok && e.Revision < rev {
		f.prev[key] = e
	}
	f.last[key] = stores.Entry{Key: key, Value: append([]byte{}, value...), Revision: rev}
}

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
