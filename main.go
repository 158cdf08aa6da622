// Command leasectl inspects and operates the export leases that fleets of
// replicas keep in etcd, Consul KV or NATS JetStream KV. Run with no command
// it opens the console; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/leasectl/leasectl/cli"
)

func main() {
	// Interrupts go to the command, which decides what they mean: stop at
	// once, or finish the store write in flight first (see cli.Env). A
	// hangup (the terminal closed) is one too: left to its default, it
	// would kill the process with the console's terminal still in the
	// alternate screen. SIGQUIT keeps Go's meaning: a goroutine dump.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(context.Background(), os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Signals: sigs})
	signal.Stop(sigs)
	os.Exit(code)
}
