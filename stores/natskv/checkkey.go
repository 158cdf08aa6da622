package natskv

import "github.com/leasectl/leasectl/stores"

var _ stores.KeyChecker = (*Store)(nil)

// CheckKey returns an error matching stores.ErrInvalidKey, without I/O, for
// a key NATS KV cannot store.
func (s *Store) CheckKey(key string) error { return checkKey(key) }
