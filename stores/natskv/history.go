package natskv

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/leasectl/leasectl/stores"
)

// History returns the values key has held that the bucket still keeps (its
// History setting bounds them), oldest first, ending with the current value
// when the key exists. Values written before a delete are included while the
// bucket keeps them. Delete and purge markers are left out: the result holds
// only writes, so the revision of every entry is one a caller can have read.
// It returns an error matching stores.ErrNotFound when no write of key is
// kept, and stores.ErrInvalidKey, without I/O, for a key NATS cannot store.
//
// Like Get, History reads from the stream leader, so it holds every write
// acknowledged before it was called: first the key's last message, then the
// key's messages up to that one, oldest first, one request each (at most the
// bucket's History setting plus one). nats.go's KeyValue.History reads an
// ordered consumer instead, which the server places on any peer of a
// replicated stream; on a follower that has not applied the latest write
// yet, it returned a history without it (TestReplicated shows it).
func (s *Store) History(ctx context.Context, key string) ([]stores.Entry, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	last, _, err := s.latest(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("natskv: history %q: %w", key, err)
	}
	subject := s.subjectPrefix + key
	var out []stores.Entry
	for seq := uint64(1); seq <= last.Revision; {
		m, err := s.nextMessage(ctx, subject, seq)
		if errors.Is(err, stores.ErrNotFound) {
			break // purged since the key's last message was read
		}
		if err != nil {
			return nil, fmt.Errorf("natskv: history %q: %w", key, err)
		}
		if m.seq > last.Revision {
			break // written since: History ends where it started
		}
		if operation(m.header) == jetstream.KeyValuePut {
			out = append(out, entry(key, m.data, m.seq))
		}
		seq = m.seq + 1
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("natskv: history %q: %w: only markers kept", key, stores.ErrNotFound)
	}
	return out, nil
}

// nextMessage asks the stream leader for the first message on subject whose
// sequence is seq or later, in one request. When there is none the error
// matches stores.ErrNotFound (and jetstream.ErrMsgNotFound).
func (s *Store) nextMessage(ctx context.Context, subject string, seq uint64) (rawMessage, error) {
	return s.getMessage(ctx, msgGetRequest{Seq: seq, NextBySubject: subject})
}
