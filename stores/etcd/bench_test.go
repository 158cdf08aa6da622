package etcd_test

import (
	"fmt"
	"runtime"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/etcd"
)

// benchValue is a lease record padded to the size bench/scale seeds (about
// 200 bytes), so that the bytes a listing moves are realistic.
var benchValue = []byte(`{"holder_id":"node-017.fleet.example","acquired_at_unix":1718000000,"expires_at_unix":1718007200,"completed_cursor_hex":"00000000000000000000000000000000000000000000000000000000000a1b2c","completed_at_unix":1718000042}`)

// seed writes n keys bench/fold-NNN/export-NNNNNN on the shared server, in
// transactions of 128 puts.
func seed(b *testing.B, n int) {
	b.Helper()
	cli := shared(b).Client(b)
	ops := make([]clientv3.Op, 0, 128)
	for i := 0; i < n; i += cap(ops) {
		ops = ops[:0]
		for j := i; j < min(i+cap(ops), n); j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("bench/fold-%03d/export-%06d", j/100, j), string(benchValue)))
		}
		if _, err := cli.Txn(b.Context()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// perKey reports the time and the bytes allocated per key of one op over n
// keys; call the function it returns after the loop.
func perKey(b *testing.B, n int) func() {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	return func() {
		runtime.ReadMemStats(&ms)
		ops := float64(b.N) * float64(n)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops, "ns/key")
		b.ReportMetric(float64(ms.TotalAlloc-before)/ops, "B/key")
	}
}

// BenchmarkList10k lists 10,000 keys with a bare clientv3 range read
// (native) and with the driver's paginated, snapshot-consistent List
// (driver), so that the ratio between the two shows in one run.
func BenchmarkList10k(b *testing.B) {
	const n = 10_000
	s := newStore(b)
	cli := shared(b).Client(b)
	seed(b, n)

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

// BenchmarkScan100k lists the 100,000 keys of about 200 bytes: with
// one range read of them all, as etcdctl get --prefix does (native), with
// List and with Scan at several page sizes (the default is
// etcd.DefaultPageSize), and with Scan passing each entry to work that
// costs about what ls does per lease (scan-work: the next page is read
// meanwhile), so that the page size is chosen on measurements (FINDINGS §7).
func BenchmarkScan100k(b *testing.B) {
	const n = 100_000
	newStore(b) // wipes
	cli := shared(b).Client(b)
	seed(b, n)

	b.Run("native", func(b *testing.B) {
		report := perKey(b, n)
		for b.Loop() {
			resp, err := cli.Get(b.Context(), "bench/", clientv3.WithPrefix())
			if err != nil || len(resp.Kvs) != n {
				b.Fatalf("Get = %d keys, %v, want %d", len(resp.Kvs), err, n)
			}
		}
		report()
	})
	for _, page := range []int{1000, etcd.DefaultPageSize, 20_000, 100_000} {
		s, err := etcd.New(cli, etcd.WithPageSize(page))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("list/page-%d", page), func(b *testing.B) {
			report := perKey(b, n)
			for b.Loop() {
				list, err := s.List(b.Context(), "bench/")
				if err != nil || len(list) != n {
					b.Fatalf("List = %d keys, %v, want %d", len(list), err, n)
				}
			}
			report()
		})
		b.Run(fmt.Sprintf("scan/page-%d", page), func(b *testing.B) {
			report := perKey(b, n)
			for b.Loop() {
				got := 0
				err := s.Scan(b.Context(), "bench/", func(stores.Entry) error { got++; return nil })
				if err != nil || got != n {
					b.Fatalf("Scan = %d keys, %v, want %d", got, err, n)
				}
			}
			report()
		})
		b.Run(fmt.Sprintf("scan-work/page-%d", page), func(b *testing.B) {
			report := perKey(b, n)
			for b.Loop() {
				got := 0
				err := s.Scan(b.Context(), "bench/", func(e stores.Entry) error {
					got++
					spin(e.Value)
					return nil
				})
				if err != nil || got != n {
					b.Fatalf("Scan = %d keys, %v, want %d", got, err, n)
				}
			}
			report()
		})
	}
}

// spinSink keeps spin's work from being optimised away.
var spinSink uint64

// spin costs about a microsecond and a half, what ls spends on a lease
// (classification and encoding, cli's BenchmarkOutput100k).
func spin(v []byte) {
	h := uint64(14695981039346656037)
	for range 12 {
		for _, c := range v {
			h = (h ^ uint64(c)) * 1099511628211
		}
	}
	spinSink += h
}
