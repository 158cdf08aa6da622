//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const (
	// lockWait bounds the wait for another process's append. An append
	// holds the lock for one write and one fsync, so a lock held this long
	// belongs to a process that hangs, and waiting longer would hang this
	// one too.
	lockWait = 30 * time.Second
	// lockPollMax is the longest pause between two attempts at the lock:
	// flock cannot wait and watch a context at once.
	lockPollMax = 20 * time.Millisecond
)

// chmod changes the mode of an open file. Tests replace it to play a
// process that does not own the log.
var chmod = (*os.File).Chmod

// openLog opens the log at path to read and append, creating it and its
// directory when missing. It never blocks: a path that is not a regular file
// is refused before it is opened, and opened without waiting (O_NONBLOCK) in
// case it changed since, then refused by what the open file is. A log that
// others can read is made private, with a warning added to warnings.
func openLog(path string, warnings *[]string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("audit: create directory for %s: %w", path, err)
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return nil, notRegular(path, st.Mode())
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("audit: %w", err)
	}
	var fd int
	for {
		fd, err = syscall.Open(path, syscall.O_RDWR|syscall.O_APPEND|syscall.O_CREAT|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, fileMode)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", &fs.PathError{Op: "open", Path: path, Err: err})
	}
	var fst syscall.Stat_t
	if err := syscall.Fstat(fd, &fst); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("audit: %w", &fs.PathError{Op: "fstat", Path: path, Err: err})
	}
	if mode := fileType(uint32(fst.Mode)); !mode.IsRegular() {
		syscall.Close(fd)
		return nil, notRegular(path, mode)
	}
	// A regular file never blocks, but the flag would make a later reader
	// of the descriptor expect EAGAIN: clear it before os.File sees it.
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("audit: %w", &fs.PathError{Op: "fcntl", Path: path, Err: err})
	}
	fh := os.NewFile(uintptr(fd), path)
	if err := private(fh, path, fs.FileMode(uint32(fst.Mode)).Perm(), warnings); err != nil {
		fh.Close()
		return nil, err
	}
	return fh, nil
}

// fileType returns the type bits of a stat mode as an fs.FileMode.
func fileType(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// notRegular returns the error for a log path of type mode.
func notRegular(path string, mode fs.FileMode) error {
	var kind string
	switch {
	case mode.IsDir():
		kind = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		kind = "a FIFO (named pipe)"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case mode&fs.ModeDevice != 0:
		kind = "a block device"
	default:
		kind = "not a regular file (" + mode.Type().String() + ")"
	}
	return fmt.Errorf("%w: %s is %s", ErrNotRegular, path, kind)
}

// private makes the open log fh, whose permission bits are perm, readable
// by its owner only, with a warning, or refuses it when it cannot.
func private(fh *os.File, path string, perm fs.FileMode, warnings *[]string) error {
	if perm&0o077 == 0 {
		return nil
	}
	if err := chmod(fh, fileMode); err != nil {
		return fmt.Errorf("%w: %s has mode %04o and could not be made %04o: %w", ErrReadableByOthers, path, uint32(perm), fileMode, err)
	}
	*warnings = append(*warnings, fmt.Sprintf("audit: %s was readable by others (mode %04o); its mode is now %04o", path, uint32(perm), fileMode))
	return nil
}

// appendLine appends b to the open log under an exclusive lock and fsyncs
// it. When the file does not end with a newline (an earlier line was cut
// short), it ends that line first and adds a warning. When the write or the
// fsync fails, it truncates the file back to its size before and returns
// the error.
func appendLine(ctx context.Context, fh *os.File, path string, b []byte, warnings *[]string) error {
	if err := lock(ctx, fh, path); err != nil {
		return err
	}
	defer syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	torn := false
	if size > 0 {
		var last [1]byte
		if _, err := fh.ReadAt(last[:], size-1); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if torn = last[0] != '\n'; torn {
			b = append([]byte{'\n'}, b...)
		}
	}
	if _, err := fh.Write(b); err != nil {
		return undo(fh, path, size, err)
	}
	if err := fh.Sync(); err != nil {
		return undo(fh, path, size, err)
	}
	if torn {
		*warnings = append(*warnings, fmt.Sprintf("audit: %s ended in a line cut short by an earlier write; ended it with a newline so that the new line stands on its own", path))
	}
	return nil
}

// undo truncates the log back to size after a write or fsync failed with
// err, so that no partial line is left behind, and returns the error to
// report.
func undo(fh *os.File, path string, size int64, err error) error {
	if terr := fh.Truncate(size); terr != nil {
		return fmt.Errorf("audit: %w; the line may be left cut short in %s (truncating it failed: %v)", err, path, terr)
	}
	fh.Sync() // the line was not durable anyway: best effort
	return fmt.Errorf("audit: %w (nothing was appended to %s)", err, path)
}

// lock takes an exclusive flock of fh, waiting for another process's append
// at most lockWait, and no longer than ctx.
func lock(ctx context.Context, fh *os.File, path string) error {
	deadline := time.Now().Add(lockWait)
	pause := time.Millisecond
	for {
		err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR):
			return fmt.Errorf("audit: %w", &fs.PathError{Op: "flock", Path: path, Err: err})
		case time.Now().After(deadline):
			return fmt.Errorf("audit: %s: another process has held its lock for %v", path, lockWait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("audit: waiting for the lock of %s: %w", path, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, lockPollMax)
	}
}
