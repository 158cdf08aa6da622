//go:build linux

// Command rusage runs a command and reports what it alone used, for
// bench/scale: wall time, user and system CPU, and peak RSS (ru_maxrss).
//
//	rusage -o FILE -- COMMAND [ARG]...
//
// FILE receives one line, "wall_ns user_ns sys_ns maxrss_bytes minflt
// exit_code" (minflt: minor page faults, the kernel's work of handing the
// process fresh memory);
// the command inherits the standard streams, and rusage exits with its
// status.
//
// Why a process in between: Linux keeps a process's ru_maxrss across exec,
// seeded with the peak of the memory it had before exec. A command started
// straight from the benchmark, whose process embeds etcd and NATS and holds
// hundreds of MiB, would report at least that much. Started from this small
// process, it reports its own peak, never less than this process's memory
// at the fork (`rusage -o FILE -- true` reports about 2.4 MiB).
//
// ru_maxrss is KiB on Linux, the only system bench/scale runs on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "file that receives the measurements")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: rusage -o FILE -- COMMAND [ARG]...")
		os.Exit(2)
	}
	code, err := measure(*out, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(125)
	}
	os.Exit(code)
}

func measure(out string, argv []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no rusage on this system")
	}
	code := cmd.ProcessState.ExitCode()
	line := fmt.Sprintf("%d %d %d %d %d %d\n", wall.Nanoseconds(), ru.Utime.Nano(), ru.Stime.Nano(), ru.Maxrss*1024, ru.Minflt, code)
	if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
		return 0, err
	}
	return code, nil
}
