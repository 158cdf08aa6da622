package natskv_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// lagCluster is a three-server JetStream cluster whose routes run through
// lagProxy connections, one proxy per ordered pair of servers, so that the
// traffic from one server to another can be slowed down: a lagging
// follower, as a loaded server or a slow link makes one.
type lagCluster struct {
	servers []*server.Server
	// links[i][j] carries what server i sends to server j, whichever of
	// the two dialed the route.
	links [][]*lagLink
}

// startLagCluster starts the cluster and waits until it can place an R3
// stream. Routes are not pooled (one connection per pair), servers do not
// advertise a reachable route address (so that no server learns another's
// real port by gossip and bypasses the proxies), nor their client URLs (so
// that a client stays on the server it was given).
func startLagCluster(t *testing.T) *lagCluster {
	t.Helper()
	const n = 3
	c := &lagCluster{servers: make([]*server.Server, n), links: make([][]*lagLink, n)}
	ports := make([]int, n)
	for i := range n {
		ports[i] = freePort(t)
		c.links[i] = make([]*lagLink, n)
		for j := range n {
			c.links[i][j] = &lagLink{}
		}
	}
	nowhere := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				p := startLagProxy(t, fmt.Sprintf("127.0.0.1:%d", ports[j]), c.links[i][j], c.links[j][i])
				routes = append(routes, "nats-route://"+p.addr())
			}
		}
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster: server.ClusterOpts{
				Name:        "lag",
				Host:        "127.0.0.1",
				Port:        ports[i],
				Advertise:   nowhere,
				NoAdvertise: true,
				PoolSize:    -1,
			},
			Routes: server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("server %s: %v", o.ServerName, err)
		}
		go s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		if !s.ReadyForConnections(natstest.StartTimeout) {
			t.Fatalf("server %s not ready after %v", o.ServerName, natstest.StartTimeout)
		}
		c.servers[i] = s
	}
	_, js := c.connect(t, 0)
	probe := jetstream.StreamConfig{Name: "LAG_PROBE", Subjects: []string{"_lag.probe"}, Replicas: n}
	deadline := time.Now().Add(natstest.StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, err := js.CreateStream(ctx, probe)
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster cannot place an R%d stream after %v: %v", n, natstest.StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connect connects to server i directly, closed when t ends.
func (c *lagCluster) connect(t testing.TB, i int, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return c.connectURL(t, c.servers[i].ClientURL(), opts...)
}

func (c *lagCluster) connectURL(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
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

// name returns server i's name.
func (c *lagCluster) name(i int) string { return c.servers[i].Name() }

// metaLeader returns the index of the meta leader, -1 when there is none.
func (c *lagCluster) metaLeader() int {
	return slices.IndexFunc(c.servers, (*server.Server).JetStreamIsLeader)
}

// streamLeader returns the index of stream's leader, -1 when there is none.
func (c *lagCluster) streamLeader(stream string) int {
	return slices.IndexFunc(c.servers, func(s *server.Server) bool {
		return s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream)
	})
}

// current reports whether every server's replica of stream is current.
func (c *lagCluster) current(stream string) bool {
	for _, s := range c.servers {
		if !s.JetStreamIsStreamCurrent(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return false
		}
	}
	return true
}

// consumers returns the names of the consumers of stream that server i
// runs. An R1 consumer (every ordered consumer) runs on one server only, so
// this tells where a watch or a listing reads from.
func (c *lagCluster) consumers(i int, stream string) ([]string, error) {
	info, err := c.servers[i].Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
	if err != nil {
		return nil, fmt.Errorf("Jsz on %s: %w", c.name(i), err)
	}
	var names []string
	for _, a := range info.AccountDetails {
		for _, sd := range a.Streams {
			if sd.Name != stream {
				continue
			}
			for _, ci := range sd.Consumer {
				names = append(names, ci.Name)
			}
		}
	}
	return names, nil
}

// lagRoles arranges, for the R3 stream, a meta leader M, a different stream
// leader L and the third server P, and returns their indexes. The test
// slows only the traffic from L to P, so that P, a follower of the stream,
// applies each write late while everything a client on M does (requests
// to L, consumers created through M's meta leadership, deliveries from P)
// goes through links that are not slowed.
func (c *lagCluster) lagRoles(t *testing.T, stream string) (m, l, p int) {
	t.Helper()
	for range 20 {
		var err error
		if err = waitFor(natstest.StartTimeout, func() bool {
			m, l = c.metaLeader(), c.streamLeader(stream)
			return m >= 0 && l >= 0 && c.current(stream)
		}); err != nil {
			t.Fatalf("no meta and stream leaders with current replicas: %v", err)
		}
		if m != l {
			return m, l, 3 - m - l
		}
		if err := c.servers[l].JetStreamStepdownStream(server.DEFAULT_GLOBAL_ACCOUNT, stream); err != nil {
			t.Logf("stream leader step-down on %s: %v", c.name(l), err)
		}
		// Let the new election settle before looking again.
		_ = waitFor(10*time.Second, func() bool {
			nl := c.streamLeader(stream)
			return nl >= 0 && nl != l
		})
	}
	t.Fatalf("stream %s stays led by the meta leader %s", stream, c.name(m))
	return
}
