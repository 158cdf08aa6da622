//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profiles records, at size leases per store, where `ls -o json` and `-o
// table` and (with console) the console's sync and (with steady) its steady
// state spend their time and memory: CPU and allocation profiles through
// leasectlprof, the console's in-use heap when live, summarised with go tool
// pprof into text files next to the profiles, and a GC trace of the real
// binary.
func (b *bench) profiles(ctx context.Context, sts []*store, size int, console, steady bool) error {
	dir := filepath.Join(b.dir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, st := range sts {
		conf := b.config(st.name, st)
		base := filepath.Join(dir, "ls-"+st.name)
		env := append(append([]string(nil), b.env...), "LEASECTL_CPUPROFILE="+base+".cpu.pprof", "LEASECTL_MEMPROFILE="+base+".allocs.pprof")
		s, err := b.run(ctx, []string{b.prof, "--config", conf, "ls", "-o", "json"}, env, `"key":`)
		if err != nil {
			return fmt.Errorf("profile ls %s: %w", st.name, err)
		}
		b.printf("ls -o json %s under the profiler: %s (user %s, sys %s), %s peak\n", st.name, secs(s.wall), secs(s.user), secs(s.sys), mib(s.maxRSS))
		if err := b.pprofTops(base); err != nil {
			return err
		}
		tbase := filepath.Join(dir, "ls-table-"+st.name)
		env = append(append([]string(nil), b.env...), "LEASECTL_CPUPROFILE="+tbase+".cpu.pprof", "LEASECTL_MEMPROFILE="+tbase+".allocs.pprof")
		if s, err = b.run(ctx, []string{b.prof, "--config", conf, "ls", "-o", "table"}, env, ""); err != nil {
			return fmt.Errorf("profile ls -o table %s: %w", st.name, err)
		}
		b.printf("ls -o table %s under the profiler: %s (user %s, sys %s), %s peak\n", st.name, secs(s.wall), secs(s.user), secs(s.sys), mib(s.maxRSS))
		if err := b.pprofTops(tbase); err != nil {
			return err
		}
		gc, err := b.gctrace(ctx, conf, base+".gctrace.txt")
		if err != nil {
			return fmt.Errorf("gctrace ls %s: %w", st.name, err)
		}
		b.printf("  GODEBUG=gctrace=1 (real binary): %s\n", gc)
	}
	if !console {
		return nil
	}
	for _, st := range sts {
		base := filepath.Join(dir, "console-"+st.name)
		start := time.Now()
		t, err := startTerm(b.tmux, append(append([]string(nil), b.termEnv...), "LEASECTL_CPUPROFILE="+base+".cpu.pprof", "LEASECTL_MEMPROFILE="+base+".allocs.pprof", "LEASECTL_HEAPPROFILE="+base+".live-heap.pprof"),
			b.prof, "--config", b.config(st.name+"-console", st))
		if err != nil {
			return err
		}
		live := regexp.MustCompile(fmt.Sprintf(`\b%s\b.* live · %d keys`, st.name, size))
		var scr string
		for {
			if scr, err = t.screen(); err != nil {
				t.close()
				return err
			}
			if live.MatchString(scr) {
				break
			}
			if t.dead() || time.Since(start) > b.liveTimeout {
				t.close()
				return fmt.Errorf("profiled console %s: not live; screen:\n%s", st.name, scr)
			}
			time.Sleep(pollEvery)
		}
		liveAt := time.Since(start)
		heap, err := t.heapProfile(base + ".live-heap.pprof")
		if err != nil {
			t.close()
			return fmt.Errorf("profiled console %s: %w", st.name, err)
		}
		// The sync's profile ends here; the steady state's is the next.
		if err := syscall.Kill(t.pid, syscall.SIGUSR2); err != nil {
			t.close()
			return err
		}
		var rate float64
		if steady {
			stopWrites := b.startWrites(ctx, st, size, nil)
			time.Sleep(b.warmup)
			syscall.Kill(t.pid, syscall.SIGUSR2)
			time.Sleep(b.window)
			syscall.Kill(t.pid, syscall.SIGUSR2)
			if rate, err = stopWrites(); err != nil {
				t.close()
				return fmt.Errorf("profiled console %s: steady writes: %w", st.name, err)
			}
		}
		err = t.quit(quitTimeout)
		t.close()
		if err != nil {
			return err
		}
		b.printf("console %s under the profiler: live after %s (the CPU profile of the sync ends there); in-use heap when live, after a GC: %s\n", st.name, secs(liveAt), heap)
		if err := b.pprofTops(base); err != nil {
			return err
		}
		out, err := exec.Command("go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=30", b.prof, base+".live-heap.pprof").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w\n%s", base+".live-heap.pprof", err, out)
		}
		if err := os.WriteFile(base+".live-heap.top.txt", out, 0o644); err != nil {
			return err
		}
		if steady {
			sbase := filepath.Join(dir, "console-steady-"+st.name)
			if err := os.Rename(base+".cpu.pprof.2", sbase+".cpu.pprof"); err != nil {
				return err
			}
			b.printf("console %s steady state under the profiler: %.1f writes/s, CPU profile over %v\n", st.name, rate, b.window)
			if err := b.pprofTops(sbase, "cpu"); err != nil {
				return err
			}
		}
	}
	b.printf("profiles and their summaries (*.top.txt): %s\n", dir)
	return nil
}

// pprofTops writes go tool pprof's summaries of base's CPU and allocation
// profiles (of those named in only, when given): flat and cumulative CPU,
// allocated space and objects.
func (b *bench) pprofTops(base string, only ...string) error {
	for _, q := range []struct {
		suffix, profile string
		args            []string
	}{
		{"cpu.top.txt", "cpu.pprof", []string{"-top", "-nodecount=40"}},
		{"cpu.cum.txt", "cpu.pprof", []string{"-top", "-cum", "-nodecount=60"}},
		{"alloc_space.top.txt", "allocs.pprof", []string{"-sample_index=alloc_space", "-top", "-nodecount=30"}},
		{"alloc_space.cum.txt", "allocs.pprof", []string{"-sample_index=alloc_space", "-top", "-cum", "-nodecount=40"}},
		{"alloc_objects.top.txt", "allocs.pprof", []string{"-sample_index=alloc_objects", "-top", "-nodecount=30"}},
	} {
		if len(only) > 0 && !slices.Contains(only, strings.TrimSuffix(q.profile, ".pprof")) {
			continue
		}
		out, err := exec.Command("go", append(append([]string{"tool", "pprof"}, q.args...), b.prof, base+"."+q.profile)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w\n%s", base+"."+q.profile, err, out)
		}
		if err := os.WriteFile(base+"."+q.suffix, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// gcLine is one line of GODEBUG=gctrace=1:
// gc 7 @0.512s 9%: 0.1+12+0.02 ms clock, 0.2+3/20/0+0.04 ms cpu, 40->42->21 MB, 44 MB goal, …
// (cpu: pause + assist/background/idle mark workers + pause; 9% is the share
// of the program's CPU spent in GC so far).
var gcLine = regexp.MustCompile(`^gc \d+ @([\d.]+)s (\d+)%: [\d.]+\+[\d.]+\+[\d.]+ ms clock, ([\d.]+)\+([\d.]+)/([\d.]+)/([\d.]+)\+([\d.]+) ms cpu, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// gctrace runs the real binary's ls -o json with GODEBUG=gctrace=1, keeps
// the trace in path and summarises it.
func (b *bench) gctrace(ctx context.Context, conf, path string) (string, error) {
	cmd := exec.CommandContext(ctx, b.bin, "--config", conf, "ls", "-o", "json")
	cmd.Env = append(append([]string(nil), b.env...), "GODEBUG=gctrace=1")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Run(); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return "", err
	}
	var n, share int
	var cpu, idle float64
	var peak, goal int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		share, _ = strconv.Atoi(m[2])
		for _, i := range []int{3, 4, 5, 7} {
			v, _ := strconv.ParseFloat(m[i], 64)
			cpu += v
		}
		v, _ := strconv.ParseFloat(m[6], 64)
		idle += v
		before, _ := strconv.Atoi(m[8])
		g, _ := strconv.Atoi(m[11])
		peak, goal = max(peak, before), max(goal, g)
	}
	return fmt.Sprintf("%d GCs, %d%% of the CPU at the last one; %.0f ms in pauses, assists and background marking, %.0f ms in idle mark workers; heap at most %d MB before a GC (goal at most %d MB); trace in %s",
		n, share, cpu, idle, peak, goal, strings.TrimPrefix(path, b.dir+"/")), sc.Err()
}

// heapTotal finds the total in go tool pprof's summary of a profile.
var heapTotal = regexp.MustCompile(`of ([\d.]+[kMG]?B) total`)

// heapProfile has the console in t (leasectlprof) write its in-use heap to
// path (SIGUSR1) and returns its total, as go tool pprof states it.
func (t *term) heapProfile(path string) (string, error) {
	os.Remove(path)
	if err := syscall.Kill(t.pid, syscall.SIGUSR1); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no heap profile in %s 30s after SIGUSR1", path)
		}
	}
	out, err := exec.Command("go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=1", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w\n%s", path, err, out)
	}
	if m := heapTotal.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "?", nil
}
