//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import (
	"context"
	"errors"
	"os"
)

// errUnsupported refuses every line where the log cannot keep its promises
// (a regular file opened without blocking, appends under flock): the
// operator's actions fail closed.
var errUnsupported = errors.New("audit: the audit log is not supported on this system")

func openLog(string, *[]string) (*os.File, error) { return nil, errUnsupported }

func appendLine(context.Context, *os.File, string, []byte, *[]string) error {
	return errUnsupported
}
