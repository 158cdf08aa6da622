package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// Entry is one operator action as the log tells it: its intent line joined
// with its result line.
type Entry struct {
	// ID is the lines' "id"; for old lines without one, derived (stable)
	// from the intent line (see the package documentation).
	ID string
	// Time is the operator's clock when the action began.
	Time time.Time
	// Operator, Host, Store and Key say who acted, where, on which
	// configured store and which full key.
	Operator, Host, Store, Key string
	// Action is what the operator did: acquire, takeover, release, revert.
	Action lease.Action
	// Reason is the operator's reason ("" for an acquire without one).
	Reason string
	// Reverts is, for a revert, the ID of the action it reverts.
	Reverts string
	// Seen is the revision the operator saw, from the intent line (0: seen
	// absent, a fleet-style acquire, or no intent line in the log).
	Seen uint64
	// RevisionBefore is the revision of the value the action judged (for
	// a changed outcome, the key's revision then); Seen when the log has
	// no result line.
	RevisionBefore uint64
	// ValueBefore is the value the action judged: nil when the key was
	// absent or never read, zero-length for a tombstone.
	ValueBefore []byte
	// ValueAfter is what the action wrote: nil when it wrote nothing,
	// zero-length for a tombstone. When the log has no result line, it is
	// what the action was about to write.
	ValueAfter []byte
	// RevisionAfter is the revision of the write, 0 when nothing was
	// written (or its outcome is unknown).
	RevisionAfter uint64
	// Outcome is how the action ended: OutcomePending when the log has no
	// result line (the process died, or the action is still running).
	Outcome lease.Outcome
	// Error says what went wrong, or what is known of an unknown outcome.
	Error string
}

// Read reads a log and returns its entries, oldest first (in the order of
// their first line). Lines that do not parse — a line cut short, anything
// that is not one of the log's JSON objects, an unknown action or outcome,
// a time that is not RFC 3339 — are skipped: a log is evidence, and one bad
// line must not hide the others. The intent and result lines of an action
// are joined by their id (derived for lines without one); a result line
// whose intent line is missing makes an entry of its own. Read fails only
// when r does, returning the entries read until then.
func Read(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var entries []Entry
	open := map[string]int{} // id → the entry that awaits its result line
	for {
		b, err := br.ReadBytes('\n')
		if l, ok := parseLine(b); ok {
			entries = l.join(entries, open)
		}
		switch {
		case errors.Is(err, io.EOF):
			return entries, nil
		case err != nil:
			return entries, fmt.Errorf("audit: read: %w", err)
		}
	}
}

// ReadFile reads the log at path (see Read). A missing file is a log
// without entries, not an error: nothing has been audited yet. A path that
// is not a regular file is refused with an error matching ErrNotRegular,
// as the log refuses to append to one.
func ReadFile(path string) ([]Entry, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []Entry{}, nil
	case err != nil:
		return nil, fmt.Errorf("audit: %w", err)
	case !st.Mode().IsRegular():
		return nil, notRegularFile(path, st.Mode())
	}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) { // removed in between
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil || !st.Mode().IsRegular() { // replaced in between
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return nil, notRegularFile(path, st.Mode())
	}
	entries, err := Read(fh)
	if err != nil {
		return entries, fmt.Errorf("%w (%s)", err, path)
	}
	return entries, nil
}

// notRegularFile is the error for a log path that is not a regular file.
func notRegularFile(path string, mode fs.FileMode) error {
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, path, mode.Type())
}

// parsed is one line of the log, checked.
type parsed struct {
	line
	id      string
	time    time.Time
	action  lease.Action
	outcome lease.Outcome
}

// parseLine parses one line (with or without its newline); ok is false
// when it is not a line of the log.
func parseLine(b []byte) (p parsed, ok bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return p, false
	}
	if err := json.Unmarshal(b, &p.line); err != nil {
		return p, false
	}
	var err error
	if p.time, err = time.Parse(time.RFC3339Nano, p.Time); err != nil {
		return p, false
	}
	if p.action.UnmarshalText([]byte(p.Action)) != nil || p.outcome.UnmarshalText([]byte(p.Outcome)) != nil {
		return p, false
	}
	p.id = p.ID
	if strings.TrimSpace(p.id) == "" { // blank is none
		p.id = derivedID(p.line)
	}
	return p, true
}

// derivedID is the id of a line written without one: the first
// lease.AuditIDLen hex digits of the SHA-256 of its time, operator, host,
// store, key and action, each as the line holds it, written as its length
// in bytes (decimal), a colon and its bytes. The intent and result lines of
// one action have the same fields, so the same id; it is stable, since the
// lines never change.
func derivedID(l line) string {
	h := sha256.New()
	for _, f := range []string{l.Time, l.Operator, l.Host, l.Store, l.Key, l.Action} {
		h.Write(strconv.AppendInt(nil, int64(len(f)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))[:lease.AuditIDLen]
}

// join adds p to entries: an intent line starts an entry, a result line
// completes the entry its intent line started, or starts one of its own.
func (p parsed) join(entries []Entry, open map[string]int) []Entry {
	if p.outcome == lease.OutcomePending {
		open[p.id] = len(entries)
		return append(entries, Entry{
			ID: p.id, Time: p.time.UTC(), Operator: p.Operator, Host: p.Host, Store: p.Store, Key: p.Key,
			Action: p.action, Reason: p.Reason, Reverts: p.Reverts,
			Seen: p.RevisionBefore, RevisionBefore: p.RevisionBefore, ValueAfter: p.ValueAfter,
			Outcome: lease.OutcomePending, Error: p.Error,
		})
	}
	i, ok := open[p.id]
	if ok {
		delete(open, p.id)
	} else {
		i = len(entries)
		entries = append(entries, Entry{
			ID: p.id, Time: p.time.UTC(), Operator: p.Operator, Host: p.Host, Store: p.Store, Key: p.Key,
			Action: p.action, Reason: p.Reason, Reverts: p.Reverts,
		})
	}
	e := &entries[i]
	e.RevisionBefore, e.ValueBefore = p.RevisionBefore, p.ValueBefore
	e.ValueAfter, e.RevisionAfter = p.ValueAfter, p.RevisionAfter
	e.Outcome, e.Error = p.outcome, p.Error
	return entries
}

// Filter selects entries; its zero value selects every one.
type Filter struct {
	// Store, Key and Operator, when not empty, must equal the entry's.
	Store, Key, Operator string
	// Outcome, when not 0, must be the entry's.
	Outcome lease.Outcome
	// Since, when not zero, is the earliest Time selected.
	Since time.Time
}

// Match reports whether e is selected by f.
func (f Filter) Match(e Entry) bool {
	return (f.Store == "" || e.Store == f.Store) &&
		(f.Key == "" || e.Key == f.Key) &&
		(f.Operator == "" || e.Operator == f.Operator) &&
		(f.Outcome == 0 || e.Outcome == f.Outcome) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since))
}

// MinIDPrefix is the shortest id prefix Find takes: a shorter one would
// match many entries of any log worth searching.
const MinIDPrefix = 4

// Errors of Find and RevertRequest.
var (
	// ErrNoEntry means no entry has the id asked for.
	ErrNoEntry = errors.New("audit: no such entry")
	// ErrAmbiguous means an id prefix that more than one entry has.
	ErrAmbiguous = errors.New("audit: ambiguous id")
	// ErrNotRevertible means an entry whose action did not write the store
	// (only a won action has something to revert).
	ErrNotRevertible = errors.New("audit: not revertible")
)

// Find returns the entry whose ID is id (surrounding spaces ignored, any
// case), or else whose ID starts with id when id is at least MinIDPrefix
// characters long and exactly one entry's does. The error matches
// ErrNoEntry when none does and ErrAmbiguous when more than one does (two
// old entries written in the same nanosecond by the same operator on the
// same key share a derived id).
func Find(entries []Entry, id string) (Entry, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return Entry{}, fmt.Errorf("%w: an empty id", ErrNoEntry)
	}
	var exact, prefixed []int
	for i := range entries {
		switch eid := strings.ToLower(entries[i].ID); {
		case eid == id:
			exact = append(exact, i)
		case strings.HasPrefix(eid, id):
			prefixed = append(prefixed, i)
		}
	}
	switch {
	case len(exact) == 1:
		return entries[exact[0]], nil
	case len(exact) > 1:
		return Entry{}, ambiguous(entries, exact, id)
	case len(prefixed) == 0:
		return Entry{}, fmt.Errorf("%w with id %q", ErrNoEntry, id)
	case len(id) < MinIDPrefix:
		return Entry{}, fmt.Errorf("%w with id %q: give the whole id, or at least its first %d characters", ErrNoEntry, id, MinIDPrefix)
	case len(prefixed) > 1:
		return Entry{}, ambiguous(entries, prefixed, id)
	}
	return entries[prefixed[0]], nil
}

// ambiguous is Find's error for the entries at idx, which all match id.
func ambiguous(entries []Entry, idx []int, id string) error {
	const shown = 5
	var ids []string
	for _, i := range idx[:min(len(idx), shown)] {
		e := entries[i]
		ids = append(ids, fmt.Sprintf("%s (%s %s %s)", e.ID, e.Time.Format(time.RFC3339), e.Action, e.Key))
	}
	more := ""
	if len(idx) > shown {
		more = fmt.Sprintf(" and %d more", len(idx)-shown)
	}
	return fmt.Errorf("%w: %q matches %d entries: %s%s", ErrAmbiguous, id, len(idx), strings.Join(ids, ", "), more)
}

// RevertRequest returns the request that reverts e with reason: an
// ActionRevert on e's key that writes back e.ValueBefore — a tombstone when
// the key was absent (a revert never deletes) — by compare-and-swap against
// the revision e wrote, so that it writes nothing if anything has written
// the key since. The error matches ErrNotRevertible unless e's outcome is
// won (only a won action wrote something) and the log gives the revision
// it wrote and its id. The request is not checked against the rules:
// lease.Operator.Check and Do do that (a reason, read-only, scope).
func RevertRequest(e Entry, reason string) (lease.Request, error) {
	switch {
	case e.Outcome != lease.OutcomeWon:
		return lease.Request{}, fmt.Errorf("%w: %s (%s of %s) ended %s; only a won action wrote something to revert", ErrNotRevertible, e.ID, e.Action, e.Key, e.Outcome)
	case e.RevisionAfter == 0:
		return lease.Request{}, fmt.Errorf("%w: %s (%s of %s) won but the log does not say at which revision", ErrNotRevertible, e.ID, e.Action, e.Key)
	case e.ID == "":
		return lease.Request{}, fmt.Errorf("%w: the entry has no id", ErrNotRevertible)
	}
	value := append([]byte{}, e.ValueBefore...) // never nil: absent becomes a tombstone
	return lease.Request{
		Action: lease.ActionRevert, Key: e.Key, Seen: e.RevisionAfter,
		Value: value, Reason: reason, Reverts: e.ID,
	}, nil
}
