package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/lease"
	"github.com/leasectl/leasectl/stores"
)

func newListCmd(env Env, g *globals) *cobra.Command {
	var (
		format        string
		states, flags []string
	)
	cmd := &cobra.Command{
		Use:   "ls [PREFIX] [--store NAME]... [-o table|json]",
		Short: "List every lease under PREFIX in the configured stores, classified",
		Long: `ls lists every key under PREFIX (within each store's configured prefix or
bucket) with its state (absent, tombstone, held, expired, corrupt), flags,
holder, expiry and revision. Stores are listed in parallel, one listing each,
and printed in their configured order, each in key order; -o json is written
as the leases arrive. A store that cannot be reached is reported on stderr and
makes the exit code 1; the others are still listed. A store that fails part way
through its listing is reported with the number of its leases printed before.

In a terminal the table fits its width: long keys lose their middle, never
their last segment, and other long cells their end. Into a pipe or a file
nothing is cut: every key is printed whole, one lease per line.`,
		Args: args(0, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := loadConfig(g)
			if err != nil {
				return err
			}
			sel, err := selectStores(c, g)
			if err != nil {
				return err
			}
			asked := ""
			if len(a) == 1 {
				asked = a[0]
			}
			names := make([]string, len(sel))
			for i, s := range sel {
				names[i] = s.Name
			}
			match, err := newLeaseFilter(states, flags)
			if err != nil {
				return err
			}
			return printLeases(cmd.Context(), env, format, env.now(), names, match, func(ctx context.Context, i int, sink leaseSink) error {
				prefix, ok := scopedPrefix(sel[i].Prefix, asked)
				if !ok {
					return nil
				}
				return listStore(ctx, c, sel[i], prefix, g.timeout, sink)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	cmd.Flags().StringSliceVar(&states, "state", nil, "list only leases in these states (absent, tombstone, held, expired, corrupt; repeat or separate with commas)")
	cmd.Flags().StringSliceVar(&flags, "flag", nil, "list only leases with all of these flags (completed, skewed, overdue, unfinished; repeat or separate with commas)")
	return cmd
}

// leaseFilter selects the leases ls prints by their classification; the
// zero leaseFilter selects every lease.
type leaseFilter struct {
	states uint8 // bit 1<<State; 0: any state
	flags  lease.Flags
}

// newLeaseFilter parses --state and --flag.
func newLeaseFilter(states, flags []string) (leaseFilter, error) {
	var f leaseFilter
	for _, name := range states {
		st, err := lease.ParseState(name)
		if err != nil {
			return f, usageErrorf("%v", err)
		}
		f.states |= 1 << st
	}
	for _, name := range flags {
		fl, err := lease.ParseFlag(name)
		if err != nil {
			return f, usageErrorf("%v", err)
		}
		f.flags |= fl
	}
	return f, nil
}

// match reports whether the filter selects o.
func (f leaseFilter) match(o *lease.Observation) bool {
	return (f.states == 0 || f.states&(1<<o.Status.State) != 0) && o.Status.Flags.Has(f.flags)
}

// leaseSink takes one store's entries, in key order, from the goroutine that
// lists the store.
type leaseSink interface {
	// add takes one entry, to be classified and printed. An error stops the
	// listing: the output failed.
	add(e stores.Entry) error
}

// printLeases lists the stores named at once, listOne(i) passing the i-th
// store's entries to sink as the store hands them over, and prints them in
// the order of the stores, each store's in key order, classified at now:
// -o json while the stores are listed, the table (whose columns are as wide
// as their widest cell) once they are. A store that fails is reported, the
// others are still printed. Nothing holds a listing whole but a driver
// whose backend makes it (and the table its rows).
func printLeases(ctx context.Context, env Env, format string, now time.Time, names []string, match leaseFilter, listOne func(ctx context.Context, i int, sink leaseSink) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := newListing(format, now, names, env.Stdout, cancel)
	l.match = match
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i := range names {
		sec := l.section(i)
		wg.Go(func() {
			defer sec.close()
			errs[i] = listOne(ctx, i, sec)
		})
	}
	var err error
	if format == formatJSON {
		err = l.writeJSON()
	}
	wg.Wait()
	l.stopWorkers()
	if format != formatJSON {
		err = l.writeTable(env.width())
	}
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// batchSize is how many leases a worker classifies and prints at a time:
// enough that handing a batch over costs nothing next to its work, few
// enough that every worker has work early.
const batchSize = 256

// listing is ls's output while the stores are listed. Each store's leases
// go into a section of their own, in batches that workers, one per CPU,
// classify and render (JSON, or table rows) while the stores are still
// being listed; each section keeps its batches in order.
//
// -o json is written as it comes: the first section's batches as they are
// rendered, the others' once the sections before them are done. Listing
// never waits on the output: what the output cannot take yet (a pager, a
// slow pipe) is queued, so that the time a store call is given never
// includes a reader's pace. The table is written once every lease is in.
type listing struct {
	json   bool
	now    time.Time
	th     lease.Thresholds
	match  leaseFilter // which leases are printed
	w      io.Writer
	cancel context.CancelFunc // stops the listings when the output fails
	names  []string

	jobs    chan *batch // for the workers; full: the listing waits
	workers sync.WaitGroup

	mu       sync.Mutex
	wake     *sync.Cond // a section got a batch or was closed
	sections []*section
	free     []*batch // batches written, for reuse
	err      error    // the output's failure
}

// section is one store's part of the listing.
type section struct {
	l     *listing
	index int
	next  *batch // being filled by the listing goroutine

	// Guarded by l.mu.
	batches []*batch // handed over, not written yet (all of them, for a table)
	closed  bool     // the store is done
}

// batch is a run of one store's leases: observations in (classified by the
// worker when their state is unset), JSON or table rows out.
type batch struct {
	obs    []lease.Observation
	json   []byte
	rows   []tableRow
	widths [columns]int  // of rows' cells
	done   chan struct{} // closed once the worker is done
}

// errOutput stops a listing whose output failed; the output's own error is
// what the command reports.
var errOutput = errors.New("the output failed")

// maxFreeBatches bounds the written batches kept for reuse.
const maxFreeBatches = 16

func newListing(format string, now time.Time, names []string, w io.Writer, cancel context.CancelFunc) *listing {
	n := runtime.GOMAXPROCS(0)
	l := &listing{json: format == formatJSON, now: now, th: lease.DefaultThresholds(), w: w, cancel: cancel, names: names,
		jobs: make(chan *batch, 2*n), sections: make([]*section, len(names))}
	l.wake = sync.NewCond(&l.mu)
	for i := range l.sections {
		l.sections[i] = &section{l: l, index: i}
	}
	for range n {
		l.workers.Go(l.work)
	}
	return l
}

// section returns the i-th store's section. It must be closed, whether the
// store was listed or not.
func (l *listing) section(i int) *section { return l.sections[i] }

// add takes one entry of the section's store.
func (s *section) add(e stores.Entry) error {
	return s.addObservation(lease.Observation{Store: s.l.names[s.index], Key: e.Key, Found: true, Entry: e})
}

// addObservation takes one lease, classified or (with its state unset) to
// be classified as lease.Observe does.
func (s *section) addObservation(o lease.Observation) error {
	if s.next == nil {
		s.next = s.l.batch()
	}
	s.next.obs = append(s.next.obs, o)
	if len(s.next.obs) < batchSize {
		return nil
	}
	return s.handOver()
}

// handOver queues the batch being filled, in order, and gives it to the
// workers.
func (s *section) handOver() error {
	b := s.next
	if b == nil {
		return nil
	}
	s.next = nil
	s.l.mu.Lock()
	s.batches = append(s.batches, b)
	err := s.l.err
	s.l.wake.Broadcast()
	s.l.mu.Unlock()
	if err != nil {
		close(b.done)
		return errOutput
	}
	s.l.jobs <- b
	return nil
}

// close hands over what is left: the store is done.
func (s *section) close() {
	s.handOver()
	s.l.mu.Lock()
	s.closed = true
	s.l.wake.Broadcast()
	s.l.mu.Unlock()
}

// batch returns an empty batch.
func (l *listing) batch() *batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *batch
	if n := len(l.free); n > 0 {
		b = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		b = &batch{obs: make([]lease.Observation, 0, batchSize)}
	}
	b.done = make(chan struct{})
	return b
}

// recycle keeps a written batch for reuse.
func (l *listing) recycle(b *batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) < maxFreeBatches {
		b.json = b.json[:0]
		l.free = append(l.free, b)
	}
}

// work classifies and renders batches until the listing is over.
func (l *listing) work() {
	m := rowMaker{now: lease.UnixSeconds(l.now)}
	for b := range l.jobs {
		if !l.json {
			b.rows = make([]tableRow, 0, len(b.obs))
		}
		for i := range b.obs {
			o := &b.obs[i]
			if o.Status.State == 0 {
				*o = lease.Observe(o.Store, o.Entry, o.Found, l.now, l.th)
			}
			if !l.match.match(o) {
				continue
			}
			if l.json {
				b.json = appendListElement(b.json, o)
			} else {
				b.rows = append(b.rows, m.row(o, &b.widths))
			}
		}
		clear(b.obs) // the values can go
		b.obs = b.obs[:0]
		close(b.done)
	}
}

// stopWorkers ends the workers once every batch is handed over.
func (l *listing) stopWorkers() {
	close(l.jobs)
	l.workers.Wait()
}

// take waits until section i has batches or is closed, and takes its
// batches.
func (l *listing) take(i int) (batches []*batch, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sections[i]
	for len(s.batches) == 0 && !s.closed {
		l.wake.Wait()
	}
	batches, s.batches = s.batches, nil
	return batches, s.closed
}

// writeJSON writes the sections in order as their batches are rendered,
// until every section is closed, as one JSON array, and returns the
// output's failure. Each lease comes with the comma that separates it from
// the one before; the first has none.
func (l *listing) writeJSON() error {
	empty := true
	out := func(b []byte) bool {
		if _, err := l.w.Write(b); err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.cancel()
			return false
		}
		return true
	}
	for i := range l.sections {
		for {
			batches, closed := l.take(i)
			for _, b := range batches {
				<-b.done
				if len(b.json) == 0 { // nothing in it matched
					l.recycle(b)
					continue
				}
				if empty {
					b.json[0] = '[' // the first lease's comma
					empty = false
				}
				if !out(b.json) {
					return l.err
				}
				l.recycle(b)
			}
			if closed && len(batches) == 0 {
				break
			}
		}
	}
	if empty {
		out([]byte("[]\n"))
	} else {
		out([]byte("\n]\n"))
	}
	return l.err
}

// writeTable writes the table once every section is closed and the workers
// stopped: see writeTable in output.go.
func (l *listing) writeTable(width int) error {
	var widths [columns]int
	var blocks [][]tableRow
	for _, s := range l.sections {
		for _, b := range s.batches {
			for i, w := range b.widths {
				widths[i] = max(widths[i], w)
			}
			blocks = append(blocks, b.rows)
		}
	}
	return writeRows(l.w, widths, blocks, width)
}

// writeListJSON writes observations as ls -o json does.
func writeListJSON(w io.Writer, obs []lease.Observation) error {
	l := newListing(formatJSON, time.Time{}, []string{""}, w, func() {})
	go func() {
		s := l.section(0)
		defer s.close()
		for _, o := range obs {
			if s.addObservation(o) != nil {
				return
			}
		}
	}()
	err := l.writeJSON()
	l.stopWorkers()
	return err
}

// listStore dials one store and lists it (scanStore). Dialling is given
// timeout, and so is every step of the listing: a listing fails once the
// store has handed over nothing for timeout, however long the whole takes
// (a paged listing of a large store is many store calls). The output never
// holds the listing up, since printLeases' sinks do not wait for it.
func listStore(ctx context.Context, c *config.Config, s config.Store, prefix string, timeout time.Duration, sink leaseSink) error {
	o, err := open(ctx, c, s, timeout)
	if err != nil {
		return err
	}
	defer o.close()
	return scanWithin(ctx, o.store, s.Name, prefix, timeout, sink)
}

// scanWithin is scanStore, failing once the store has handed over nothing
// for timeout.
func scanWithin(ctx context.Context, st stores.Store, name, prefix string, timeout time.Duration, sink leaseSink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	idle := time.AfterFunc(timeout, func() {
		stalled.Store(true)
		cancel()
	})
	defer idle.Stop()
	err := scanStore(ctx, st, name, prefix, progress{sink, idle, timeout})
	if err != nil && stalled.Load() {
		return &stallError{err: err, timeout: timeout}
	}
	return err
}

// stallError is a listing given up because the store sent nothing for
// timeout. It matches context.DeadlineExceeded.
type stallError struct {
	err     error
	timeout time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%v (gave up: the store sent nothing for %v)", e.err, e.timeout)
}

func (e *stallError) Unwrap() []error { return []error{e.err, context.DeadlineExceeded} }

// progress is a sink that pushes the listing's idle deadline back with
// every entry.
type progress struct {
	leaseSink
	idle    *time.Timer
	timeout time.Duration
}

func (p progress) add(e stores.Entry) error {
	p.idle.Reset(p.timeout)
	return p.leaseSink.add(e)
}

// scanStore passes every entry of the store st, named name, under prefix
// to sink, in key order. A store that fails part way has passed on what it
// listed before, and its error says how many leases that was.
func scanStore(ctx context.Context, st stores.Store, name, prefix string, sink leaseSink) error {
	n := 0
	err := stores.Scan(ctx, st, prefix, func(e stores.Entry) error {
		if err := sink.add(e); err != nil {
			return err
		}
		n++
		return nil
	})
	switch {
	case errors.Is(err, errOutput):
		return nil // the output's failure is the command's error
	case err != nil && n > 0:
		return fmt.Errorf("store %s: list %q, after %d leases printed: %w", name, prefix, n, err)
	case err != nil:
		return fmt.Errorf("store %s: list %q: %w", name, prefix, err)
	}
	return nil
}

func newGetCmd(env Env, g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get KEY --store NAME [-o table|json]",
		Short: "Inspect one lease: decoded fields, raw bytes and revision",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := loadConfig(g)
			if err != nil {
				return err
			}
			s, err := oneStore(c, g)
			if err != nil {
				return err
			}
			o, err := open(cmd.Context(), c, s, g.timeout)
			if err != nil {
				return err
			}
			defer o.close()
			op, err := newOperator(c, o, env, lease.WithCallTimeout(g.timeout))
			if err != nil {
				return err
			}
			obs, err := op.Inspect(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(env.Stdout, observationJSON(obs, true))
			}
			return writeDetail(env.Stdout, obs, env.now())
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
