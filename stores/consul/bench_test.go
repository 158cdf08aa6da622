package consul_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores/consul"
)

// BenchmarkList10k lists 10,000 lease-sized keys: the api client's own
// KV().List as the baseline, and the driver's List (the same single GET plus
// conversion and the sort check) against it.
func BenchmarkList10k(b *testing.B) {
	const n, batch = 10_000, 64 // 64: the agent's limit of operations per transaction
	a := sharedAgent(b)
	wipe(b, a)
	client := apiClient(b, a, "", nil)
	value := []byte(`{"holder_id":"export-worker-17.prod","acquired_at_unix":1800000000,"expires_at_unix":1800000060}`)
	for i := 0; i < n; i += batch {
		var ops api.TxnOps
		for j := i; j < min(i+batch, n); j++ {
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: fmt.Sprintf("bench/%05d", j), Value: value}})
		}
		ok, resp, _, err := client.Txn().Txn(ops, nil)
		if err != nil || !ok {
			b.Fatalf("Txn(plant %d..) = %v, %v, %+v", i, ok, err, resp)
		}
	}
	s, err := consul.New(apiConfig(b, a, "", nil))
	if err != nil {
		b.Fatal(err)
	}

	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			pairs, _, err := client.KV().List("bench/", nil)
			if err != nil || len(pairs) != n {
				b.Fatalf("KV().List() = %d pairs, %v, want %d", len(pairs), err, n)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			list, err := s.List(b.Context(), "bench/")
			if err != nil || len(list) != n {
				b.Fatalf("List() = %d entries, %v, want %d", len(list), err, n)
			}
		}
	})
}
