package natskv_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores/natskv"
)

// The suite shares one in-process server with JetStream; every store gets a
// bucket of its own. Tests that restart a server start their own.
var (
	shared     *server.Server
	sharedDir  string
	sharedOnce sync.Once
	sharedErr  error
	bucketSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Shutdown()
		shared.WaitForShutdown()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// sharedURL returns the client URL of the suite's server, starting it on
// first use.
func sharedURL(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "natskv-test-")
		if sharedErr != nil {
			return
		}
		shared, sharedErr = startServer(sharedDir, -1)
		if sharedErr == nil {
			sharedErr = anchorAccountDir(shared.ClientURL())
		}
	})
	if sharedErr != nil {
		t.Fatalf("start shared server: %v", sharedErr)
	}
	return shared.ClientURL()
}

// anchorAccountDir creates a stream that lives as long as the server.
// nats-server v2.15.2 removes the account's empty streams directory in a
// goroutine after deleting its last stream (stream.go, deleteStream), which
// races with creating the next one: "could not create storage directory"
// (10049). Buckets come and go with every test; the anchor keeps the
// directory non-empty.
func anchorAccountDir(url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "ANCHOR", Subjects: []string{"anchor"}})
	return err
}

// startServer starts a JetStream server storing in dir on port (-1: any).
func startServer(dir string, port int) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     os.Getenv("NATSKV_LOG") == "",
		NoSigs:    true,
	})
	if err != nil {
		return nil, err
	}
	if os.Getenv("NATSKV_LOG") != "" {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("server on port %d not ready", port)
	}
	return s, nil
}

// runServer starts a server for one test and shuts it down at cleanup.
func runServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := startServer(dir, port)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connect opens a client connection closed at cleanup.
func connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
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
	nc, js := connect(t, sharedURL(t))
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
