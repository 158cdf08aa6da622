//go:build unix && !linux

package consultest

import (
	"os"
	"syscall"
)

// procAttr puts the agent in its own process group, so that stopping it
// kills everything it started. (Only Linux can also tie its life to ours.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group that p leads.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
