package natskv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// listValue is a typical lease record, so that the byte volume of a listing
// (which paces JetStream flow control) is realistic.
const listValue = `{"holder_id":"node-a","acquired_at_unix":1718000000,"expires_at_unix":1718000300}`

// fill writes n keys exports/00000… with asynchronous publishes, a thousand
// in flight at most.
func fill(t testing.TB, js jetstream.JetStream, bucket string, n int) {
	t.Helper()
	const window = 1000
	for i := range n {
		if _, err := js.PublishAsync(fmt.Sprintf("$KV.%s.exports/%05d", bucket, i), []byte(listValue)); err != nil {
			t.Fatalf("PublishAsync = %v", err)
		}
		if (i+1)%window == 0 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-t.Context().Done():
				t.Fatalf("publishing %d keys: %v", n, t.Context().Err())
			}
		}
	}
}

// TestListRoundTrips checks that List costs a bounded number of requests,
// not one per key: the messages the client sends for a listing of 10,000
// keys are those of a listing of 100, give or take JetStream flow-control
// replies (about one per megabyte delivered).
func TestListRoundTrips(t *testing.T) {
	sent := map[int]uint64{}
	for _, n := range []int{100, 10_000} {
		f := newFixture(t)
		fill(t, f.js, f.kv.Bucket(), n)
		before := outMsgs(f.nc)
		list, err := f.store.List(t.Context(), "exports/")
		sent[n] = outMsgs(f.nc) - before
		if err != nil || len(list) != n {
			t.Fatalf("List of %d keys = %d entries, %v", n, len(list), err)
		}
		if list[n-1].Key != fmt.Sprintf("exports/%05d", n-1) || string(list[n-1].Value) != listValue {
			t.Errorf("List of %d keys: last entry = %+v", n, list[n-1])
		}
	}
	t.Logf("messages sent for List: 100 keys %d, 10,000 keys %d", sent[100], sent[10_000])
	if sent[100] > 4 {
		t.Errorf("List of 100 keys sent %d messages, want at most 4 (barrier read, consumer create, flow control)", sent[100])
	}
	if sent[10_000] > sent[100]+3 {
		t.Errorf("List of 10,000 keys sent %d messages, 100 keys %d: the cost grows with the keys", sent[10_000], sent[100])
	}
}

// BenchmarkList10k lists a bucket of 10,000 keys: native is nats.go's
// WatchAll read to its "initial values done" marker (keys with values, the
// native way), driver is Store.List (the same watch, plus a barrier read, a
// sort and copies into stores.Entry).
func BenchmarkList10k(b *testing.B) {
	const n = 10_000
	f := newFixture(b)
	fill(b, f.js, f.kv.Bucket(), n)
	ctx := context.Background()
	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			w, err := f.kv.WatchAll(ctx)
			if err != nil {
				b.Fatalf("WatchAll = %v", err)
			}
			got := 0
			for e := range w.Updates() {
				if e == nil {
					break
				}
				got++
			}
			if err := w.Stop(); err != nil {
				b.Fatalf("Stop = %v", err)
			}
			if got != n {
				b.Fatalf("WatchAll delivered %d keys, want %d", got, n)
			}
		}
	})
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			list, err := f.store.List(ctx, "")
			if err != nil || len(list) != n {
				b.Fatalf("List = %d entries, %v, want %d", len(list), err, n)
			}
		}
	})
}
