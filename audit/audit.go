package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// fileMode keeps the log private: it holds lease values and operator names.
const fileMode = 0o600

// dirMode is used for parent directories the log creates.
const dirMode = 0o700

// ErrNotRegular means the log's path is not a regular file (nor a symbolic
// link to one): a FIFO, a device, a socket or a directory. The log refuses
// it rather than block on it or write where nothing is kept.
var ErrNotRegular = errors.New("audit: the log must be a regular file")

// ErrReadableByOthers means the log can be read by others and this process
// cannot make it private (it does not own the file): fix its mode or owner.
var ErrReadableByOthers = errors.New("audit: the log is readable by others")

// File is an append-only JSON Lines audit log. Each Audit call opens the file,
// appends one line, fsyncs and closes it, so a rotated or deleted log is
// recreated and an unwritable one fails the very action it would record.
type File struct {
	path string
	warn func(msg string)
	mu   sync.Mutex // serializes lines from one process; flock does across processes
}

var _ lease.Auditor = (*File)(nil)

// Option configures a File.
type Option func(*File) error

// WithWarn sets the function that receives the log's warnings: a log made
// private because others could read it, a torn last line that was ended
// before appending. Each msg is one sentence naming the file, without a
// trailing newline. fn is called from the goroutine of Check or Audit,
// after the file is unlocked; it should not block for long. Without it,
// warnings are dropped.
func WithWarn(fn func(msg string)) Option {
	return func(f *File) error {
		if fn == nil {
			return errors.New("audit: WithWarn(nil)")
		}
		f.warn = fn
		return nil
	}
}

// NewFile returns an audit log at path. Nothing is opened until the first
// line is written; use Check to fail early.
func NewFile(path string, opts ...Option) (*File, error) {
	if path == "" {
		return nil, errors.New("audit: empty log path")
	}
	f := &File{path: path, warn: func(string) {}}
	for _, o := range opts {
		if err := o(f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Path returns the file the log appends to.
func (f *File) Path() string { return f.path }

// Check reports whether the log can be appended to now, without writing a
// line: it refuses what Audit would refuse (a path that is not a regular
// file, a log others can read that cannot be made private) and makes a log
// that others can read private, with a warning. It never blocks. Commands
// call it before showing a confirmation prompt.
func (f *File) Check() error {
	var warnings []string
	defer func() { f.emit(warnings) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := openLog(f.path, &warnings)
	if err != nil {
		return err
	}
	return fh.Close()
}

// line is the on-disk shape of one audit record. Byte slices encode as
// base64, nil as null. A line without an id (written before ids existed)
// gets a derived one when it is read (derivedID).
type line struct {
	ID             string `json:"id,omitempty"`
	Time           string `json:"time"`
	Operator       string `json:"operator"`
	Host           string `json:"host"`
	Store          string `json:"store"`
	Key            string `json:"key"`
	Action         string `json:"action"`
	Reason         string `json:"reason,omitempty"`
	Reverts        string `json:"reverts,omitempty"`
	RevisionBefore uint64 `json:"revision_before"`
	ValueBefore    []byte `json:"value_before"`
	ValueAfter     []byte `json:"value_after"`
	RevisionAfter  uint64 `json:"revision_after"`
	Outcome        string `json:"outcome"`
	Error          string `json:"error,omitempty"`
}

// encode returns r as one line, newline included.
func encode(r lease.AuditRecord) ([]byte, error) {
	b, err := json.Marshal(line{
		ID:             r.ID,
		Time:           r.Time.UTC().Format(time.RFC3339Nano),
		Operator:       r.Operator,
		Host:           r.Host,
		Store:          r.Store,
		Key:            r.Key,
		Action:         r.Action.String(),
		Reason:         r.Reason,
		Reverts:        r.Reverts,
		RevisionBefore: r.RevisionBefore,
		ValueBefore:    r.ValueBefore,
		ValueAfter:     r.ValueAfter,
		RevisionAfter:  r.RevisionAfter,
		Outcome:        r.Outcome.String(),
		Error:          r.Error,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// Audit appends r as one line and fsyncs the file. It returns an error when
// the line is not durable; the file is then as it was (a line cut short by a
// full disk is removed). It waits for another process's append to finish,
// until ctx ends.
func (f *File) Audit(ctx context.Context, r lease.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	b, err := encode(r)
	if err != nil {
		return err
	}
	var warnings []string
	defer func() { f.emit(warnings) }()
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := openLog(f.path, &warnings)
	if err != nil {
		return err
	}
	if err := appendLine(ctx, fh, f.path, b, &warnings); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// emit hands warnings to the warning function.
func (f *File) emit(warnings []string) {
	for _, w := range warnings {
		f.warn(w)
	}
}
