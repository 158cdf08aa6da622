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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
