//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The confirmation prompt and the table, in a real terminal (tmux) and
// through real pipes.

// cliRunInTerm runs leasectl with args in a terminal of width columns. The
// pane's shell waits for a first Enter, so that the window has its size
// before leasectl looks at it.
func cliRunInTerm(t *testing.T, width int, args ...string) *term {
	t.Helper()
	argv := append([]string{"sh", "-c", `read go; exec "$0" "$@"`, leasectlBinary(t)}, args...)
	tm := startTerm(t, consoleEnv(), argv...)
	tm.must("resize-window", "-t", session, "-x", strconv.Itoa(width), "-y", strconv.Itoa(termHeight))
	if got := tm.display("#{pane_width}"); got != strconv.Itoa(width) {
		t.Fatalf("pane width %s, want %d", got, width)
	}
	tm.keys("Enter")
	return tm
}

// TestCLIPromptInterrupt presses Ctrl-C at the confirmation prompt: the
// command must stop at once, without waiting for Enter, and write nothing.
func TestCLIPromptInterrupt(t *testing.T) {
	f := newFixture(t, newEtcd(t), "prompt", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	rev := f.scope.put(t, key, record("node-a", now, now+3600))
	tm := cliRunInTerm(t, termWidth, f.args("release", key, "--store", storeName, "--reason", "r")...)
	tm.waitText(`Type orders to`)
	tm.keys("C-c")
	if status := tm.waitExit(); status != "status 1" {
		t.Errorf("after Ctrl-C at the prompt leasectl exited with %s, want status 1", status)
	}
	screen := tm.screen()
	if !strings.Contains(screen, "interrupted; nothing was written") {
		t.Errorf("the screen does not say the command was interrupted:\n%s", screen)
	}
	if _, got, _ := f.scope.get(t, key); got != rev {
		t.Errorf("an interrupted release wrote: revision %d, want %d", got, rev)
	}
	if trail, _ := cliAudit(t, f.audit); len(trail) != 0 {
		t.Errorf("an interrupted release left audit lines: %v", trail)
	}
}

// TestCLIPromptAfterTimeout confirms a takeover well after --timeout: the
// time a person takes to read and type is not a store call.
func TestCLIPromptAfterTimeout(t *testing.T) {
	f := newFixture(t, newEtcd(t), "prompt", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	f.scope.put(t, key, record("node-a", now, now+3600))
	tm := cliRunInTerm(t, termWidth, f.args("--timeout", "1s", "takeover", key, "--store", storeName, "--ttl", "5m", "--reason", "slow reader")...)
	tm.waitText(`Type orders to`)
	time.Sleep(3 * time.Second)
	tm.typeText("orders")
	tm.keys("Enter")
	if status := tm.waitExit(); status != "status 0" {
		t.Errorf("a takeover confirmed 3 s into --timeout 1s exited with %s, want status 0; screen:\n%s", status, tm.screen())
	}
	if v, _, _ := f.scope.get(t, key); !bytes.Contains(v, []byte("operator:"+operator)) {
		t.Errorf("after the confirmed takeover %s holds %q", key, v)
	}
}

// TestCLIConfirmDevZero gives the prompt an endless stream without a
// newline (/dev/zero, a character device that is no terminal): leasectl
// must refuse at once with a bounded read, not grow until the runtime dies.
// A watchdog reads the process's resident memory while it runs and kills it
// past devZeroRSSLimit, so an unbounded read fails the test rather than
// filling the machine. (An address-space limit, ulimit -v, was tried first:
// how much address space the Go runtime reserves depends on the machine, so
// a limit that suits one kills a healthy leasectl on another.)
func TestCLIConfirmDevZero(t *testing.T) {
	f := newFixture(t, newEtcd(t), "devzero", false)
	key := f.scope.key("exports/orders")
	now := time.Now().Unix()
	rev := f.scope.put(t, key, record("node-a", now, now+3600))
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	p := command(t, f.args("release", key, "--store", storeName, "--reason", "r")...)
	p.cmd.Stdin = zero
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := make(chan int64, 1)
	go func() { peak <- watchRSS(p.cmd.Process, devZeroRSSLimit) }()
	if top := <-peak; top > devZeroRSSLimit {
		t.Fatalf("release < /dev/zero grew to %d MiB resident (limit %d MiB) and was killed: the read is unbounded", top>>20, devZeroRSSLimit>>20)
	}
	r := p.wait(t)
	if r.code != 2 || !strings.Contains(r.stderr, "nothing was written") && !strings.Contains(r.stderr, "refusing without --yes") {
		t.Errorf("release < /dev/zero: exit %d, stderr %.600q; want exit 2, refused", r.code, r.stderr)
	}
	if _, got, _ := f.scope.get(t, key); got != rev {
		t.Errorf("release < /dev/zero wrote: revision %d, want %d", got, rev)
	}
}

// devZeroRSSLimit is far above what leasectl needs to refuse (about 30 MiB)
// and far below what an unbounded read reaches in a second.
const devZeroRSSLimit = 512 << 20

// watchRSS polls the resident set of a running process every few
// milliseconds until it exits, kills it once the set passes limit, and
// returns the largest size seen in bytes.
func watchRSS(proc *os.Process, limit int64) int64 {
	var top int64
	status := fmt.Sprintf("/proc/%d/status", proc.Pid)
	for {
		b, err := os.ReadFile(status)
		if err != nil {
			return top // gone
		}
		rss := int64(-1)
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				rss = kb << 10
			}
		}
		if rss < 0 {
			return top // a zombie has no VmRSS: it has exited
		}
		top = max(top, rss)
		if rss > limit {
			proc.Kill()
			return top
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cliBulkKey is the i-th of many keys that differ only at their end.
func cliBulkKey(prefix string, i int) string {
	return fmt.Sprintf("%sexports/bulk/fold-%03d/export-%06d", prefix, i%1000, i)
}

// cliPlantEtcd writes n bulk keys under prefix with etcd's own client, in
// batched transactions, each a live lease of a long-named holder.
func cliPlantEtcd(t *testing.T, b *etcdBackend, prefix string, n int) {
	t.Helper()
	now := time.Now().Unix()
	v := string(record("node-with-a-rather-long-holder-name-7", now, now+3600))
	var ops []clientv3.Op
	flush := func() {
		if _, err := b.cli.Txn(t.Context()).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range n {
		if ops = append(ops, clientv3.OpPut(cliBulkKey(prefix, i), v)); len(ops) == 128 {
			flush()
		}
	}
	if len(ops) > 0 {
		flush()
	}
}

// cliBulkPiped is how many keys TestCLILsPiped lists: the count.
const cliBulkPiped = 100_000

// TestCLILsPiped lists 100,000 keys that differ only at their end into a
// pipe: every row must carry its key whole.
func TestCLILsPiped(t *testing.T) {
	b := newEtcd(t)
	f := newFixture(t, b, "bulk", false)
	start := time.Now()
	cliPlantEtcd(t, b, f.scope.key(""), cliBulkPiped)
	t.Logf("planted %d keys in %v", cliBulkPiped, time.Since(start))
	start = time.Now()
	r := f.run(t, "ls", "--store", storeName)
	if r.code != 0 {
		t.Fatalf("exit %d: %.2000s", r.code, r.stderr)
	}
	t.Logf("ls of %d keys into a pipe: %v, %d bytes", cliBulkPiped, time.Since(start), len(r.stdout))
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	cells := map[string]bool{}
	for _, l := range lines[1:] {
		if fs := strings.Fields(l); len(fs) > 1 {
			cells[fs[1]] = true
		}
	}
	whole := 0
	for i := range cliBulkPiped {
		if cells[cliBulkKey(f.scope.key(""), i)] {
			whole++
		}
	}
	if len(lines) != cliBulkPiped+1 || len(cells) != cliBulkPiped || whole != cliBulkPiped {
		t.Errorf("ls into a pipe: %d lines, %d distinct key cells, %d keys whole; want a header and %d rows, every key whole; first rows:\n%s",
			len(lines), len(cells), whole, cliBulkPiped, strings.Join(lines[:min(4, len(lines))], "\n"))
	}
}

// cliBulkTerm is how many keys TestCLILsTerminal lists on one screen.
const cliBulkTerm = 25

// TestCLILsTerminal lists keys that differ only at their end in an
// 80-column terminal: no line may be wider than the terminal, and the keys
// must stay distinguishable, their last segment shown.
func TestCLILsTerminal(t *testing.T) {
	b := newEtcd(t)
	f := newFixture(t, b, "term", false)
	cliPlantEtcd(t, b, f.scope.key(""), cliBulkTerm)
	const width = 80
	tm := cliRunInTerm(t, width, f.args("ls", "--store", storeName)...)
	if status := tm.waitExit(); status != "status 0" {
		t.Fatalf("ls exited with %s:\n%s", status, tm.screen())
	}
	// -J joins lines the terminal wrapped, so a line too wide shows whole.
	screen := tm.must("capture-pane", "-p", "-J", "-t", session)
	t.Logf("ls at %d columns:\n%s", width, screen)
	cells := map[string]bool{}
	rows := 0
	for _, l := range strings.Split(screen, "\n") {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("a line is %d cells wide in a %d-column terminal: %q", w, width, l)
		}
		fs := strings.Fields(l)
		if len(fs) < 2 || fs[0] != storeName {
			continue
		}
		rows++
		cells[fs[1]] = true
	}
	if rows != cliBulkTerm || len(cells) != cliBulkTerm {
		t.Errorf("%d rows with %d distinct key cells, want %d distinct", rows, len(cells), cliBulkTerm)
	}
	for i := range cliBulkTerm {
		last := fmt.Sprintf("export-%06d", i)
		found := false
		for c := range cells {
			found = found || strings.HasSuffix(c, last)
		}
		if !found {
			t.Errorf("no key cell ends in its last segment %s", last)
		}
	}
}
