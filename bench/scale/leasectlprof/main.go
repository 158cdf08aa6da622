// Command leasectlprof is leasectl with profiling, for bench/scale: the same
// cli.Main as the real binary (main.go), run under runtime/pprof and
// runtime/trace when these variables name files:
//
//	LEASECTL_CPUPROFILE  CPU profile of the whole run
//	LEASECTL_MEMPROFILE  allocation profile (go tool pprof -sample_index=alloc_space)
//	LEASECTL_TRACE       execution trace (go tool trace)
//
// The profiles are written when the command returns, so a console is
// profiled from its start until it quits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
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
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		stops = append(stops, func() error {
			pprof.StopCPUProfile()
			return f.Close()
		})
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
	if path := os.Getenv("LEASECTL_MEMPROFILE"); path != "" {
		stops = append(stops, func() error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			runtime.GC() // in-use figures as of now
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	}
	return func() error {
		var first error
		for _, stop := range stops {
			if err := stop(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}, nil
}
