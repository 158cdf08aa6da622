//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestReadFileRefusesFIFO(t *testing.T) {
	fifo := mkfifo(t, filepath.Join(t.TempDir(), "fifo"))
	if err := returnsPromptly(t, fifo, "ReadFile", func() error { _, err := ReadFile(fifo); return err }); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(a FIFO) = %v, want ErrNotRegular without blocking", err)
	}
}
