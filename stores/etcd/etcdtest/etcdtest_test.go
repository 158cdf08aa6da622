package etcdtest_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/internal/leakcheck"
	"github.com/leasectl/leasectl/internal/testpki"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
)

func put(t *testing.T, cli *clientv3.Client, key, value string) int64 {
	t.Helper()
	resp, err := cli.Put(t.Context(), key, value)
	if err != nil {
		t.Fatalf("Put(%q) = %v", key, err)
	}
	return resp.Header.Revision
}

func get(t *testing.T, cli *clientv3.Client, key string) (string, int64) {
	t.Helper()
	resp, err := cli.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("Get(%q) = %d keys, want 1", key, len(resp.Kvs))
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
}

func TestStart(t *testing.T) {
	srv := etcdtest.Start(t)
	eps := srv.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") {
		t.Fatalf("Endpoints() = %v, want one http://127.0.0.1 URL", eps)
	}
	cli := srv.Client(t)
	rev := put(t, cli, "exports/orders", "v1")
	if v, mod := get(t, cli, "exports/orders"); v != "v1" || mod != rev {
		t.Errorf("Get = %q at %d, want v1 at %d", v, mod, rev)
	}
	other := etcdtest.Start(t)
	if other.Endpoints()[0] == eps[0] {
		t.Errorf("two servers share the endpoint %s", eps[0])
	}
	if resp, err := other.Client(t).Get(t.Context(), "exports/orders"); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("a second server sees the first one's keys: %v, %v", resp, err)
	}
}

func TestRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	before := srv.Endpoints()
	cli := srv.Client(t)
	rev := put(t, cli, "k", "kept")

	srv.Stop()
	srv.Stop() // idempotent
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(before[0], "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s after Stop succeeded, want refused", before[0])
	}

	srv.Restart(t)
	if after := srv.Endpoints(); after[0] != before[0] {
		t.Errorf("Endpoints() after Restart = %v, want %v", after, before)
	}
	// The client made before the restart reconnects to the same address.
	if v, mod := get(t, cli, "k"); v != "kept" || mod != rev {
		t.Errorf("Get(k) after Restart = %q at %d, want kept at %d", v, mod, rev)
	}
	srv.Restart(t) // restarting a running server works too
	if v, _ := get(t, srv.Client(t), "k"); v != "kept" {
		t.Errorf("Get(k) after a second Restart = %q, want kept", v)
	}
}

func TestNewClose(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := etcdtest.New()
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: etcdtest.StartTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(t.Context(), "k", "v"); err != nil {
		t.Errorf("Put on a New server = %v", err)
	}
	cli.Close()
	srv.Close()
	srv.Close() // idempotent
	if _, err := os.Stat(srv.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%s) after Close = %v, want the data directory removed", srv.Dir(), err)
	}
	leakcheck.Goroutines(t, before)
}

func TestTLS(t *testing.T) {
	ca := testpki.New(t)
	server := ca.Issue(t, "etcd", testpki.ServerAuth)
	client := ca.Issue(t, "client", testpki.ClientAuth)
	srv := etcdtest.Start(t, etcdtest.WithTLS(transport.TLSInfo{
		CertFile:       server.CertFile,
		KeyFile:        server.KeyFile,
		TrustedCAFile:  ca.CAFile,
		ClientCertFile: client.CertFile,
		ClientKeyFile:  client.KeyFile,
		ClientCertAuth: true,
	}))
	if ep := srv.Endpoints()[0]; !strings.HasPrefix(ep, "https://") {
		t.Errorf("Endpoints() = %s, want https", ep)
	}
	cli := srv.Client(t)
	put(t, cli, "tls", "yes")
	if v, _ := get(t, cli, "tls"); v != "yes" {
		t.Errorf("Get(tls) = %q, want yes", v)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  etcdtest.Option
		want string
	}{
		{"tls without cert", etcdtest.WithTLS(transport.TLSInfo{TrustedCAFile: "ca.pem"}), "CertFile"},
		{"nil logger", etcdtest.WithLogger(nil), "nil logger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := etcdtest.New(tc.opt)
			if err == nil {
				srv.Close()
				t.Fatalf("New(%s) = nil error, want %q", tc.name, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "etcdtest: ") || strings.Count(err.Error(), "etcdtest:") != 1 {
				t.Errorf("New(%s) = %q, want an etcdtest error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}
