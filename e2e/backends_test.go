package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
	"github.com/nats-io/nats.go/jetstream"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores/consul/consultest"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// backend is one real store server and its native client.
type backend interface {
	// addr returns the host:port where the server listens for clients.
	addr() string
	// scope returns a part of the store of its own for one test: a key
	// prefix (etcd, Consul) or a bucket (NATS) named name.
	scope(t testing.TB, name string) scope
}

// scope is an isolated part of a store: what leasectl's config names, and
// native access to the keys within it.
type scope interface {
	// storeYAML returns the config entry of a store called name that
	// covers exactly this scope, as a YAML list item, reaching the server
	// at addr (the server's own address, or a gate in front of it).
	storeYAML(name, addr string) string
	// key returns the full key of suffix within the scope.
	key(suffix string) string
	// put writes value under key with the native client, unconditionally,
	// and returns the store's revision of the write.
	put(t testing.TB, key string, value []byte) uint64
	// get reads key with the native client; ok is false when it is absent.
	get(t testing.TB, key string) (value []byte, rev uint64, ok bool)
}

// etcdBackend is an embedded etcd.
type etcdBackend struct {
	srv *etcdtest.Server
	cli *clientv3.Client
}

func newEtcd(t testing.TB) *etcdBackend {
	srv := etcdtest.Start(t)
	return &etcdBackend{srv: srv, cli: srv.Client(t)}
}

func (b *etcdBackend) scope(_ testing.TB, name string) scope {
	return &prefixScope{prefix: name + "/", b: b}
}

// prefixScope is a key prefix of an etcd or Consul store.
type prefixScope struct {
	prefix string
	b      prefixStore
}

// prefixStore is a store whose scopes are key prefixes.
type prefixStore interface {
	storeYAML(name, addr, prefix string) string
	put(t testing.TB, key string, value []byte) uint64
	get(t testing.TB, key string) ([]byte, uint64, bool)
}

func (s *prefixScope) storeYAML(name, addr string) string { return s.b.storeYAML(name, addr, s.prefix) }
func (s *prefixScope) key(suffix string) string           { return s.prefix + suffix }
func (s *prefixScope) put(t testing.TB, key string, value []byte) uint64 {
	return s.b.put(t, key, value)
}
func (s *prefixScope) get(t testing.TB, key string) ([]byte, uint64, bool) {
	return s.b.get(t, key)
}

func (b *etcdBackend) addr() string {
	return strings.TrimPrefix(b.srv.Endpoints()[0], "http://")
}

func (b *etcdBackend) storeYAML(name, addr, prefix string) string {
	return fmt.Sprintf("  - name: %s\n    kind: etcd\n    endpoints: [http://%s]\n    prefix: %s\n", name, addr, prefix)
}

func (b *etcdBackend) put(t testing.TB, key string, value []byte) uint64 {
	t.Helper()
	resp, err := b.cli.Put(t.Context(), key, string(value))
	if err != nil {
		t.Fatalf("etcd Put(%q) = %v", key, err)
	}
	return uint64(resp.Header.Revision)
}

func (b *etcdBackend) get(t testing.TB, key string) ([]byte, uint64, bool) {
	t.Helper()
	resp, err := b.cli.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("etcd Get(%q) = %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, false
	}
	kv := resp.Kvs[0]
	return kv.Value, uint64(kv.ModRevision), true
}

// consulBackend is a Consul agent in -dev mode.
type consulBackend struct {
	agent *consultest.Agent
	kv    *api.KV
}

func newConsul(t testing.TB) *consulBackend {
	t.Setenv("CONSUL_HTTP_TOKEN", "") // the api client falls back to it
	a := consultest.Start(t)
	t.Logf("consul agent up in %v", a.Startup())
	return &consulBackend{agent: a, kv: a.Client(t).KV()}
}

func (b *consulBackend) scope(_ testing.TB, name string) scope {
	return &prefixScope{prefix: name + "/", b: b}
}

func (b *consulBackend) addr() string { return b.agent.Addr() }

func (b *consulBackend) storeYAML(name, addr, prefix string) string {
	return fmt.Sprintf("  - name: %s\n    kind: consul\n    address: %s\n    prefix: %s\n", name, addr, prefix)
}

// put writes with a plain PUT and reads the key back for its ModifyIndex,
// which the PUT's answer does not carry.
func (b *consulBackend) put(t testing.TB, key string, value []byte) uint64 {
	t.Helper()
	if _, err := b.kv.Put(&api.KVPair{Key: key, Value: value}, nil); err != nil {
		t.Fatalf("consul Put(%q) = %v", key, err)
	}
	_, rev, ok := b.get(t, key)
	if !ok {
		t.Fatalf("consul Get(%q) right after Put: absent", key)
	}
	return rev
}

func (b *consulBackend) get(t testing.TB, key string) ([]byte, uint64, bool) {
	t.Helper()
	p, _, err := b.kv.Get(key, &api.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatalf("consul Get(%q) = %v", key, err)
	}
	if p == nil {
		return nil, 0, false
	}
	return p.Value, p.ModifyIndex, true
}

// natsBackend is an embedded NATS server with JetStream.
type natsBackend struct {
	srv *natstest.Server
	js  jetstream.JetStream
}

func newNATS(t testing.TB) *natsBackend {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	return &natsBackend{srv: srv, js: js}
}

// natsHistory is the history of a test bucket: enough to tell a put from a
// delete marker.
const natsHistory = 10

func (b *natsBackend) scope(t testing.TB, name string) scope {
	t.Helper()
	kv, err := b.js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: name, History: natsHistory})
	if err != nil {
		t.Fatalf("CreateKeyValue(%q) = %v", name, err)
	}
	return &bucketScope{b: b, kv: kv, prefix: name + "/"}
}

// bucketScope is one NATS KV bucket. Its keys carry the bucket's name as a
// prefix too, so that every backend uses the same keys.
type bucketScope struct {
	b      *natsBackend
	kv     jetstream.KeyValue
	prefix string
}

func (b *natsBackend) addr() string { return strings.TrimPrefix(b.srv.URL(), "nats://") }

func (s *bucketScope) storeYAML(name, addr string) string {
	return fmt.Sprintf("  - name: %s\n    kind: nats\n    url: nats://%s\n    bucket: %s\n", name, addr, s.kv.Bucket())
}

func (s *bucketScope) key(suffix string) string { return s.prefix + suffix }

func (s *bucketScope) put(t testing.TB, key string, value []byte) uint64 {
	t.Helper()
	rev, err := s.kv.Put(t.Context(), key, value)
	if err != nil {
		t.Fatalf("nats Put(%q) = %v", key, err)
	}
	return rev
}

func (s *bucketScope) get(t testing.TB, key string) ([]byte, uint64, bool) {
	t.Helper()
	e, err := s.kv.Get(t.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, false
	}
	if err != nil {
		t.Fatalf("nats Get(%q) = %v", key, err)
	}
	if e.Operation() != jetstream.KeyValuePut {
		t.Fatalf("nats Get(%q) = a %v marker, want a value or not found", key, e.Operation())
	}
	return e.Value(), e.Revision(), true
}

// lastMessage returns the last stream message of key as stored, markers
// included.
func (s *bucketScope) lastMessage(t testing.TB, key string) *jetstream.RawStreamMsg {
	t.Helper()
	st, err := s.b.js.Stream(t.Context(), "KV_"+s.kv.Bucket())
	if err != nil {
		t.Fatalf("Stream(KV_%s) = %v", s.kv.Bucket(), err)
	}
	m, err := st.GetLastMsgForSubject(t.Context(), "$KV."+s.kv.Bucket()+"."+key)
	if err != nil {
		t.Fatalf("GetLastMsgForSubject(%q) = %v", key, err)
	}
	return m
}
