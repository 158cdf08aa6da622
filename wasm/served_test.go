//go:build js && wasm

package main

import (
	"testing"

	"github.com/leasectl/leasectl/webapi"
	"github.com/leasectl/leasectl/webclient"
)

// TestConsoleOptionsCarryMarks checks that the browser's console marks
// each store as the gateway describes it: colour, production and
// read-only, in the session's order.
func TestConsoleOptionsCarryMarks(t *testing.T) {
	c, err := webclient.New("http://gateway.test")
	if err != nil {
		t.Fatal(err)
	}
	sess := webapi.Session{Operator: "alice", Holder: "operator:alice", Stores: []webapi.Store{
		{Name: "prod", Kind: "etcd", Color: "#d70000", Production: true},
		{Name: "staging", Kind: "nats", Color: "33", ReadOnly: true},
		{Name: "scratch", Kind: "memory"},
	}}
	o, err := consoleOptions(c, sess)
	if err != nil {
		t.Fatalf("consoleOptions() = %v", err)
	}
	if len(o.Sources) != len(sess.Stores) {
		t.Fatalf("%d sources, want %d", len(o.Sources), len(sess.Stores))
	}
	for i, want := range sess.Stores {
		got := o.Sources[i]
		if got.Name != want.Name || got.Kind != want.Kind || got.Color != want.Color || got.Production != want.Production || got.ReadOnly != want.ReadOnly {
			t.Errorf("sources[%d] = %s %s color %q production %v read-only %v, want %+v",
				i, got.Name, got.Kind, got.Color, got.Production, got.ReadOnly, want)
		}
	}
}
