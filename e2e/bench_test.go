package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/nats-io/nats.go/jetstream"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/lease"
)

// benchLeases is how many leases the listing benchmark plants.
const benchLeases = 10_000

// BenchmarkLs10k times `leasectl ls -o json` (a whole process: start, config,
// dial, one listing, classification, JSON) over 10,000 leases next to the
// store's own plain listing of the same keys with its native client, in the
// same run, and `ls -o table` into a pipe. The ls/native and table/json
// ratios are reported as metrics (issue 9: the table no slower than the
// JSON).
func BenchmarkLs10k(b *testing.B) {
	for _, bk := range []struct {
		name string
		new  func(testing.TB) backend
	}{
		{"etcd", func(t testing.TB) backend { return newEtcd(t) }},
		{"consul", func(t testing.TB) backend { return newConsul(t) }},
		{"nats", func(t testing.TB) backend { return newNATS(t) }},
	} {
		b.Run(bk.name, func(b *testing.B) {
			be := bk.new(b)
			sc := be.scope(b, "bench")
			values := make(map[string][]byte, benchLeases)
			now := time.Now().Unix()
			for i := range benchLeases {
				values[sc.key(fmt.Sprintf("exports/fold-%05d", i))] = record(fmt.Sprintf("node-%d", i%7), now-int64(i%600), now+int64(i%900)-300)
			}
			start := time.Now()
			plant(b, sc, values)
			b.Logf("planted %d leases in %v", len(values), time.Since(start))
			conf := writeConfig(b, "audit_log: "+b.TempDir()+"/audit.jsonl\nstores:\n"+sc.storeYAML("s", be.addr()))

			native := timeIt(b, 5, func() int { return nativeList(b, sc) })
			ls := timeIt(b, 5, func() int {
				r := leasectl(b, "--config", conf, "ls", "-o", "json")
				if r.code != 0 {
					b.Fatalf("%v", r)
				}
				var out []json.RawMessage
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
					b.Fatal(err)
				}
				return len(out)
			})
			table := timeIt(b, 5, func() int {
				r := leasectl(b, "--config", conf, "ls")
				if r.code != 0 {
					b.Fatalf("%v", r)
				}
				return strings.Count(r.stdout, "\n") - 1 // the header
			})
			// The fixed cost of a process: start, config, dial, an empty listing.
			empty := timeIt(b, 5, func() int {
				r := leasectl(b, "--config", conf, "ls", "no-such-prefix/", "-o", "json")
				if r.code != 0 || r.stdout != "[]\n" {
					b.Fatalf("%v", r)
				}
				return benchLeases
			})
			b.ReportMetric(float64(empty.Microseconds())/1000, "ls-empty-ms")
			b.ReportMetric(float64(native.Microseconds())/1000, "native-ms")
			b.ReportMetric(float64(ls.Microseconds())/1000, "ls-ms")
			b.ReportMetric(float64(ls)/float64(native), "ls/native")
			b.ReportMetric(float64(table.Microseconds())/1000, "ls-table-ms")
			b.ReportMetric(float64(table)/float64(ls), "table/json")
			b.Logf("%s: native list %v, leasectl ls %v (%.2fx), -o table %v (%.2fx the JSON) for %d leases; ls of nothing %v",
				bk.name, native, ls, float64(ls)/float64(native), table, float64(table)/float64(ls), benchLeases, empty)
		})
	}
}

// timeIt runs f n times, checks it saw every lease, and returns the median.
func timeIt(b *testing.B, n int, f func() int) time.Duration {
	b.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if got := f(); got != benchLeases {
			b.Fatalf("listed %d leases, want %d", got, benchLeases)
		}
		ds[i] = time.Since(start)
	}
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j] < ds[i] {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
	return ds[n/2]
}

// plant writes values with the store's native client, batched.
func plant(b *testing.B, sc scope, values map[string][]byte) {
	b.Helper()
	ctx := context.Background()
	switch s := sc.(type) {
	case *prefixScope:
		switch be := s.b.(type) {
		case *etcdBackend:
			var ops []clientv3.Op
			flush := func() {
				if _, err := be.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					b.Fatal(err)
				}
				ops = ops[:0]
			}
			for k, v := range values {
				if ops = append(ops, clientv3.OpPut(k, string(v))); len(ops) == 128 {
					flush()
				}
			}
			if len(ops) > 0 {
				flush()
			}
		case *consulBackend:
			var ops api.KVTxnOps
			flush := func() {
				ok, resp, _, err := be.kv.Txn(ops, nil)
				if err != nil || !ok {
					b.Fatalf("consul txn: %v %v", err, resp)
				}
				ops = ops[:0]
			}
			for k, v := range values {
				if ops = append(ops, &api.KVTxnOp{Verb: api.KVSet, Key: k, Value: v}); len(ops) == 64 {
					flush()
				}
			}
			if len(ops) > 0 {
				flush()
			}
		}
	case *bucketScope:
		for k, v := range values {
			if _, err := s.kv.Put(ctx, k, v); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// nativeList lists the scope's keys with values through the native client,
// the way each ecosystem's own tooling does, and returns how many leases it
// decoded.
func nativeList(b *testing.B, sc scope) int {
	b.Helper()
	ctx := context.Background()
	n := 0
	count := func(v []byte) {
		if _, err := lease.Decode(v); err == nil {
			n++
		}
	}
	switch s := sc.(type) {
	case *prefixScope:
		switch be := s.b.(type) {
		case *etcdBackend:
			resp, err := be.cli.Get(ctx, s.prefix, clientv3.WithPrefix())
			if err != nil {
				b.Fatal(err)
			}
			for _, kv := range resp.Kvs {
				count(kv.Value)
			}
		case *consulBackend:
			pairs, _, err := be.kv.List(s.prefix, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range pairs {
				count(p.Value)
			}
		}
	case *bucketScope:
		w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		for e := range w.Updates() {
			if e == nil {
				break
			}
			count(e.Value())
		}
	}
	return n
}

// writeConfig writes a config file for the benchmark and returns its path.
func writeConfig(b *testing.B, conf string) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
