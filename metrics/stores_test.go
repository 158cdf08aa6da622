package metrics

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
	"github.com/leasectl/leasectl/stores/consul/consultest"
	"github.com/leasectl/leasectl/stores/etcd"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// sharedEtcd is the embedded etcd of the tests, started by the first test
// that needs it.
var sharedEtcd etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	sharedEtcd.Close()
	os.Exit(code)
}

// etcdOpen opens a store on the etcd at endpoints, as config.Open does.
func etcdOpen(endpoints []string) func(context.Context) (stores.Store, func() error, error) {
	return func(ctx context.Context) (stores.Store, func() error, error) {
		st, err := etcd.Dial(ctx, etcd.Config{Endpoints: endpoints})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
}

// natsOpen opens the bucket on the NATS server at url, as config.Open
// does (the bucket exists).
func natsOpen(url, bucket string) func(context.Context) (stores.Store, func() error, error) {
	return func(ctx context.Context) (stores.Store, func() error, error) {
		st, err := natskv.Dial(ctx, natskv.Config{URL: url, Bucket: bucket})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
}

// planted opens a store with open for the test and plants the fleet.
func planted(t *testing.T, open func(context.Context) (stores.Store, func() error, error), prefix string, f fleet) {
	t.Helper()
	st, closeFn, err := open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { closeFn() })
	plant(t, st, f.records(prefix))
}

func TestEtcd(t *testing.T) {
	open := etcdOpen(sharedEtcd.Get(t).Endpoints())
	prefix := fmt.Sprintf("metrics-test/%d/", time.Now().UnixNano())
	f := fleet{now: time.Now()}
	planted(t, open, prefix, f)
	c := start(t, []Store{{Name: "etcd", Prefix: prefix, PerLease: true, Open: open}})
	s := waitScrape(t, c, "the store up", up("etcd"))
	checkFleet(t, s, "etcd", prefix, f, true)
}

func TestNATS(t *testing.T) {
	srv := natstest.Start(t)
	st, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.URL(), Bucket: "leases", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	open := natsOpen(srv.URL(), "leases")
	f := fleet{now: time.Now()}
	planted(t, open, "exports.", f)
	c := start(t, []Store{{Name: "nats", Prefix: "exports.", PerLease: true, Open: open}})
	s := waitScrape(t, c, "the store up", up("nats"))
	checkFleet(t, s, "nats", "exports.", f, true)
}

// TestConsul: over a real Consul agent, whose watch is blocking queries.
func TestConsul(t *testing.T) {
	agent := consultest.Start(t)
	open := func(ctx context.Context) (stores.Store, func() error, error) {
		st, err := consul.Dial(ctx, consul.Config{Address: agent.Addr()})
		if err != nil {
			return nil, nil, err
		}
		return st, nil, nil
	}
	f := fleet{now: time.Now()}
	planted(t, func(ctx context.Context) (stores.Store, func() error, error) {
		st, _, err := open(ctx)
		return st, func() error { return nil }, err
	}, "exports/", f)
	c := start(t, []Store{{Name: "consul", Prefix: "exports/", PerLease: true, Open: open}})
	s := waitScrape(t, c, "the store up", up("consul"))
	checkFleet(t, s, "consul", "exports/", f, true)
}

// TestRestart: a store whose server goes away is reported down, with a
// growing data age and its failures counted, while its last leases stay;
// once the server is back, the store is current again. On NATS, whose
// watch resumes without a word, the collector restarts the watch to learn
// that.
func TestRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T) (open func(context.Context) (stores.Store, func() error, error), stop, restart func())
	}{
		{"etcd", func(t *testing.T) (func(context.Context) (stores.Store, func() error, error), func(), func()) {
			srv := etcdtest.Start(t)
			return etcdOpen(srv.Endpoints()), srv.Stop, func() { srv.Restart(t) }
		}},
		{"nats", func(t *testing.T) (func(context.Context) (stores.Store, func() error, error), func(), func()) {
			srv := natstest.Start(t)
			st, err := natskv.Dial(t.Context(), natskv.Config{URL: srv.URL(), Bucket: "leases", Create: true})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			return natsOpen(srv.URL(), "leases"), srv.Stop, func() { srv.Restart(t) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, stop, restart := tc.prepare(t)
			f := fleet{now: time.Now()}
			planted(t, open, "", f)
			c := start(t, []Store{{Name: "s", PerLease: true, Open: open}}, WithPollInterval(time.Second), WithLog(func(s string) { t.Log(s) }))
			waitScrape(t, c, "the store up", up("s"))
			stop()
			s := waitScrape(t, c, "the store down", func(s map[string]float64) bool {
				return s[`leasectl_store_up{store="s"}`] == 0 && s[`leasectl_store_data_age_seconds{store="s"}`] > 0
			})
			want(t, s, map[string]float64{`leasectl_leases{state="expired",store="s"}`: 3, `leasectl_lease_overdue{key="overdue",store="s"}`: 1})
			if s[`leasectl_store_errors_total{store="s"}`] < 1 {
				t.Errorf("no failure counted:\n%s", dump(s))
			}
			restart()
			s = waitScrape(t, c, "the store up again", up("s"))
			checkFleet(t, s, "s", "", f, true)
			t.Logf("failures counted: %g", s[`leasectl_store_errors_total{store="s"}`])
		})
	}
}
