package natskv_test

import (
	"testing"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/storetest"
)

// capabilities are the optional capabilities a NATS KV store implements.
// History is bounded by the bucket's History setting: the suite's buckets
// keep ten values per key, more than the three the suite needs.
var capabilities = storetest.Capabilities{Watch: true, History: true, Delete: true, Scan: true}

// TestConformance runs the shared store suite, each subtest on a fresh bucket
// of the suite's server.
func TestConformance(t *testing.T) {
	storetest.Run(t, capabilities, func(t *testing.T) stores.Store {
		return newFixture(t).store
	})
}
