package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasectl/leasectl/stores"
	"github.com/leasectl/leasectl/stores/memory"
)

// brokenScan is a store whose Scan fails after passing on its first `after`
// entries, as an etcd listing compacted between two pages does.
type brokenScan struct {
	stores.Store
	after int
}

var errBroken = errors.New("the store went away")

func (b brokenScan) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
	list, err := b.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, e := range list[:b.after] {
		if err := fn(e); err != nil {
			return err
		}
	}
	return errBroken
}

// TestListStoreFailsPartWay checks ls over two stores, the first failing
// part way: the JSON stays one valid array holding what each store passed
// on, in the stores' order, and the failure says how many leases of the
// store were printed; the table, the same rows.
func TestListStoreFailsPartWay(t *testing.T) {
	now := time.Now()
	m := memory.New()
	for i := range 10 {
		key := fmt.Sprintf("exports/%02d", i)
		if _, err := m.Create(t.Context(), key, liveRecord("node-a")); err != nil {
			t.Fatal(err)
		}
	}
	sources := []stores.Store{brokenScan{m, 3}, m}
	names := []string{"broken", "whole"}
	for _, format := range []string{formatJSON, formatTable} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			env := Env{Stdout: &out, Width: func() int { return 0 }}
			err := printLeases(t.Context(), env, format, now, names, func(ctx context.Context, i int, sink leaseSink) error {
				return scanStore(ctx, sources[i], names[i], "exports/", sink)
			})
			if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "after 3 leases printed") {
				t.Errorf("ls with a store failing after 3 leases = %v, want its error saying so", err)
			}
			var stores []string
			if format == formatJSON {
				var got []leaseJSON
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("ls -o json = %q: %v", out.String(), err)
				}
				for _, l := range got {
					stores = append(stores, l.Store)
				}
			} else {
				for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:] {
					stores = append(stores, strings.Fields(l)[0])
				}
			}
			if want := strings.Repeat("broken ", 3) + strings.Repeat("whole ", 10); strings.Join(stores, " ")+" " != want {
				t.Errorf("ls printed leases of the stores %v, want 3 of broken then 10 of whole", stores)
			}
		})
	}
}

// TestListEmpty checks the JSON of a listing without leases: an empty
// array, as json.MarshalIndent wrote it.
func TestListEmpty(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		var out bytes.Buffer
		err := printLeases(t.Context(), Env{Stdout: &out}, formatJSON, time.Now(), make([]string, n), func(context.Context, int, leaseSink) error { return nil })
		if err != nil || out.String() != "[]\n" {
			t.Errorf("ls -o json of %d stores without leases = %q, %v; want %q", n, out.String(), err, "[]\n")
		}
	}
}
