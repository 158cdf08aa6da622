//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// header prints the machine, the versions and the settings.
func (b *bench) header(t tools, sizes []int) {
	b.printf("leasectl fleet-scale benchmark (bench/scale, issue 9)\n")
	b.printf("date:      %s\n", time.Now().UTC().Format(time.RFC3339))
	b.printf("machine:   %s; %s; %d CPUs; %s RAM\n", firstLine(output("uname", "-srm")), cpuModel(), runtime.NumCPU(), memTotal())
	b.printf("load:      %s (1, 5, 15 min)\n", loadAvg())
	source := b.source
	if source == "" {
		source = vcs()
	}
	b.printf("leasectl:  %s (%s)\n", b.bin, source)
	b.printf("go:        %s\n", runtime.Version())
	b.printf("servers:   etcd %s embedded, nats-server %s embedded (JetStream on disk, bucket History %d), %s agent -dev\n",
		depVersion("go.etcd.io/etcd/server/v3"), depVersion("github.com/nats-io/nats-server/v2"), natsHistory, firstLine(output(t.consul, "version")))
	b.printf("tools:     %s; %s; %s; %s\n", strings.Join(strings.Fields(firstLine(output(t.etcdctl, "version"))), " "), firstLine(output(t.consul, "version")), curlVersion(t), firstLine(output(b.tmux, "-V")))
	b.printf("data:      keys %s, values ~%d bytes: 1/10 expired, 1/20 corrupt, 1/20 tombstones, the rest held\n", key(0), recordSize)
	b.printf("sizes:     %v leases per store; each command %d times, alternating, medians\n", sizes, b.runs)
	b.printf("console:   %dx%d tmux, screen polled every %v; steady state %.0f writes/s, CPU over %v (idle %v first), latency probes for %v\n\n",
		termWidth, termHeight, pollEvery, b.rate, b.window, b.idleWindow, b.window)
}

func curlVersion(t tools) string {
	if t.curl == "" {
		return "curl missing: raw HTTP through bench/scale/httpget"
	}
	return strings.Join(strings.Fields(firstLine(output(t.curl, "--version")))[:2], " ")
}

// printLs prints the listing commands at one size.
func (b *bench) printLs(sts []*store, size int) {
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "store\tcommand\twall (median)\tmin–max\tuser\tsys\tpeak RSS\tpage faults\toutput")
	for _, st := range sts {
		for _, label := range b.commands[st.name] {
			s := b.ls[size][st.name][label]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s–%s\t%s\t%s\t%s\t%d\t%s\n", st.name, label, secs(s.wall), secs(s.minWall), secs(s.maxWall), secs(s.user), secs(s.sys), mib(s.maxRSS), s.faults, mib(s.out))
		}
	}
	tw.Flush()
}

// printConsole prints one console run.
func (b *bench) printConsole(r consoleResult) {
	first := "not seen before live"
	if r.firstRows > 0 {
		first = secs(r.firstRows)
	}
	b.printf("console %s, %d leases: first rows %s, live %s (CPU %s), VmHWM %s at live, %s at quit\n",
		r.stores, r.leases, first, secs(r.live), secs(r.cpuLive), mib(r.hwmLive), mib(r.hwmQuit))
	var marks []string
	for i, f := range progressMarks {
		at := "—"
		if r.progress[i] > 0 {
			at = secs(r.progress[i])
		}
		marks = append(marks, fmt.Sprintf("%.0f%% %s", 100*f, at))
	}
	b.printf("  keys shown by: %s, 100%% %s; other processes used %.0f%% of one core meanwhile\n", strings.Join(marks, ", "), secs(r.live), r.other)
	if s := r.steady; s != nil {
		b.printf("  steady: %.1f writes/s; CPU %.1f%% of a core idle, %.1f%% under writes (%v); write→screen %d probes: p50 %s, p99 %s, max %s, lost %d\n",
			s.rate, s.idleCPU, s.cpu, s.window, len(s.latencies), ms(percentile(s.latencies, 0.5)), ms(percentile(s.latencies, 0.99)), ms(percentile(s.latencies, 1)), s.lost)
	}
}

// summary prints the tables: leasectl against the stores' own
// tools at the largest size, the size series, the console.
func (b *bench) summary(sts []*store, sizes []int) {
	largest := sizes[len(sizes)-1]
	b.printf("\n== SUMMARY\n\n")
	b.printf("ls at %d leases per store, each command a whole process, medians of %d alternating runs:\n\n", largest, b.runs)
	b.printf("| | leasectl | the store's own tool, same data, same run | ratio (wall) | ratio (RSS) |\n|---|---|---|---|---|\n")
	for _, st := range sts {
		m := b.ls[largest][st.name]
		ls := m["leasectl ls -o json"]
		for _, nat := range st.natives {
			n := m[nat.label]
			b.printf("| %s: `leasectl ls -o json` vs `%s` | %s, %s peak (user %s, sys %s) | %s, %s (user %s, sys %s) | **%.2f×** | %.2f× |\n",
				st.name, nat.label, secs(ls.wall), mib(ls.maxRSS), secs(ls.user), secs(ls.sys), secs(n.wall), mib(n.maxRSS), secs(n.user), secs(n.sys),
				ratio(ls.wall, n.wall), float64(ls.maxRSS)/float64(n.maxRSS))
		}
		tb := m["leasectl ls -o table (piped)"]
		b.printf("| %s: `leasectl ls -o table` (piped) vs `-o json` | %s, %s | %s, %s | %.2f× | %.2f× |\n",
			st.name, secs(tb.wall), mib(tb.maxRSS), secs(ls.wall), mib(ls.maxRSS), ratio(tb.wall, ls.wall), float64(tb.maxRSS)/float64(ls.maxRSS))
	}

	b.printf("\nls -o json by size (median wall; µs per lease after the fixed cost of an empty listing; peak RSS):\n\n")
	b.printf("| store | leases | leasectl ls -o json | µs/lease | peak RSS | native | native wall | ratio |\n|---|---|---|---|---|---|---|---|\n")
	for _, st := range sts {
		for _, size := range sizes {
			m := b.ls[size][st.name]
			ls, empty := m["leasectl ls -o json"], m["leasectl ls nothing/ -o json (fixed cost)"]
			for j, nat := range st.natives {
				n := m[nat.label]
				if j == 0 {
					b.printf("| %s | %d | %s | %.1f | %s | %s | %s | %.2f× |\n", st.name, size, secs(ls.wall),
						float64((ls.wall-empty.wall).Microseconds())/float64(size), mib(ls.maxRSS), shortLabel(nat.label), secs(n.wall), ratio(ls.wall, n.wall))
				} else {
					b.printf("| | | | | | %s | %s | %.2f× |\n", shortLabel(nat.label), secs(n.wall), ratio(ls.wall, n.wall))
				}
			}
		}
	}

	if len(b.consoles) == 0 {
		return
	}
	b.printf("\nconsole (real binary, %dx%d tmux; times from start, screen polled every %v):\n\n", termWidth, termHeight, pollEvery)
	b.printf("| stores | leases | first rows | live | CPU to live | `ls -o json`, same store | live / ls | VmHWM at live | VmHWM at quit |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range b.consoles {
		lsWall, rel := "—", "—"
		if m, ok := b.ls[r.leases][r.stores]; ok {
			ls := m["leasectl ls -o json"]
			lsWall, rel = secs(ls.wall), fmt.Sprintf("%.1f×", ratio(r.live, ls.wall))
		}
		first := "—"
		if r.firstRows > 0 {
			first = secs(r.firstRows)
		}
		b.printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.stores, r.leases, first, secs(r.live), secs(r.cpuLive), lsWall, rel, mib(r.hwmLive), mib(r.hwmQuit))
	}
	var steady bool
	for _, r := range b.consoles {
		steady = steady || r.steady != nil
	}
	if !steady {
		return
	}
	b.printf("\nconsole steady state (one store, %.0f writes/s spread over the keys):\n\n", b.rate)
	b.printf("| store | leases | writes/s | CPU idle | CPU under writes | write→screen p50 | p99 | max | probes (lost) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range b.consoles {
		if s := r.steady; s != nil {
			b.printf("| %s | %d | %.1f | %.1f%% | %.1f%% | %s | %s | %s | %d (%d) |\n", r.stores, r.leases, s.rate, s.idleCPU, s.cpu,
				ms(percentile(s.latencies, 0.5)), ms(percentile(s.latencies, 0.99)), ms(percentile(s.latencies, 1)), len(s.latencies), s.lost)
		}
	}
	b.printf("\n(write→screen: from the start of a write with the store's own client to the first capture-pane showing the new holder on a top row; captures every ~%v plus the capture's own time)\n", probePoll)
}

func shortLabel(l string) string {
	if i := strings.Index(l, " ("); i > 0 && !strings.HasPrefix(l, "raw") {
		return l[:i]
	}
	return l
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func mib(n int64) string {
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// output runs a command and returns its standard output ("?" on failure).
func output(name string, args ...string) string {
	var out bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdout = &out
	if err := c.Run(); err != nil && out.Len() == 0 {
		return "?"
	}
	return out.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// depVersion returns the version of a module linked into this program.
func depVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "?"
}

// vcs describes the leasectl source the benchmark was built from: the
// commit, and whether the tree had changes, from the build info of this
// program (built from the same tree as the binary by scripts/bench-scale.sh).
func vcs() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown commit"
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	if rev == "" {
		return "unknown commit"
	}
	if modified == "true" {
		rev += " with uncommitted changes"
	}
	return "commit " + rev + " of " + at
}
