package consultest_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/leasectl/leasectl/stores/consul/consultest"
)

// childEnv makes the test binary act as a test that started an agent and
// then died: see TestAgentDiesWithTestBinary.
const childEnv = "CONSULTEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child starts an agent, prints its address and waits for its standard input
// to close, never stopping the agent itself.
func child() int {
	a, err := consultest.New(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(a.Addr())
	io.Copy(io.Discard, os.Stdin)
	return 0
}
