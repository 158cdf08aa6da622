package consul_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/consul"
)

// The listing benchmarks run over a real agent holding issue 9's fleet:
// 100,000 lease-sized keys in folds of 100 (run with -run '^$' so that no
// test wipes the agent in between; seeding takes a few seconds, once).
//
//	go test -run '^$' -bench 'Listing|Watch' -benchtime 10x ./stores/consul/

const (
	fleetPrefix = "bench/"
	fleetSize   = 100_000
)

// fleetKey is the key of lease i, as bench/scale names them.
func fleetKey(i int) string {
	return fmt.Sprintf("%sbulk/fold-%03d/export-%06d", fleetPrefix, i/100, i)
}

// fleetValue is lease i's value: a record of about 200 bytes, a tombstone
// for one in twenty.
func fleetValue(i, round int) []byte {
	if i%20 == 7 {
		return nil
	}
	return fmt.Appendf(nil, `{"holder_id":"export-worker-%02d.eu-west-1.prod.example.internal/g%d","acquired_at_unix":%d,"expires_at_unix":%d,"completed_cursor_hex":"%016x","completed_at_unix":%d}`,
		i%100, round, 1_800_000_000+i, 1_800_000_300+i, i*7919, 1_800_000_030+i)
}

var fleet struct {
	once sync.Once
	err  error
}

// seedFleet writes the fleet into the shared agent once; the tests that
// wipe the agent must not run in between (-run '^$').
func seedFleet(b *testing.B) *api.Client {
	b.Helper()
	a := sharedAgent(b)
	client := apiClient(b, a, "", nil)
	fleet.once.Do(func() {
		keys, _, err := client.KV().Keys(fleetPrefix, "", nil)
		if err == nil && len(keys) == fleetSize {
			return
		}
		wipe(b, a)
		const batch, workers = 64, 4 // 64: the agent's limit of operations per transaction
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for lo := w * batch; lo < fleetSize; lo += workers * batch {
					var ops api.TxnOps
					for i := lo; i < min(lo+batch, fleetSize); i++ {
						ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: fleetKey(i), Value: fleetValue(i, 0)}})
					}
					if ok, resp, _, err := client.Txn().Txn(ops, nil); err != nil || !ok {
						errs <- fmt.Errorf("Txn(seed %d..) = %v, %v, %+v", lo, ok, err, resp)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		fleet.err = <-errs
	})
	if fleet.err != nil {
		b.Fatal(fleet.err)
	}
	return client
}

// rawGet reads the fleet's listing as curl does: one GET, no gzip, the body
// thrown away undecoded.
func rawGet(b *testing.B, addr string) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/kv/"+fleetPrefix+"?recurse", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || n < fleetSize*100 {
		b.Fatalf("GET %s = %s, %d bytes, %v", req.URL, resp.Status, n, err)
	}
}

// BenchmarkListing100k lists 100,000 keys: the driver's Scan and List, the
// api client's KV.List as the driver used it before (issue 9), and the raw
// GET the agent's answer costs at least. Each driver iteration also times a
// raw GET (outside the measurement) and reports its own time as a multiple
// of it: x-raw.
func BenchmarkListing100k(b *testing.B) {
	client := seedFleet(b)
	a := sharedAgent(b)
	s, err := consul.New(apiConfig(b, a, "", nil))
	if err != nil {
		b.Fatal(err)
	}
	perKey := func(b *testing.B, raw time.Duration) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fleetSize), "ns/key")
		if raw > 0 {
			b.ReportMetric(float64(b.Elapsed())/float64(raw), "x-raw")
		}
	}
	// against times a raw GET outside the measurement.
	against := func(b *testing.B, raw *time.Duration) {
		b.StopTimer()
		start := time.Now()
		rawGet(b, a.Addr())
		*raw += time.Since(start)
		b.StartTimer()
	}
	b.Run("raw-get", func(b *testing.B) {
		for b.Loop() {
			rawGet(b, a.Addr())
		}
		perKey(b, 0)
	})
	b.Run("api-kv-list", func(b *testing.B) {
		b.ReportAllocs()
		var raw time.Duration
		for b.Loop() {
			against(b, &raw)
			pairs, _, err := client.KV().List(fleetPrefix, nil)
			if err != nil || len(pairs) != fleetSize {
				b.Fatalf("KV().List() = %d pairs, %v", len(pairs), err)
			}
			list := make([]stores.Entry, 0, len(pairs))
			for _, p := range pairs {
				list = append(list, stores.Entry{Key: p.Key, Value: p.Value, Revision: p.ModifyIndex})
			}
		}
		perKey(b, raw)
	})
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		var raw time.Duration
		for b.Loop() {
			against(b, &raw)
			list, err := s.List(b.Context(), fleetPrefix)
			if err != nil || len(list) != fleetSize {
				b.Fatalf("List() = %d entries, %v", len(list), err)
			}
		}
		perKey(b, raw)
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		var raw time.Duration
		for b.Loop() {
			against(b, &raw)
			n := 0
			if err := s.Scan(b.Context(), fleetPrefix, func(stores.Entry) error { n++; return nil }); err != nil || n != fleetSize {
				b.Fatalf("Scan() = %d entries, %v", n, err)
			}
		}
		perKey(b, raw)
	})
}

// BenchmarkWatchSync100k times a watch from its start to EventSynced over
// 100,000 keys, with a consumer that only counts.
func BenchmarkWatchSync100k(b *testing.B) {
	seedFleet(b)
	s, err := consul.New(apiConfig(b, sharedAgent(b), "", nil))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(b.Context())
		ch, err := s.Watch(ctx, fleetPrefix)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for ev := range ch {
			if ev.Kind == stores.EventPut {
				n++
			}
			if ev.Kind == stores.EventSynced {
				break
			}
			if ev.Kind == stores.EventError {
				b.Fatal(ev.Err)
			}
		}
		cancel()
		for range ch {
		}
		if n != fleetSize {
			b.Fatalf("snapshot of %d keys, want %d", n, fleetSize)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fleetSize), "ns/key")
}
