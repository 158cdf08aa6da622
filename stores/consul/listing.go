package consul

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/leasectl/leasectl/stores"
)

// recurse asks the KV endpoint for every key under a prefix.
var recurse = url.Values{"recurse": {""}}

// List returns every key under prefix (all keys for ""), a plain string
// prefix, with values and revisions, sorted by key, in one request
// (GET ?recurse). It returns an error matching ErrPermissionDenied when the
// agent says it hid some of those keys from the ACL token, rather than a
// silently partial list. The agent says so only to a known token: with no
// token (the anonymous token) a list it may not read comes back partial or
// empty, without an error.
func (s *Store) List(ctx context.Context, prefix string) ([]stores.Entry, error) {
	if err := checkPrefix("list", prefix); err != nil {
		return nil, err
	}
	list := []stores.Entry{}
	_, err := s.scanPairs(ctx, prefix, recurse, nil, func(p *pair) error {
		e, err := p.entry()
		if err != nil {
			return err
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consul: list %q: %w", prefix, err)
	}
	// The agent answers in key order already (a radix tree): checking is
	// linear. Only keys that are not valid UTF-8, which the agent's JSON
	// rewrites, can come out of order.
	if !slices.IsSortedFunc(list, compareKeys) {
		slices.SortFunc(list, compareKeys)
	}
	return list, nil
}

// Scan calls fn with every key under prefix, as List returns them, while
// the agent's answer is being read (stores.Scanner): one request, decoded
// pair by pair, so that neither the answer nor the listing is ever held
// whole. Entries come in the order of the agent's answer, which is key
// order; keys that are not valid UTF-8 (which the agent's JSON rewrites, and
// which the driver cannot address anyway) may break it. An error of fn ends
// the scan and is returned as it is; the agent's errors are those of List.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(stores.Entry) error) error {
	if err := checkPrefix("scan", prefix); err != nil {
		return err
	}
	var fnErr error
	_, err := s.scanPairs(ctx, prefix, recurse, nil, func(p *pair) error {
		e, err := p.entry()
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("consul: scan %q: %w", prefix, err)
	}
	return nil
}

// scanPairs sends one GET of key with params (a listing with recurse, a
// single key without; blocking when params carry an index) and calls fn
// with each pair as it is decoded, through sc when it is not nil (to reuse
// its window). It returns the answer's X-Consul-Index. An error of fn ends
// the answer and is returned as it is; other errors are classified.
func (s *Store) scanPairs(ctx context.Context, key string, params url.Values, sc *pairScanner, fn func(*pair) error) (uint64, error) {
	a, err := s.kvGet(ctx, key, params)
	if err != nil {
		return 0, classify(err)
	}
	if a.filtered {
		a.close(false)
		return 0, fmt.Errorf("%w: the token cannot read every key under the prefix", ErrPermissionDenied)
	}
	if a.body == nil {
		return a.index, nil
	}
	if sc == nil {
		sc = newPairScanner(a.body)
	} else {
		sc.reset(a.body)
	}
	var p pair
	for {
		more, err := sc.next(&p)
		if err != nil {
			a.close(false)
			return 0, classify(err)
		}
		if !more {
			break
		}
		if err := fn(&p); err != nil {
			a.close(false)
			return 0, err
		}
	}
	a.close(true)
	return a.index, nil
}

func compareKeys(a, b stores.Entry) int { return strings.Compare(a.Key, b.Key) }
