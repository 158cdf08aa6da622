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
	"strconv"
	"strings"
	"time"
)

// profiles records, at size leases per store, where `ls -o json` and (with
// console) the console's sync spend their time and memory: CPU and
// allocation profiles through leasectlprof, summarised with go tool pprof
// into text files next to the profiles, and a GC trace of the real binary.
func (b *bench) profiles(ctx context.Context, sts []*store, size int, console bool) error {
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
		t, err := startTerm(b.tmux, append(append([]string(nil), b.termEnv...), "LEASECTL_CPUPROFILE="+base+".cpu.pprof", "LEASECTL_MEMPROFILE="+base+".allocs.pprof"),
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
		err = t.quit(quitTimeout)
		t.close()
		if err != nil {
			return err
		}
		b.printf("console %s under the profiler: live after %s (profile until quit)\n", st.name, secs(liveAt))
		if err := b.pprofTops(base); err != nil {
			return err
		}
	}
	b.printf("profiles and their summaries (*.top.txt): %s\n", dir)
	return nil
}

// pprofTops writes go tool pprof's summaries of base's CPU and allocation
// profiles: flat and cumulative CPU, allocated space and objects.
func (b *bench) pprofTops(base string) error {
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
var gcLine = regexp.MustCompile(`^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, ([\d.]+)\+([\d.]+)/([\d.]+)/([\d.]+)\+([\d.]+) ms cpu, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

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
	var n int
	var cpu float64
	var peak, goal int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		// Assist, background and dedicated mark workers and the two
		// pauses; idle workers used only CPU nobody else wanted.
		for _, i := range []int{4, 5, 6, 8} {
			v, _ := strconv.ParseFloat(m[i], 64)
			cpu += v
		}
		before, _ := strconv.Atoi(m[9])
		g, _ := strconv.Atoi(m[12])
		peak, goal = max(peak, before), max(goal, g)
	}
	return fmt.Sprintf("%d GCs, %.0f ms of GC CPU in all, heap at most %d MB before a GC (goal at most %d MB); trace in %s", n, cpu, peak, goal, strings.TrimPrefix(path, b.dir+"/")), sc.Err()
}
