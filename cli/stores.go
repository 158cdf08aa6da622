package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leasectl/leasectl/config"
	"github.com/leasectl/leasectl/stores"
)

// openStore is one configured store, opened.
type openStore struct {
	conf    config.Store
	store   stores.Store
	closeFn func() error
	timeout time.Duration
}

// close closes the store, waiting at most the store-call timeout: closing
// is a store call too (NATS drains the connection, which waits on the
// server), and a store that stalls must not keep a command from exiting
// once its outcome is known. A close still running is abandoned to the
// process's exit.
func (o *openStore) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.closeFn()
	}()
	t := time.NewTimer(o.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// loadConfig finds and loads the config; a missing one is a usage error
// for commands (the console alone falls back to the demo).
func loadConfig(g *globals) (*config.Config, error) {
	path, err := config.Path(g.config)
	if errors.Is(err, config.ErrNoConfig) {
		return nil, usageErrorf("no configuration: pass --config FILE, set $LEASECTL_CONFIG, or create $XDG_CONFIG_HOME/leasectl/config.yaml (see README)")
	}
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	if g.readOnly {
		c.ReadOnly = true
	}
	return c, nil
}

// selectStores returns the stores named by --store, or all of them.
func selectStores(c *config.Config, g *globals) ([]config.Store, error) {
	sel, err := c.Find(g.stores)
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	return sel, nil
}

// oneStore returns the single store a key command acts on: the one named by
// --store, or the only configured store.
func oneStore(c *config.Config, g *globals) (config.Store, error) {
	switch {
	case len(g.stores) > 1:
		return config.Store{}, usageErrorf("name one --store for this command, not %d", len(g.stores))
	case len(g.stores) == 1:
		sel, err := selectStores(c, g)
		if err != nil {
			return config.Store{}, err
		}
		return sel[0], nil
	case len(c.Stores) == 1:
		return c.Stores[0], nil
	}
	names := make([]string, len(c.Stores))
	for i, s := range c.Stores {
		names[i] = s.Name
	}
	return config.Store{}, usageErrorf("--store is required: one of %s", strings.Join(names, ", "))
}

// open dials a configured store, giving up after timeout. Read-only stores
// (per store or global) are wrapped so that no write can reach the backend.
func open(ctx context.Context, c *config.Config, s config.Store, timeout time.Duration) (*openStore, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, closeFn, err := config.Open(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.Name, err)
	}
	if c.ReadOnly || s.ReadOnly {
		st = stores.ReadOnly(st)
	}
	return &openStore{conf: s, store: st, closeFn: closeFn, timeout: timeout}, nil
}

// writable refuses a write command on a read-only store before anything is
// dialled or written (exit 2).
func writable(c *config.Config, s config.Store) error {
	switch {
	case c.ReadOnly:
		return usageErrorf("store %s: refusing to write: leasectl runs read-only (--read-only or read_only in %s)", s.Name, c.File)
	case s.ReadOnly:
		return usageErrorf("store %s: refusing to write: the store is read_only in %s", s.Name, c.File)
	}
	return nil
}

// scopedPrefix combines the store's configured prefix with the one asked
// for on the command line; ok is false when they cannot overlap.
func scopedPrefix(store, asked string) (prefix string, ok bool) {
	switch {
	case strings.HasPrefix(asked, store):
		return asked, true
	case strings.HasPrefix(store, asked):
		return store, true
	}
	return "", false
}
