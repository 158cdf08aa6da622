// Command natswatch is the NATS baseline of bench/scale: what a program
// using nats.go alone does to dump a JetStream KV bucket — one ordered
// consumer snapshot (KeyValue.WatchAll) until the initial values are
// delivered, each entry written to standard output as a JSON line.
//
//	natswatch -url nats://127.0.0.1:4222 -bucket exports
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// entry is one line of output.
type entry struct {
	Key      string `json:"key"`
	Value    []byte `json:"value"`
	Revision uint64 `json:"revision"`
	Op       string `json:"op"`
}

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	bucket := flag.String("bucket", "", "KV bucket")
	timeout := flag.Duration("timeout", time.Minute, "bound on the whole snapshot")
	flag.Parse()
	if err := dump(*url, *bucket, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "natswatch:", err)
		os.Exit(1)
	}
}

func dump(url, bucket string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // the initial values are all delivered
				return out.Flush()
			}
			if err := enc.Encode(entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Op: e.Operation().String()}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
