package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
)

// startTimeout bounds an embedded server's start; generous for -race on a
// busy machine.
const startTimeout = time.Minute

// shared is the embedded etcd that most tests use, started by TestMain.
var shared *server

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "leasectl-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ports, err := freePorts()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared, err = launch(serverConfig{dir: dir, ports: ports})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.e.Close()
	return m.Run()
}

// server is one embedded etcd member.
type server struct {
	e        *embed.Etcd
	cfg      serverConfig
	endpoint string // client URL
}

// serverConfig is what a test varies about a server.
type serverConfig struct {
	dir   string
	ports [2]int // client, peer
	tls   *transport.TLSInfo
}

// freePorts picks a client and a peer port on loopback. A fixed pair (rather
// than port 0) lets a restarted server come back at the same address.
func freePorts() ([2]int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return ports, nil
}

// launch starts a single-member server on loopback and waits until it
// serves. Started again on the same dir and ports, it resumes its data.
func launch(sc serverConfig) (*server, error) {
	scheme := "http"
	if sc.tls != nil {
		scheme = "https"
	}
	client := url.URL{Scheme: scheme, Host: fmt.Sprintf("127.0.0.1:%d", sc.ports[0])}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", sc.ports[1])}

	cfg := embed.NewConfig()
	cfg.Name = "leasectl-test"
	cfg.Dir = sc.dir
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.BcryptCost = 4 // bcrypt.MinCost: password checks in milliseconds under -race
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	if sc.tls != nil {
		cfg.ClientTLSInfo = *sc.tls
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd in %s: %w", sc.dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: %w", sc.dir, err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: not ready after %v", sc.dir, startTimeout)
	}
	return &server{e: e, cfg: sc, endpoint: client.String()}, nil
}

// startServer starts a server of the test's own, closed when the test ends.
func startServer(t testing.TB, tls *transport.TLSInfo) *server {
	t.Helper()
	ports, err := freePorts()
	if err != nil {
		t.Fatalf("freePorts() = %v", err)
	}
	srv, err := launch(serverConfig{dir: t.TempDir(), ports: ports, tls: tls})
	if err != nil {
		t.Fatalf("launch() = %v", err)
	}
	t.Cleanup(srv.e.Close)
	return srv
}

// newClient dials srv with a plain client, closed when the test ends.
func newClient(t testing.TB, srv *server, opts ...grpc.DialOption) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{srv.endpoint},
		DialOptions: opts,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("clientv3.New(%s) = %v", srv.endpoint, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// newStore returns a store on the shared server with every key deleted.
func newStore(t testing.TB, opts ...etcd.Option) *etcd.Store {
	t.Helper()
	cli := newClient(t, shared)
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
	cli := newClient(t, shared, counter.option())
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
