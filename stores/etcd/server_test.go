package etcd_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
)

// sharedEtcd is the embedded etcd that most tests use (shared), started by
// the first of them.
var sharedEtcd etcdtest.Shared

// shared returns the shared server.
func shared(t testing.TB) *etcdtest.Server {
	t.Helper()
	return sharedEtcd.Get(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedEtcd.Close()
	os.Exit(code)
}

// stoppedServer returns a server that has been started and stopped: nothing
// listens at its endpoint, so dialling it is refused.
func stoppedServer(t testing.TB) *etcdtest.Server {
	t.Helper()
	srv := etcdtest.Start(t)
	srv.Stop()
	return srv
}

// newStore returns a store on the shared server with every key deleted.
func newStore(t testing.TB, opts ...etcd.Option) *etcd.Store {
	t.Helper()
	cli := shared(t).Client(t)
	wipe(t, cli)
	s, err := etcd.New(cli, opts...)
	if err != nil {
		t.Fatalf("etcd.New() = %v", err)
	}
	return s
}

// wipe deletes every key on cli's cluster.
func wipe(t testing.TB, cli *clientv3.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, "\x00", clientv3.WithFromKey()); err != nil {
		t.Fatalf("delete every key = %v", err)
	}
}

// callCounter counts the unary gRPC calls (round trips, retries included)
// a client makes.
type callCounter struct {
	n atomic.Int64
}

func (c *callCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.n.Add(1)
	return invoker(ctx, method, req, reply, cc, opts...)
}

// option is the dial option that installs the counter. Chained, it keeps
// clientv3's own retry interceptor in place.
func (c *callCounter) option() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(c.intercept)
}

// calls runs fn and returns how many unary calls it made.
func (c *callCounter) calls(fn func()) int64 {
	before := c.n.Load()
	fn()
	return c.n.Load() - before
}

// countedStore returns a store on the shared server (wiped) and the counter
// of its client's calls.
func countedStore(t testing.TB) (*etcd.Store, *callCounter) {
	t.Helper()
	counter := &callCounter{}
	cli := shared(t).Client(t, counter.option())
	wipe(t, cli)
	s, err := etcd.New(cli)
	if err != nil {
		t.Fatalf("etcd.New() = %v", err)
	}
	return s, counter
}

// sentinels are the store errors that a connection failure must not match.
var sentinels = []error{stores.ErrNotFound, stores.ErrExists, stores.ErrConflict, stores.ErrInvalidKey, stores.ErrReadOnly}

// matchesSentinel returns the stores sentinel err matches, if any.
func matchesSentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
