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
			err := printLeases(t.Context(), env, format, now, names, leaseFilter{}, func(ctx context.Context, i int, sink leaseSink) error {
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
		err := printLeases(t.Context(), Env{Stdout: &out}, formatJSON, time.Now(), make([]string, n), leaseFilter{}, func(context.Context, int, leaseSink) error { return nil })
		if err != nil || out.String() != "[]\n" {
			t.Errorf("ls -o json of %d stores without leases = %q, %v; want %q", n, out.String(), err, "[]\n")
		}
	}
}

// pacedScan is a store whose Scan hands its entries over one every gap,
// and, after `stall` entries (when stall > 0), hands nothing more until
// the listing is given up.
type pacedScan struct {
	stores.Store
	gap   time.Duration
	stall int
}

func (p pacedScan) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
	list, err := p.List(ctx, prefix)
	if err != nil {
		return err
	}
	for i, e := range list {
		if p.stall > 0 && i == p.stall {
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-time.After(p.gap):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// TestListTimeoutIsIdle checks what --timeout means for a listing: a store
// that keeps handing entries over is listed however long the whole takes
// (a large etcd store is many pages), and one that stops answering is
// given up once it has sent nothing for the timeout.
func TestListTimeoutIsIdle(t *testing.T) {
	m := memory.New()
	for i := range 40 {
		if _, err := m.Create(t.Context(), fmt.Sprintf("exports/%02d", i), liveRecord("node-a")); err != nil {
			t.Fatal(err)
		}
	}
	const timeout = 400 * time.Millisecond
	run := func(st stores.Store) (int, error) {
		var out bytes.Buffer
		err := printLeases(t.Context(), Env{Stdout: &out}, formatJSON, time.Now(), []string{"s"}, leaseFilter{}, func(ctx context.Context, _ int, sink leaseSink) error {
			return scanWithin(ctx, st, "s", "exports/", timeout, sink)
		})
		var list []map[string]any
		if jerr := json.Unmarshal(out.Bytes(), &list); jerr != nil {
			t.Fatalf("ls -o json output %q: %v", out.String(), jerr)
		}
		return len(list), err
	}
	// 40 entries 20 ms apart: twice the timeout in all, never idle for it.
	start := time.Now()
	if n, err := run(pacedScan{Store: m, gap: 20 * time.Millisecond}); err != nil || n != 40 {
		t.Errorf("a listing that kept going for %v (timeout %v) = %d leases, %v; want all 40", time.Since(start), timeout, n, err)
	}
	n, err := run(pacedScan{Store: m, gap: time.Millisecond, stall: 5})
	if n != 5 || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "sent nothing for 400ms") ||
		!strings.Contains(err.Error(), "after 5 leases printed") {
		t.Errorf("a listing that stalled after 5 entries = %d leases, %v; want 5 and the store given up after 400ms of silence", n, err)
	}
}
