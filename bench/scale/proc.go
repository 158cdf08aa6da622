//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// procTimeout bounds one measured process: ls of 100,000 leases takes
// seconds, so reaching it is a hang.
const procTimeout = 5 * time.Minute

// sample is one finished process.
type sample struct {
	wall      time.Duration
	user, sys time.Duration
	maxRSS    int64 // bytes
	faults    int64 // minor page faults
	out       int64 // bytes written to standard output
	counted   int   // occurrences of the command's count pattern
}

// run runs argv with env, its standard output a pipe that this process
// drains (so `-o table` sees no terminal, as in `leasectl ls | less`), and
// measures it through the rusage launcher (bench/scale/rusage): wall time
// from start to exit, user and system CPU and peak RSS of the command
// alone. count is a pattern whose occurrences in the output are counted (""
// for none). A process that fails is an error, with its standard error.
func (b *bench) run(ctx context.Context, argv, env []string, count string) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, procTimeout)
	defer cancel()
	f, err := os.CreateTemp(b.dir, "rusage-*.txt")
	if err != nil {
		return sample{}, err
	}
	f.Close()
	defer os.Remove(f.Name())
	r, w, err := os.Pipe()
	if err != nil {
		return sample{}, err
	}
	cmd := exec.CommandContext(ctx, b.launcher, append([]string{"-o", f.Name(), "--"}, argv...)...)
	cmd.Env = env
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second

	counter := &countWriter{pattern: []byte(count)}
	drained := make(chan error, 1)
	go func() {
		_, err := io.Copy(counter, r)
		r.Close()
		drained <- err
	}()
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return sample{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	w.Close()
	err = cmd.Wait()
	if derr := <-drained; derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(stderr.String(), 2000))
	}
	ru, err := os.ReadFile(f.Name())
	if err != nil {
		return sample{}, err
	}
	var wall, user, sys, rss, faults int64
	var code int
	if _, err := fmt.Sscan(string(ru), &wall, &user, &sys, &rss, &faults, &code); err != nil {
		return sample{}, fmt.Errorf("rusage of %s: %q: %w", argv[0], ru, err)
	}
	return sample{
		wall:    time.Duration(wall),
		user:    time.Duration(user),
		sys:     time.Duration(sys),
		maxRSS:  rss,
		faults:  faults,
		out:     counter.n,
		counted: counter.found,
	}, nil
}

// countWriter counts bytes and the occurrences of pattern, also across two
// writes.
type countWriter struct {
	pattern []byte
	carry   []byte
	n       int64
	found   int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if len(c.pattern) == 0 {
		return len(p), nil
	}
	k := len(c.pattern) - 1
	if k == 0 {
		c.found += bytes.Count(p, c.pattern)
		return len(p), nil
	}
	// The carry holds the last k bytes of the previous write: a match
	// that straddles the boundary starts there.
	joined := append(c.carry, p[:min(k, len(p))]...)
	c.found += bytes.Count(joined, c.pattern)
	c.found += bytes.Count(p, c.pattern)
	if len(p) >= k {
		c.carry = append(c.carry[:0], p[len(p)-k:]...)
	} else {
		c.carry = append(c.carry, p...)
		c.carry = c.carry[max(len(c.carry)-k, 0):]
	}
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// stats are the medians of samples.
type stats struct {
	runs             int
	wall, user, sys  time.Duration
	minWall, maxWall time.Duration
	maxRSS           int64
	faults           int64
	out              int64
}

func summarize(ss []sample) stats {
	if len(ss) == 0 {
		return stats{}
	}
	med := func(f func(sample) int64) int64 {
		v := make([]int64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	st := stats{
		runs:   len(ss),
		wall:   time.Duration(med(func(s sample) int64 { return int64(s.wall) })),
		user:   time.Duration(med(func(s sample) int64 { return int64(s.user) })),
		sys:    time.Duration(med(func(s sample) int64 { return int64(s.sys) })),
		maxRSS: med(func(s sample) int64 { return s.maxRSS }),
		faults: med(func(s sample) int64 { return s.faults }),
		out:    med(func(s sample) int64 { return s.out }),
	}
	st.minWall, st.maxWall = ss[0].wall, ss[0].wall
	for _, s := range ss {
		st.minWall, st.maxWall = min(st.minWall, s.wall), max(st.maxWall, s.wall)
	}
	return st
}

// procStatus returns a field of /proc/PID/status in bytes (VmHWM, VmRSS).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/%d/status: %s: unexpected %q", pid, field, v)
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the CPU time (user plus system, every thread) a process
// has used, from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// loadAvg returns the one-, five- and fifteen-minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// load1 returns the one-minute load average, -1 when unknown.
func load1() float64 {
	f := strings.Fields(loadAvg())
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// otherCPU returns the CPU time used so far by the processes of this
// machine that are not this benchmark's: not this process or its
// descendants, and not the tmux servers it started (which detach) or
// theirs. A process that exited counts through its parent's time for
// waited-for children; one whose parent is gone counts no more. Compared
// over a phase, it says how much another user's work competed with the
// measurements.
func otherCPU() time.Duration {
	type proc struct {
		ppid  int
		ticks int64
		ours  bool
	}
	procs := map[int]*proc{}
	self := os.Getpid()
	tmuxMark := []byte(fmt.Sprintf("leasectl-scale-%d-", self))
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		// f[1] is field 4 (ppid); fields 14-17 are utime, stime, cutime
		// and cstime.
		p := &proc{}
		p.ppid, _ = strconv.Atoi(f[1])
		for _, k := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[k], 10, 64)
			p.ticks += v
		}
		if pid == self {
			p.ours = true
		} else if cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && bytes.Contains(cmd, tmuxMark) {
			p.ours = true
		}
		procs[pid] = p
	}
	var ours func(pid int, depth int) bool
	ours = func(pid int, depth int) bool {
		p, ok := procs[pid]
		switch {
		case !ok || depth > 64:
			return false
		case p.ours:
			return true
		}
		return ours(p.ppid, depth+1)
	}
	var ticks int64
	for pid, p := range procs {
		if !ours(pid, 0) {
			ticks += p.ticks
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// otherShare measures otherCPU over d, as a percentage of one core.
func otherShare(d time.Duration) float64 {
	c0, t0 := otherCPU(), time.Now()
	time.Sleep(d)
	return 100 * float64(otherCPU()-c0) / float64(time.Since(t0))
}
