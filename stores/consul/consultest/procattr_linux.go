package consultest

import (
	"os"
	"syscall"
)

// procAttr puts the agent in its own process group, so that stopping it
// kills everything it started, and has the kernel kill it if the test
// binary dies first (Pdeathsig), so no agent outlives a crashed or killed
// test. Pdeathsig follows the thread that started the agent; the Go runtime
// ends a thread only when a goroutine exits while locked to it, which no
// caller of this package does around Start.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group that p leads.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
