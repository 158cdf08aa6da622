//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/leasectl/leasectl/stores/consul/consultest"
	"github.com/leasectl/leasectl/stores/etcd/etcdtest"
	"github.com/leasectl/leasectl/stores/natskv/natstest"
)

// Seeding: the stores' own clients, batched and a few batches in flight.
const (
	// etcdBatch is etcd's default --max-txn-ops.
	etcdBatch = 128
	// consulBatch is the most operations Consul accepts in one /v1/txn.
	consulBatch = 64
	// natsBatch is how many asynchronous publishes may wait for their acks.
	natsBatch = 4096
	// seedWorkers is how many batches are in flight at once (etcd, Consul).
	seedWorkers = 4
	// bucket is the NATS KV bucket of the fleet; natsHistory its History,
	// the one the tests and leasectl's Dial use.
	bucket      = "exports"
	natsHistory = 10
)

// store is one real store with the fleet in it: how leasectl's config names
// it, how to write to it with its own client, and its own listing tools.
type store struct {
	name string
	// yaml is the store's entry in a leasectl config (a YAML list item).
	yaml string
	// seed writes leases [from, to) with the store's own client, in
	// batches.
	seed func(ctx context.Context, from, to int, now int64) error
	// put writes one value with the store's own client.
	put func(ctx context.Context, key string, value []byte) error
	// natives are the store's own listing tools, the baselines.
	natives []native
}

// native is a baseline listing command of a store.
type native struct {
	label string
	argv  []string
	env   []string
	// count is what the output holds once per lease: the check that the
	// tool listed every lease.
	count string
}

// servers are the three running servers and their clients.
type servers struct {
	etcd   *etcdtest.Server
	etcdc  *clientv3.Client
	nats   *natstest.Server
	nc     *nats.Conn
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	consul *consultest.Agent
	ckv    *api.KV
	caddr  string
}

// startServers starts etcd and NATS in this process and a Consul agent as a
// child, and creates the NATS bucket.
func startServers(ctx context.Context) (*servers, error) {
	s := &servers{}
	var err error
	if s.etcd, err = etcdtest.New(); err != nil {
		return nil, err
	}
	if s.etcdc, err = clientv3.New(clientv3.Config{Endpoints: s.etcd.Endpoints(), DialTimeout: etcdtest.StartTimeout, Logger: zap.NewNop()}); err != nil {
		s.close()
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	if s.nats, err = natstest.New(); err != nil {
		s.close()
		return nil, err
	}
	if s.nc, err = nats.Connect(s.nats.URL()); err != nil {
		s.close()
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	if s.js, err = jetstream.New(s.nc, jetstream.WithPublishAsyncMaxPending(natsBatch)); err != nil {
		s.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if s.kv, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: natsHistory}); err != nil {
		s.close()
		return nil, fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if s.consul, err = consultest.New(ctx); err != nil {
		s.close()
		return nil, err
	}
	s.caddr = s.consul.Addr()
	c, err := api.NewClient(s.consul.Config())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("consul client: %w", err)
	}
	s.ckv = c.KV()
	return s, nil
}

func (s *servers) close() {
	if s.consul != nil {
		s.consul.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.nats != nil {
		s.nats.Close()
	}
	if s.etcdc != nil {
		s.etcdc.Close()
	}
	if s.etcd != nil {
		s.etcd.Close()
	}
}

// tools are the paths of the baseline programs.
type tools struct {
	etcdctl, consul, curl, httpget, natswatch string
}

// stores returns the three stores, each with its baselines.
func (s *servers) stores(t tools, env []string) []*store {
	etcdAddr := s.etcd.Endpoints()[0]
	cenv := append(append([]string(nil), env...), "CONSUL_HTTP_ADDR="+s.caddr)
	raw := native{label: "raw HTTP GET /v1/kv/" + keyPrefix + "?recurse (curl)", argv: []string{t.curl, "-sS", "--fail", "http://" + s.caddr + "/v1/kv/" + keyPrefix + "?recurse"}, count: `"Key":`}
	if t.curl == "" {
		raw = native{label: "raw HTTP GET /v1/kv/" + keyPrefix + "?recurse (Go net/http)", argv: []string{t.httpget, "http://" + s.caddr + "/v1/kv/" + keyPrefix + "?recurse"}, count: `"Key":`}
	}
	raw.env = env
	consulNatives := []native{
		{label: "consul kv export " + keyPrefix, argv: []string{t.consul, "kv", "export", keyPrefix}, env: cenv, count: `"key":`},
		raw,
	}
	if t.curl != "" {
		// The same listing with gzip, as Go's HTTP client (Consul's api
		// package, and so leasectl and consul kv export) asks for it.
		consulNatives = append(consulNatives, native{label: "raw HTTP GET /v1/kv/" + keyPrefix + "?recurse, gzip (curl --compressed)", argv: []string{t.curl, "-sS", "--fail", "--compressed", "http://" + s.caddr + "/v1/kv/" + keyPrefix + "?recurse"}, env: env, count: `"Key":`})
	}
	return []*store{
		{
			name: "etcd",
			yaml: fmt.Sprintf("  - name: etcd\n    kind: etcd\n    endpoints: [%s]\n    prefix: %s\n", etcdAddr, keyPrefix),
			seed: s.seedEtcd,
			put: func(ctx context.Context, k string, v []byte) error {
				_, err := s.etcdc.Put(ctx, k, string(v))
				return err
			},
			natives: []native{{label: "etcdctl get --prefix " + keyPrefix + " -w json", argv: []string{t.etcdctl, "--endpoints=" + etcdAddr, "get", "--prefix", keyPrefix, "-w", "json"}, env: append(append([]string(nil), env...), "ETCDCTL_API=3"), count: `"key":`}},
		},
		{
			name: "consul",
			yaml: fmt.Sprintf("  - name: consul\n    kind: consul\n    address: %s\n    prefix: %s\n", s.caddr, keyPrefix),
			seed: s.seedConsul,
			put: func(_ context.Context, k string, v []byte) error {
				_, err := s.ckv.Put(&api.KVPair{Key: k, Value: v}, nil)
				return err
			},
			natives: consulNatives,
		},
		{
			name: "nats",
			yaml: fmt.Sprintf("  - name: nats\n    kind: nats\n    url: %s\n    bucket: %s\n", s.nats.URL(), bucket),
			seed: s.seedNATS,
			put: func(ctx context.Context, k string, v []byte) error {
				_, err := s.kv.Put(ctx, k, v)
				return err
			},
			natives: []native{{label: "natswatch (nats.go KeyValue.WatchAll → JSON lines)", argv: []string{t.natswatch, "-url", s.nats.URL(), "-bucket", bucket}, env: env, count: "\n"}},
		},
	}
}

// parallel runs batch for [from, to) in batches of size, seedWorkers at a
// time, and returns the first error.
func parallel(from, to, size int, batch func(lo, hi int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = from
	)
	for range seedWorkers {
		wg.Go(func() {
			for {
				mu.Lock()
				lo := next
				next = min(next+size, to)
				hi := next
				failed := len(errs) > 0
				mu.Unlock()
				if lo >= to || failed {
					return
				}
				if err := batch(lo, hi); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *servers) seedEtcd(ctx context.Context, from, to int, now int64) error {
	return parallel(from, to, etcdBatch, func(lo, hi int) error {
		ops := make([]clientv3.Op, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ops = append(ops, clientv3.OpPut(key(i), string(value(i, 0, now))))
		}
		if _, err := s.etcdc.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("etcd txn [%d,%d): %w", lo, hi, err)
		}
		return nil
	})
}

func (s *servers) seedConsul(_ context.Context, from, to int, now int64) error {
	return parallel(from, to, consulBatch, func(lo, hi int) error {
		ops := make(api.KVTxnOps, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ops = append(ops, &api.KVTxnOp{Verb: api.KVSet, Key: key(i), Value: value(i, 0, now)})
		}
		ok, resp, _, err := s.ckv.Txn(ops, nil)
		if err != nil {
			return fmt.Errorf("consul txn [%d,%d): %w", lo, hi, err)
		}
		if !ok {
			return fmt.Errorf("consul txn [%d,%d) rolled back: %v", lo, hi, resp.Errors)
		}
		return nil
	})
}

// seedNATS publishes asynchronously, natsBatch acks outstanding at most.
func (s *servers) seedNATS(ctx context.Context, from, to int, now int64) error {
	subject := "$KV." + bucket + "."
	for lo := from; lo < to; lo += natsBatch {
		hi := min(lo+natsBatch, to)
		futures := make([]jetstream.PubAckFuture, 0, hi-lo)
		for i := lo; i < hi; i++ {
			f, err := s.js.PublishAsync(subject+key(i), value(i, 0, now))
			if err != nil {
				return fmt.Errorf("nats publish %s: %w", key(i), err)
			}
			futures = append(futures, f)
		}
		select {
		case <-s.js.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return fmt.Errorf("nats: %d publishes not acknowledged within a minute", s.js.PublishAsyncPending())
		}
		for _, f := range futures {
			select {
			case err := <-f.Err():
				return fmt.Errorf("nats publish %s: %w", strings.TrimPrefix(f.Msg().Subject, subject), err)
			default:
			}
		}
	}
	return nil
}
