package consul_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
)

// watchModes runs a watch test with the driver's defaults, under which a
// small prefix is followed by one query, and with every prefix of more than
// one key split into shards.
var watchModes = []struct {
	name string
	opts []consul.Option
}{
	{"one-query", nil},
	{"sharded", []consul.Option{consul.WithShardKeys(1), consul.WithGuardGap(20 * time.Millisecond)}},
}

// plans records the regions of each plan of a sharded watch.
type plans struct {
	mu  sync.Mutex
	all [][]string
}

func (p *plans) option() consul.Option {
	return consul.WithPlanHook(func(regions []string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.all = append(p.all, regions)
	})
}

func (p *plans) get() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.all)
}

// wait returns the plans once there are at least n: a watch plans its
// shards after it has sent its snapshot.
func (p *plans) wait(t *testing.T, n int) [][]string {
	t.Helper()
	for deadline := time.Now().Add(eventTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if all := p.get(); len(all) >= n {
			return all
		}
	}
	t.Fatalf("plans = %q, want at least %d within %v", p.get(), n, eventTimeout)
	return nil
}

// writer writes keys through a store, remembering their revisions.
type writer struct {
	t    *testing.T
	s    stores.Store
	revs map[string]uint64
}

func (w *writer) put(key, value string) {
	w.t.Helper()
	ctx := context.Background()
	var rev uint64
	var err error
	if old, ok := w.revs[key]; ok {
		rev, err = w.s.Update(ctx, key, []byte(value), old)
	} else {
		rev, err = w.s.Create(ctx, key, []byte(value))
	}
	if err != nil {
		w.t.Fatalf("put(%q) = %v", key, err)
	}
	w.revs[key] = rev
}

func (w *writer) del(key string) {
	w.t.Helper()
	d, _ := stores.AsDeleter(w.s)
	if err := d.Delete(context.Background(), key); err != nil {
		w.t.Fatalf("Delete(%q) = %v", key, err)
	}
	delete(w.revs, key)
}

// converge waits until m holds the store's state under prefix, and checks
// that nothing broke the order or failed on the way.
func converge(t *testing.T, m *mirror, s stores.Store, prefix, what string) {
	t.Helper()
	want := listState(t, s, prefix)
	m.waitFor(t, what, func() bool { return maps.Equal(m.state, want) })
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.disorder) > 0 {
		t.Errorf("%s: out of order: %q", what, m.disorder)
	}
	if n := m.count(stores.EventError); n > 0 {
		t.Errorf("%s: %d EventError, the last %v", what, n, m.lastErr)
	}
	if n := m.count(stores.EventReset); n > 0 {
		t.Errorf("%s: %d EventReset, want none", what, n)
	}
}

// TestWatchSharded follows a prefix split into shards of three keys or
// fewer through every kind of change: writes inside shards, tombstones,
// deletes, a shard emptied and filled again, keys that appear outside
// every shard (a new folder, a new key beside split ones), a key that is
// also a folder, and a burst on one key.
func TestWatchSharded(t *testing.T) {
	var pl plans
	s := newStore(t, consul.WithShardKeys(3), consul.WithWatchShards(20), consul.WithGuardGap(20*time.Millisecond), pl.option())
	w := &writer{t: t, s: s, revs: map[string]uint64{}}
	for _, dir := range []string{"sh/a/", "sh/b/", "sh/c/"} {
		for i := range 4 {
			w.put(fmt.Sprint(dir, i), "v0")
		}
	}
	w.put("sh/b", "a key and a folder")
	w.put("sh/flat", "x")
	w.put("shx/outside", "not watched")

	ch, err := s.Watch(t.Context(), "sh/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	converge(t, m, s, "sh/", "the snapshot")
	all := pl.wait(t, 1)
	if len(all) != 1 || len(all[0]) < 5 {
		t.Fatalf("plans = %q, want one plan of several regions", all)
	}
	t.Logf("regions: %q", all[0])
	if !slices.Contains(all[0], "sh/b=") {
		t.Errorf("regions %q lack the key sh/b as an exact region", all[0])
	}

	steps := []struct {
		what string
		do   func()
	}{
		{"updates in several shards", func() {
			w.put("sh/a/1", "v1")
			w.put("sh/c/2", "v1")
			w.put("sh/flat", "y")
			w.put("sh/b", "rewritten")
		}},
		{"a tombstone", func() { w.put("sh/a/2", "") }},
		{"a delete", func() { w.del("sh/b/3") }},
		{"a shard emptied", func() {
			for i := range 4 {
				w.del(fmt.Sprint("sh/c/", i))
			}
		}},
		{"the emptied shard filled again", func() { w.put("sh/c/9", "back") }},
		{"a new folder", func() {
			w.put("sh/new/1", "n1")
			w.put("sh/new/2", "n2")
		}},
		{"a new key beside split ones", func() { w.put("sh/a/zz", "z") }},
		{"the exact key deleted and created again", func() {
			w.del("sh/b")
			w.put("sh/b", "again")
		}},
		{"a write outside the prefix", func() { w.put("shx/outside", "still not watched") }},
		{"a burst on one key", func() {
			for i := range 50 {
				w.put("sh/a/0", fmt.Sprint("burst-", i))
			}
		}},
		{"the new keys rewritten", func() {
			w.put("sh/new/1", "n1b")
			w.put("sh/a/zz", "zb")
		}},
	}
	for _, step := range steps {
		step.do()
		converge(t, m, s, "sh/", step.what)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.count(stores.EventSynced); n != 1 {
		t.Errorf("%d EventSynced, want 1", n)
	}
	if got := pl.get(); len(got) != 1 {
		t.Errorf("plans = %q, want the first only: new keys get regions without a new plan", got)
	}
}

// TestWatchShardedReplan fills the shard budget, then adds a key outside
// every shard: the watch plans again, without a reset.
func TestWatchShardedReplan(t *testing.T) {
	var pl plans
	s := newStore(t, consul.WithShardKeys(1), consul.WithWatchShards(3), consul.WithGuardGap(20*time.Millisecond), pl.option())
	w := &writer{t: t, s: s, revs: map[string]uint64{}}
	for _, k := range []string{"rp/a1", "rp/a2", "rp/b1"} {
		w.put(k, "v")
	}
	ch, err := s.Watch(t.Context(), "rp/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	converge(t, m, s, "rp/", "the snapshot")
	w.put("rp/c1", "v")
	w.put("rp/a1", "v2")
	converge(t, m, s, "rp/", "a key outside the full budget")
	got := pl.wait(t, 2)
	want := [][]string{{"rp/a1", "rp/a2", "rp/b"}, {"rp/a", "rp/b", "rp/c"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plans = %q, want %q", got, want)
	}
	w.put("rp/b1", "v3")
	w.put("rp/c2", "v")
	converge(t, m, s, "rp/", "changes after the new plan")
}

// TestWatchShardedGrow starts on an empty prefix (one query) and shards it
// once it has grown.
func TestWatchShardedGrow(t *testing.T) {
	var pl plans
	s := newStore(t, consul.WithShardKeys(2), consul.WithGuardGap(20*time.Millisecond), pl.option())
	w := &writer{t: t, s: s, revs: map[string]uint64{}}
	ch, err := s.Watch(t.Context(), "gr/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	converge(t, m, s, "gr/", "the empty snapshot")
	for i := range 8 {
		w.put(fmt.Sprintf("gr/%d/k", i%4), "v")
		w.put(fmt.Sprintf("gr/%d/l", i%4), "v")
	}
	converge(t, m, s, "gr/", "the prefix grown")
	t.Logf("plans: %q", pl.wait(t, 1))
	w.put("gr/0/k", "v2")
	w.put("gr/9", "new")
	converge(t, m, s, "gr/", "changes in the shards")
}

// TestWatchShardedOneQuery checks that WithWatchShards(1) never shards.
func TestWatchShardedOneQuery(t *testing.T) {
	var pl plans
	s := newStore(t, consul.WithShardKeys(1), consul.WithWatchShards(1), pl.option())
	w := &writer{t: t, s: s, revs: map[string]uint64{}}
	for i := range 5 {
		w.put(fmt.Sprint("one/", i), "v")
	}
	ch, err := s.Watch(t.Context(), "one/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	converge(t, m, s, "one/", "the snapshot")
	w.put("one/9", "v")
	converge(t, m, s, "one/", "a change")
	if got := pl.get(); len(got) != 0 {
		t.Errorf("plans = %q, want none", got)
	}
}

// TestWatchShardedDenied takes a key away from the watch's token after the
// snapshot: the answer of its shard leaves it out, which the watch must
// report as permission denied rather than as a delete.
func TestWatchShardedDenied(t *testing.T) {
	a := startACLAgent(t)
	root := apiClient(t, a, rootToken, nil)
	for i := range 6 {
		if _, err := root.KV().Put(&api.KVPair{Key: fmt.Sprint("den/", i), Value: []byte("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	policy, _, err := root.ACL().PolicyCreate(&api.ACLPolicy{Name: "den", Rules: `key_prefix "den/" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := root.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: policy.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pl plans
	s, err := consul.New(apiConfig(t, a, tok.SecretID, nil), consul.WithShardKeys(1), pl.option())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(t.Context(), "den/")
	if err != nil {
		t.Fatal(err)
	}
	m := follow(ch)
	converge(t, m, s, "den/", "the snapshot")
	pl.wait(t, 1)
	policy.Rules += "\n" + `key "den/3" { policy = "deny" }`
	if _, _, err := root.ACL().PolicyUpdate(policy, nil); err != nil {
		t.Fatal(err)
	}
	// The agent may answer from a cached policy for a moment.
	scoped := apiClient(t, a, tok.SecretID, nil)
	for deadline := time.Now().Add(eventTimeout); ; time.Sleep(20 * time.Millisecond) {
		if _, _, err := scoped.KV().Get("den/3", nil); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token still reads den/3 %v after the policy update", eventTimeout)
		}
	}
	// A blocking query keeps the rights it started with: write until a
	// query that started after the update answers.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			if _, err := root.KV().Put(&api.KVPair{Key: "den/3", Value: []byte(fmt.Sprint("hidden-", i))}, nil); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	m.waitFor(t, "permission denied", func() bool { return m.lastErr != nil && errors.Is(m.lastErr, consul.ErrPermissionDenied) })
	close(stop)
	<-done
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Logf("error: %v; events %v", m.lastErr, m.kinds)
	if n := m.count(stores.EventDelete); n > 0 {
		t.Errorf("%d EventDelete: a filtered answer read as a delete", n)
	}
}
