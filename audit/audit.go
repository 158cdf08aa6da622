// Package audit writes the operator audit log: one JSON object per line,
// appended and fsync'd before the call returns, in a file only its owner can
// read. The lease operator writes an intent line before touching a store and
// a result line after, and refuses the action when the intent line cannot be
// written (fail closed).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leasectl/leasectl/lease"
)

// fileMode keeps the log private: it holds lease values and operator names.
const fileMode = 0o600

// dirMode is used for parent directories the log creates.
const dirMode = 0o700

// File is an append-only JSON Lines audit log. Each Audit call opens the file,
// appends one line, fsyncs and closes it, so a rotated or deleted log is
// recreated and an unwritable one fails the very action it would record.
type File struct {
	path string
	mu   sync.Mutex // serializes lines from one process
}

var _ lease.Auditor = (*File)(nil)

// NewFile returns an audit log at path. Nothing is opened until the first
// line is written; use Check to fail early.
func NewFile(path string) (*File, error) {
	if path == "" {
		return nil, errors.New("audit: empty log path")
	}
	return &File{path: path}, nil
}

// Path returns the file the log appends to.
func (f *File) Path() string { return f.path }

// Check reports whether the log can be appended to now, without writing a
// line. Commands call it before showing a confirmation prompt.
func (f *File) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := f.open()
	if err != nil {
		return err
	}
	return fh.Close()
}

// line is the on-disk shape of one audit record. Byte slices encode as base64.
type line struct {
	Time           string `json:"time"`
	Operator       string `json:"operator"`
	Host           string `json:"host"`
	Store          string `json:"store"`
	Key            string `json:"key"`
	Action         string `json:"action"`
	Reason         string `json:"reason,omitempty"`
	RevisionBefore uint64 `json:"revision_before"`
	ValueBefore    []byte `json:"value_before"`
	ValueAfter     []byte `json:"value_after"`
	RevisionAfter  uint64 `json:"revision_after"`
	Outcome        string `json:"outcome"`
	Error          string `json:"error,omitempty"`
}

// Audit appends r as one line and fsyncs the file.
func (f *File) Audit(ctx context.Context, r lease.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	b, err := json.Marshal(line{
		Time:           r.Time.UTC().Format(time.RFC3339Nano),
		Operator:       r.Operator,
		Host:           r.Host,
		Store:          r.Store,
		Key:            r.Key,
		Action:         r.Action.String(),
		Reason:         r.Reason,
		RevisionBefore: r.RevisionBefore,
		ValueBefore:    nonNil(r.ValueBefore),
		ValueAfter:     nonNil(r.ValueAfter),
		RevisionAfter:  r.RevisionAfter,
		Outcome:        r.Outcome.String(),
		Error:          r.Error,
	})
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	b = append(b, '\n')

	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := f.open()
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return fmt.Errorf("audit: write %s: %w", f.path, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("audit: fsync %s: %w", f.path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("audit: close %s: %w", f.path, err)
	}
	return nil
}

func (f *File) open() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(f.path), dirMode); err != nil {
		return nil, fmt.Errorf("audit: create directory for %s: %w", f.path, err)
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", f.path, err)
	}
	return fh, nil
}

// nonNil makes an absent value encode as "" rather than null, so every line
// has the same shape.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
