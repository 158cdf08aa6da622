package etcd_test

import (
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkList10k lists 10,000 keys with a bare clientv3 range read
// (native) and with the driver's paginated, snapshot-consistent List
// (driver), so that the ratio between the two shows in one run.
func BenchmarkList10k(b *testing.B) {
	const n = 10_000
	s := newStore(b)
	cli := shared.Client(b)
	value := []byte(`{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`)
	ops := make([]clientv3.Op, 0, 128)
	for i := 0; i < n; i += cap(ops) {
		ops = ops[:0]
		for j := i; j < min(i+cap(ops), n); j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("bench/%05d", j), string(value)))
		}
		if _, err := cli.Txn(b.Context()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			resp, err := cli.Get(b.Context(), "bench/", clientv3.WithPrefix())
			if err != nil || len(resp.Kvs) != n {
				b.Fatalf("Get = %d keys, %v, want %d", len(resp.Kvs), err, n)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			list, err := s.List(b.Context(), "bench/")
			if err != nil || len(list) != n {
				b.Fatalf("List = %d keys, %v, want %d", len(list), err, n)
			}
		}
	})
}
