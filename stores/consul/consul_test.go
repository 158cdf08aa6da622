package consul_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Capabilities{Watch: true, Delete: true, Scan: true},
		func(t *testing.T) stores.Store { return newStore(t) })
}

// TestWriteRevisionIsOwnWrite checks that the revision Create and Update
// return is the key's ModifyIndex right after the write, as the agent itself
// reports it, and that an Update against it succeeds.
func TestWriteRevisionIsOwnWrite(t *testing.T) {
	s := newStore(t)
	kv := apiClient(t, sharedAgent(t), "", nil).KV()
	ctx := t.Context()
	rev := mustCreate(t, s, "w/a", []byte("v1"))
	for i := range 5 {
		pair, _, err := kv.Get("w/a", nil)
		if err != nil || pair == nil {
			t.Fatalf("KV().Get(%q) = %v, %v", "w/a", pair, err)
		}
		if pair.ModifyIndex != rev {
			t.Fatalf("write %d returned revision %d, agent says ModifyIndex %d", i, rev, pair.ModifyIndex)
		}
		next, err := s.Update(ctx, "w/a", []byte{byte(i)}, rev)
		if err != nil {
			t.Fatalf("Update(%q, rev %d) = %v", "w/a", rev, err)
		}
		if next <= rev {
			t.Fatalf("Update(%q, rev %d) = revision %d, want > %d", "w/a", rev, next, rev)
		}
		rev = next
	}
}

// TestSameValueTakesNewRevision pins the Flags scheme: Consul skips a write
// of identical bytes and keeps the index, which would let two CASes against
// one revision both succeed.
func TestSameValueTakesNewRevision(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, value := range [][]byte{[]byte("same"), {}} {
		key := "same/" + string(value) + "x"
		rev1 := mustCreate(t, s, key, value)
		rev2, err := s.Update(ctx, key, value, rev1)
		if err != nil {
			t.Fatalf("Update(%q, %q, rev %d) = %v", key, value, rev1, err)
		}
		if rev2 <= rev1 {
			t.Errorf("Update(%q, %q, rev %d) = revision %d, want > %d", key, value, rev1, rev2, rev1)
		}
		if got, err := s.Update(ctx, key, value, rev1); !errors.Is(err, stores.ErrConflict) {
			t.Errorf("second Update(%q, %q, rev %d) = %d, %v, want ErrConflict", key, value, rev1, got, err)
		}
	}
}

// TestRaceSameValue races goroutines writing identical bytes against one
// revision: exactly one may win.
func TestRaceSameValue(t *testing.T) {
	s := newStore(t)
	const key, workers = "race/same", 16
	for round := range 5 {
		e, err := s.Get(t.Context(), key)
		rev := e.Revision
		if errors.Is(err, stores.ErrNotFound) {
			rev = mustCreate(t, s, key, []byte("x"))
		} else if err != nil {
			t.Fatalf("Get(%q) = %v", key, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		start := make(chan struct{})
		for range workers {
			wg.Go(func() {
				<-start
				_, err := s.Update(context.Background(), key, []byte("x"), rev)
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, stores.ErrConflict):
					t.Errorf("Update(%q, rev %d) = %v, want nil or ErrConflict", key, rev, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Errorf("round %d: %d of %d identical Updates at revision %d won, want 1", round, wins, workers, rev)
		}
	}
}

func TestEmptyValue(t *testing.T) {
	s := newStore(t)
	rev := mustCreate(t, s, "e/k", nil)
	e, err := s.Get(t.Context(), "e/k")
	if err != nil {
		t.Fatalf("Get(%q) = %v", "e/k", err)
	}
	if e.Value == nil || len(e.Value) != 0 || e.Revision != rev {
		t.Errorf("Get(%q) = {Value: %#v, Revision: %d}, want {Value: []byte{}, Revision: %d}", "e/k", e.Value, e.Revision, rev)
	}
	list, err := s.List(t.Context(), "e/")
	if err != nil || len(list) != 1 || list[0].Value == nil || len(list[0].Value) != 0 {
		t.Errorf("List(%q) = %#v, %v, want one empty non-nil value", "e/", list, err)
	}
}

func TestUpdateRevisionZeroWritesNothing(t *testing.T) {
	ct := newCountingTransport()
	a := sharedAgent(t)
	wipe(t, a)
	s, err := consul.New(apiConfig(t, a, "", ct))
	if err != nil {
		t.Fatal(err)
	}
	for _, exists := range []bool{false, true} {
		key := "z/absent"
		if exists {
			key = "z/present"
			mustCreate(t, s, key, []byte("v"))
		}
		ct.take()
		if got, err := s.Update(t.Context(), key, []byte("new"), 0); !errors.Is(err, stores.ErrConflict) {
			t.Errorf("Update(%q, rev 0) = %d, %v, want ErrConflict", key, got, err)
		}
		if reqs := ct.take(); len(reqs) != 0 {
			t.Errorf("Update(%q, rev 0) sent %v, want no request", key, reqs)
		}
		if _, err := s.Get(t.Context(), key); exists == errors.Is(err, stores.ErrNotFound) {
			t.Errorf("Get(%q) after Update(rev 0) = %v, want exists=%v", key, err, exists)
		}
	}
}

// TestInvalidKeys sends nothing: the store points at an address where
// nothing listens, so any request would fail with another error.
func TestInvalidKeys(t *testing.T) {
	s, err := consul.New(&api.Config{Address: deadAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, key := range []string{"", "/a", "a//b", "a/./b", "a/../b", "./a", "../a", "a/.", "a/..", ".", "..", "bad\xffutf8", "new\nline", "tab\tkey", "nbsp\u00a0key", "nul\x00"} {
		t.Run(key, func(t *testing.T) {
			if _, err := s.Get(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("Get(%q) = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Create(ctx, key, nil); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("Create(%q) = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Update(ctx, key, nil, 1); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("Update(%q) = %v, want ErrInvalidKey", key, err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
			}
			if key == "" {
				return // the empty prefix lists everything
			}
			if _, err := s.List(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("List(%q) = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Watch(ctx, key); !errors.Is(err, stores.ErrInvalidKey) {
				t.Errorf("Watch(%q) = %v, want ErrInvalidKey", key, err)
			}
		})
	}
}

// TestOddKeys round-trips keys that need URL escaping or look like paths.
func TestOddKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	keys := []string{
		"odd/p%2Fq", "odd/q?r=1", "odd/x y", "odd/dir/", "odd/ünï/cødé", "odd/semi;colon",
		"odd/hash#tag", "odd/plus+sign", "odd/.../x", "odd/.hidden/.x", "odd/%", "odd/emoji-🔒",
	}
	for i, key := range keys {
		value := []byte{byte(i), 0, 0xff}
		rev := mustCreate(t, s, key, value)
		e, err := s.Get(ctx, key)
		if err != nil || e.Key != key || !bytes.Equal(e.Value, value) || e.Revision != rev {
			t.Errorf("Get(%q) = %+v, %v, want {%q %v %d}", key, e, err, key, value, rev)
		}
		if _, err := s.Update(ctx, key, []byte("u"), rev); err != nil {
			t.Errorf("Update(%q, rev %d) = %v", key, rev, err)
		}
	}
	list, err := s.List(ctx, "odd/")
	if err != nil {
		t.Fatalf("List(%q) = %v", "odd/", err)
	}
	got := map[string]bool{}
	for _, e := range list {
		got[e.Key] = true
	}
	for _, key := range keys {
		if !got[key] {
			t.Errorf("List(%q) lacks %q; got %d keys", "odd/", key, len(list))
		}
	}
	if len(list) != len(keys) {
		t.Errorf("List(%q) = %d keys, want %d", "odd/", len(list), len(keys))
	}
}

func TestListScopeAndOrder(t *testing.T) {
	s := newStore(t)
	for _, k := range []string{"b/2", "a/1", "b/10", "b/1", "ba", "c"} {
		mustCreate(t, s, k, []byte(k))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a/1", "b/1", "b/10", "b/2", "ba", "c"}},
		{"b/", []string{"b/1", "b/10", "b/2"}},
		{"b", []string{"b/1", "b/10", "b/2", "ba"}},
		{"zzz", []string{}},
	} {
		list, err := s.List(t.Context(), tc.prefix)
		if err != nil {
			t.Fatalf("List(%q) = %v", tc.prefix, err)
		}
		got := []string{}
		for _, e := range list {
			if string(e.Value) != e.Key || e.Revision == 0 {
				t.Errorf("List(%q) entry %+v: want value = key and a revision", tc.prefix, e)
			}
			got = append(got, e.Key)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		if list == nil {
			t.Errorf("List(%q) = nil, want an empty non-nil slice", tc.prefix)
		}
	}
}

// TestRoundTrips counts the HTTP requests of each store operation.
func TestRoundTrips(t *testing.T) {
	ct := newCountingTransport()
	a := sharedAgent(t)
	wipe(t, a)
	s, err := consul.New(apiConfig(t, a, "", ct))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var rev uint64
	for _, tc := range []struct {
		name string
		op   func() error
		want []string
	}{
		{"create", func() (err error) { rev, err = s.Create(ctx, "rt/a", []byte("v")); return err }, []string{"PUT /v1/txn"}},
		{"create/exists", func() error { _, err := s.Create(ctx, "rt/a", nil); return ignore(err, stores.ErrExists) }, []string{"PUT /v1/txn"}},
		{"get", func() error { _, err := s.Get(ctx, "rt/a"); return err }, []string{"GET /v1/kv/rt/a"}},
		{"update", func() (err error) { rev, err = s.Update(ctx, "rt/a", []byte("w"), rev); return err }, []string{"PUT /v1/txn"}},
		{"update/conflict", func() error { _, err := s.Update(ctx, "rt/a", nil, rev-1); return ignore(err, stores.ErrConflict) }, []string{"PUT /v1/txn"}},
		{"list", func() error { _, err := s.List(ctx, "rt/"); return err }, []string{"GET /v1/kv/rt/"}},
		{"delete", func() error { return s.Delete(ctx, "rt/a") }, []string{"DELETE /v1/kv/rt/a"}},
	} {
		ct.take()
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := ct.take()
		t.Logf("%-16s %d request(s): %v", tc.name, len(got), got)
		if strings.Join(got, ";") != strings.Join(tc.want, ";") {
			t.Errorf("%s sent %q, want %q", tc.name, got, tc.want)
		}
	}
}

// ignore returns nil when err matches want, and err (or an error saying
// that nothing failed) otherwise.
func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	if err == nil {
		return errors.New("succeeded, want " + want.Error())
	}
	return err
}

func TestOptions(t *testing.T) {
	cfg := &api.Config{Address: deadAddr(t)}
	for _, tc := range []struct {
		name string
		opt  consul.Option
		ok   bool
	}{
		{"wait/ok", consul.WithWatchWait(time.Minute), true},
		{"wait/max", consul.WithWatchWait(10 * time.Minute), true},
		{"wait/zero", consul.WithWatchWait(0), false},
		{"wait/too-long", consul.WithWatchWait(11 * time.Minute), false},
		{"backoff/ok", consul.WithRetryBackoff(time.Millisecond, time.Second), true},
		{"backoff/equal", consul.WithRetryBackoff(time.Second, time.Second), true},
		{"backoff/inverted", consul.WithRetryBackoff(time.Second, time.Millisecond), false},
		{"backoff/zero", consul.WithRetryBackoff(0, time.Second), false},
		{"shards/one", consul.WithWatchShards(1), true},
		{"shards/many", consul.WithWatchShards(150), true},
		{"shards/zero", consul.WithWatchShards(0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consul.New(cfg, tc.opt)
			if (err == nil) != tc.ok {
				t.Errorf("New(cfg, %s) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "consul: ") {
				t.Errorf("New(cfg, %s) error %q lacks the consul: prefix", tc.name, err)
			}
		})
	}
	if _, err := consul.New(nil); err == nil {
		t.Errorf("New(nil) = nil error, want an error")
	}
}

func TestDial(t *testing.T) {
	a := sharedAgent(t)
	wipe(t, a)
	for _, tc := range []struct {
		name string
		env  string
		cfg  consul.Config
	}{
		{"address", "", consul.Config{Address: a.Addr()}},
		{"url", "", consul.Config{Address: "http://" + a.Addr()}},
		{"env", a.Addr(), consul.Config{}},
		{"scheme", "", consul.Config{Address: a.Addr(), Scheme: "http", Datacenter: "dc1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONSUL_HTTP_ADDR", tc.env)
			t.Setenv("CONSUL_HTTP_TOKEN", "")
			s, err := consul.Dial(t.Context(), tc.cfg)
			if err != nil {
				t.Fatalf("Dial(%+v) = %v", tc.cfg, err)
			}
			key := "dial/" + tc.name
			rev := mustCreate(t, s, key, []byte("v"))
			if e, err := s.Get(t.Context(), key); err != nil || e.Revision != rev {
				t.Errorf("Get(%q) = %+v, %v, want revision %d", key, e, err, rev)
			}
		})
	}
}

func TestDialConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  consul.Config
		want string
	}{
		{"scheme", consul.Config{Address: "127.0.0.1:1", Scheme: "ftp"}, "scheme"},
		{"tls/both", consul.Config{Address: "127.0.0.1:1", TLS: consul.TLSConfig{CAFile: "ca.pem", Config: &tls.Config{}}}, "not both"},
		{"tls/cert-without-key", consul.Config{Address: "127.0.0.1:1", TLS: consul.TLSConfig{CertFile: "c.pem"}}, "cert and a key"},
		{"tls/missing-ca", consul.Config{Address: "127.0.0.1:1", TLS: consul.TLSConfig{CAFile: "/nonexistent/ca.pem"}}, "ca.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consul.Dial(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "consul: ") {
				t.Errorf("Dial(%s) = %v, want a consul: error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestUnreachable checks that a dead or silent agent gives a prompt, clear
// error within the caller's deadline.
func TestUnreachable(t *testing.T) {
	silent := silentAddr(t)
	for _, tc := range []struct {
		name, addr, want string
		deadline         bool
	}{
		{"refused", deadAddr(t), "agent unreachable", false},
		{"silent", silent, "no answer from the agent", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			_, err := consul.Dial(ctx, consul.Config{Address: tc.addr})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.addr) {
				t.Errorf("Dial(%s) = %v, want an error naming the address and saying %q", tc.addr, err, tc.want)
			}
			if tc.deadline != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Dial(%s) = %v, errors.Is(DeadlineExceeded) = %v, want %v", tc.addr, err, !tc.deadline, tc.deadline)
			}

			s, err := consul.New(&api.Config{Address: tc.addr})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			_, err = s.Get(ctx, "k")
			if err == nil || errors.Is(err, stores.ErrNotFound) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get(%q) via %s = %v, want an error saying %q", "k", tc.addr, err, tc.want)
			}
			_, err = s.Create(ctx, "k", nil)
			if err == nil || errors.Is(err, stores.ErrExists) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create(%q) via %s = %v, want an error saying %q", "k", tc.addr, err, tc.want)
			}
		})
	}
}

// deadAddr returns an address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr returns an address that accepts connections and never answers,
// like an agent behind a black-holing firewall.
func silentAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
