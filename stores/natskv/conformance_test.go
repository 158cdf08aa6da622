package natskv_test

import (
	"testing"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/natskv"
	"github.com/leasectl/leasectl/stores/storetest"
)

var _ storetest.Deleter = (*natskv.Store)(nil)

// TestConformance runs the shared store suite, each subtest on a fresh bucket
// of the suite's server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) stores.Store {
		return newFixture(t).store
	})
}
