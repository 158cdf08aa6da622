package lease_test

import (
	"testing"
	"time"

	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores/memory"
)

func BenchmarkDecode(b *testing.B) {
	in := []byte(specCompleted)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := lease.Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	r, err := lease.Decode([]byte(specCompleted))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = r.Encode()
	}
}

// BenchmarkTryAcquireHeld measures a losing round on the memory store, the
// common case for all but one replica.
func BenchmarkTryAcquireHeld(b *testing.B) {
	m := memory.New()
	mustCreate(b, m, key, []byte(specFresh))
	clk := newClock(t0)
	l := newLease(b, m, key, "node-b", lease.WithClock(clk.Now))
	for b.Loop() {
		if _, err := l.TryAcquire(b.Context(), time.Minute); err == nil {
			b.Fatal("TryAcquire won a held lease")
		}
	}
}
