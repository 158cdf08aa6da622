package audit

// TEMPORARY stub of helper tuiaud11 until rev11's branch is merged; deleted
// before that merge.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// Entry is a stand-in.
type Entry struct {
	ID                         string
	Time                       time.Time
	Operator, Host, Store, Key string
	Action                     lease.Action
	Reason                     string
	Reverts                    string
	RevisionBefore             uint64
	ValueBefore                []byte
	ValueAfter                 []byte
	RevisionAfter              uint64
	Outcome                    lease.Outcome
	Error                      string
}

// Stand-in errors.
var (
	ErrNoEntry       = errors.New("audit: no such entry")
	ErrAmbiguous     = errors.New("audit: ambiguous id")
	ErrNotRevertible = errors.New("audit: not revertible")
)

// Read is a stand-in.
func Read(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		var a lease.Action
		a.UnmarshalText([]byte(l.Action))
		var o lease.Outcome
		o.UnmarshalText([]byte(l.Outcome))
		t, _ := time.Parse(time.RFC3339Nano, l.Time)
		out = append(out, Entry{ID: l.Time, Time: t, Operator: l.Operator, Host: l.Host, Store: l.Store, Key: l.Key, Action: a,
			Reason: l.Reason, RevisionBefore: l.RevisionBefore, ValueBefore: l.ValueBefore, ValueAfter: l.ValueAfter,
			RevisionAfter: l.RevisionAfter, Outcome: o, Error: l.Error})
	}
	return out, sc.Err()
}

// ReadFile is a stand-in.
func ReadFile(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Read(bytes.NewReader(b))
}

// Filter is a stand-in.
type Filter struct {
	Store, Key, Operator string
	Outcome              lease.Outcome
	Since                time.Time
}

// Match is a stand-in.
func (f Filter) Match(e Entry) bool {
	return (f.Store == "" || f.Store == e.Store) && (f.Key == "" || f.Key == e.Key) && (f.Operator == "" || f.Operator == e.Operator) &&
		(f.Outcome == 0 || f.Outcome == e.Outcome) && (f.Since.IsZero() || !e.Time.Before(f.Since))
}

// Find is a stand-in.
func Find(entries []Entry, id string) (Entry, error) {
	var found []Entry
	for _, e := range entries {
		if e.ID == id {
			return e, nil
		}
		if len(id) >= 4 && strings.HasPrefix(e.ID, id) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		return Entry{}, ErrNoEntry
	case 1:
		return found[0], nil
	}
	return Entry{}, ErrAmbiguous
}

// RevertRequest is a stand-in.
func RevertRequest(e Entry, reason string) (lease.Request, error) {
	if e.Outcome != lease.OutcomeWon {
		return lease.Request{}, ErrNotRevertible
	}
	return lease.Request{Action: lease.ActionRevert, Key: e.Key, Seen: e.RevisionAfter, Reason: reason}, nil
}
