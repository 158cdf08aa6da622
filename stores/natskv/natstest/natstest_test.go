package natstest_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/internal/leakcheck"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

func createBucket(t *testing.T, js jetstream.JetStream, name string) jetstream.KeyValue {
	t.Helper()
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: name})
	if err != nil {
		t.Fatalf("CreateKeyValue(%q) = %v", name, err)
	}
	return kv
}

func TestStart(t *testing.T) {
	srv := natstest.Start(t)
	if !strings.HasPrefix(srv.URL(), "nats://127.0.0.1:") {
		t.Errorf("URL() = %q, want nats://127.0.0.1:PORT", srv.URL())
	}
	_, js := srv.Connect(t)
	kv := createBucket(t, js, "leases")
	rev, err := kv.Put(t.Context(), "exports/orders", []byte("v1"))
	if err != nil {
		t.Fatalf("Put = %v", err)
	}
	e, err := kv.Get(t.Context(), "exports/orders")
	if err != nil || string(e.Value()) != "v1" || e.Revision() != rev {
		t.Errorf("Get = %v, %v; want v1 at %d", e, err, rev)
	}

	other := natstest.Start(t)
	if other.URL() == srv.URL() {
		t.Errorf("two servers share the URL %s", srv.URL())
	}
	_, ojs := other.Connect(t)
	if _, err := ojs.KeyValue(t.Context(), "leases"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("KeyValue(leases) on a second server = %v, want ErrBucketNotFound", err)
	}
}

func TestAnchor(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []natstest.Option
		want []string
	}{
		{"default", nil, []string{natstest.Anchor}},
		{"without", []natstest.Option{natstest.WithoutAnchor()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, js := natstest.Start(t, tc.opts...).Connect(t)
			var got []string
			names := js.StreamNames(t.Context())
			for n := range names.Name() {
				got = append(got, n)
			}
			if err := names.Err(); err != nil {
				t.Fatalf("StreamNames = %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("streams = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBucketChurn creates and deletes buckets back to back, the pattern
// that the anchor stream keeps from failing with "could not create storage
// directory".
func TestBucketChurn(t *testing.T) {
	_, js := natstest.Start(t).Connect(t)
	for i := range 20 {
		name := fmt.Sprintf("churn%d", i)
		kv := createBucket(t, js, name)
		if _, err := kv.Put(t.Context(), "k", []byte("v")); err != nil {
			t.Fatalf("Put in %s = %v", name, err)
		}
		if err := js.DeleteKeyValue(t.Context(), name); err != nil {
			t.Fatalf("DeleteKeyValue(%q) = %v", name, err)
		}
	}
}

func TestRestart(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	_, js := srv.Connect(t)
	kv := createBucket(t, js, "leases")
	rev, err := kv.Put(t.Context(), "k", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	srv.Stop() // idempotent
	if nc, err := nats.Connect(url, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatalf("connect %s after Stop succeeded, want refused", url)
	}

	srv.Restart(t)
	if srv.URL() != url {
		t.Errorf("URL() after Restart = %s, want %s", srv.URL(), url)
	}
	_, js2 := srv.Connect(t)
	kv2, err := js2.KeyValue(t.Context(), "leases")
	if err != nil {
		t.Fatalf("KeyValue(leases) after Restart = %v", err)
	}
	if e, err := kv2.Get(t.Context(), "k"); err != nil || string(e.Value()) != "kept" || e.Revision() != rev {
		t.Errorf("Get(k) after Restart = %v, %v; want kept at %d", e, err, rev)
	}
	// The bucket can be churned after a restart too: the anchor survived.
	if err := js2.DeleteKeyValue(t.Context(), "leases"); err != nil {
		t.Fatal(err)
	}
	createBucket(t, js2, "again")
}

func TestWithServerOptions(t *testing.T) {
	srv := natstest.Start(t,
		natstest.WithServerOptions(func(o *server.Options) { o.Authorization = "s3cret" }),
		natstest.WithClientOptions(nats.Token("s3cret")))
	if nc, err := nats.Connect(srv.URL(), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connect without the token succeeded, want an authorization error")
	}
	_, js := srv.Connect(t)
	if _, err := js.Stream(t.Context(), natstest.Anchor); err != nil {
		t.Errorf("Stream(%s) on a server with a token = %v", natstest.Anchor, err)
	}
}

func TestNewClose(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := natstest.New()
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request("$JS.API.INFO", nil, 10*time.Second); err != nil {
		t.Errorf("JetStream info on a New server = %v", err)
	}
	nc.Close()
	srv.Close()
	srv.Close() // idempotent
	if _, err := os.Stat(srv.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%s) after Close = %v, want the store directory removed", srv.Dir(), err)
	}
	leakcheck.Goroutines(t, before)
}

func TestOptionErrors(t *testing.T) {
	srv, err := natstest.New(natstest.WithServerOptions(nil))
	if err == nil {
		srv.Close()
		t.Fatal("New(WithServerOptions(nil)) = nil error")
	}
	if !strings.HasPrefix(err.Error(), "natstest: ") || strings.Count(err.Error(), "natstest:") != 1 {
		t.Errorf("New(WithServerOptions(nil)) = %q, want a natstest error", err)
	}
}
