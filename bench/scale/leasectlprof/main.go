// Command leasectlprof is leasectl with profiling, for bench/scale: the same
// cli.Main as the real binary (main.go), run under runtime/pprof and
// runtime/trace when these variables name files:
//
//	LEASECTL_CPUPROFILE  CPU profile from the start; SIGUSR2 stops it (the
//	                     file is then complete) and, sent again, starts the
//	                     next one in FILE.2, then FILE.3…: a console's sync
//	                     and its steady state in separate profiles
//	LEASECTL_MEMPROFILE  allocation profile of the whole run, written at the
//	                     end (go tool pprof -sample_index=alloc_space)
//	LEASECTL_HEAPPROFILE heap profile written on SIGUSR1, after a GC: what a
//	                     running console holds (-sample_index=inuse_space)
//	LEASECTL_TRACE       execution trace of the whole run (go tool trace)
//
// Profiles still running when the command returns are stopped and written
// then, so a console is profiled until it quits.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"

	"github.com/leasectl/leasectl/cli"
)

func main() {
	stop, err := startProfiles()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leasectlprof:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	code := cli.Main(context.Background(), os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Signals: sigs})
	signal.Stop(sigs)
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "leasectlprof:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// startProfiles starts what the environment asks for and returns the
// function that stops it and writes the profiles.
func startProfiles() (func() error, error) {
	var stops []func() error
	if path := os.Getenv("LEASECTL_CPUPROFILE"); path != "" {
		c := &cpuProfiles{path: path}
		if err := c.toggle(); err != nil {
			return nil, err
		}
		usr2 := make(chan os.Signal, 1)
		signal.Notify(usr2, syscall.SIGUSR2)
		go func() {
			for range usr2 {
				if err := c.toggle(); err != nil {
					fmt.Fprintln(os.Stderr, "leasectlprof:", err)
				}
			}
		}()
		stops = append(stops, c.stop)
	}
	if path := os.Getenv("LEASECTL_TRACE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			return nil, err
		}
		stops = append(stops, func() error {
			trace.Stop()
			return f.Close()
		})
	}
	if path := os.Getenv("LEASECTL_HEAPPROFILE"); path != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				if err := writeHeap(path); err != nil {
					fmt.Fprintln(os.Stderr, "leasectlprof:", err)
				}
			}
		}()
	}
	if path := os.Getenv("LEASECTL_MEMPROFILE"); path != "" {
		stops = append(stops, func() error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			// The profile is as of the last completed GC: without one
			// now, what was allocated since (a listing's output
			// buffers, say) would be missing.
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	}
	return func() error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop())
		}
		return errors.Join(errs...)
	}, nil
}

// cpuProfiles is a series of CPU profiles, one running at a time.
type cpuProfiles struct {
	path string

	mu sync.Mutex
	n  int      // profiles started
	f  *os.File // the running one's file; nil when none runs
}

// toggle starts the next profile, or stops the running one.
func (c *cpuProfiles) toggle() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		return c.stopLocked()
	}
	c.n++
	path := c.path
	if c.n > 1 {
		path = fmt.Sprintf("%s.%d", c.path, c.n)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	c.f = f
	return nil
}

// stop stops the running profile, if any.
func (c *cpuProfiles) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopLocked()
}

func (c *cpuProfiles) stopLocked() error {
	if c.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := c.f.Close()
	c.f = nil
	return err
}

// writeHeap writes the in-use heap, after a GC, to path, through a
// temporary file so that a reader never sees half of it.
func writeHeap(path string) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
