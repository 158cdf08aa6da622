package natskv_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// The suite shares one in-process server with JetStream; every store gets a
// bucket of its own. Tests that restart a server start their own.
var (
	shared     *natstest.Server
	sharedOnce sync.Once
	sharedErr  error
	bucketSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

// sharedServer returns the suite's server, starting it on first use.
func sharedServer(t testing.TB) *natstest.Server {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = natstest.New(serverOptions()...)
	})
	if sharedErr != nil {
		t.Fatalf("start shared server: %v", sharedErr)
	}
	return shared
}

// serverOptions are the options of every single server the tests start:
// with NATSKV_LOG set, the servers log to standard error.
func serverOptions() []natstest.Option {
	if os.Getenv("NATSKV_LOG") != "" {
		return []natstest.Option{natstest.WithLogging()}
	}
	return nil
}

// newBucket creates a fresh bucket keeping ten revisions per key and returns
// its handle.
func newBucket(t testing.TB, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	return newBucketConfig(t, js, jetstream.KeyValueConfig{History: 10})
}

// newBucketConfig creates a fresh bucket from cfg (its name is filled in)
// and deletes it at cleanup.
func newBucketConfig(t testing.TB, js jetstream.JetStream, cfg jetstream.KeyValueConfig) jetstream.KeyValue {
	t.Helper()
	cfg.Bucket = fmt.Sprintf("b%d", bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, cfg)
	if err != nil {
		t.Fatalf("CreateKeyValue(%q) = %v", cfg.Bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, cfg.Bucket) // the connection may be gone
	})
	return kv
}

// fixture is a store on a fresh bucket of the shared server, with its own
// connection so that its traffic can be counted.
type fixture struct {
	store *natskv.Store
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	nc, js := sharedServer(t).Connect(t)
	kv := newBucket(t, js)
	s, err := natskv.New(t.Context(), js, kv.Bucket())
	if err != nil {
		t.Fatalf("natskv.New(%q) = %v", kv.Bucket(), err)
	}
	return fixture{store: s, nc: nc, js: js, kv: kv}
}

// rawLast returns the last stream message of key in f's bucket, markers
// included, as it is stored.
func (f fixture) rawLast(t testing.TB, key string) *jetstream.RawStreamMsg {
	t.Helper()
	st, err := f.js.Stream(t.Context(), "KV_"+f.kv.Bucket())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	m, err := st.GetLastMsgForSubject(t.Context(), "$KV."+f.kv.Bucket()+"."+key)
	if err != nil {
		t.Fatalf("GetLastMsgForSubject(%q) = %v", key, err)
	}
	return m
}

// outMsgs returns how many messages nc has sent to the server so far: every
// request (publish with ack, direct get, consumer create) is one.
func outMsgs(nc *nats.Conn) uint64 {
	return nc.Stats().OutMsgs
}
