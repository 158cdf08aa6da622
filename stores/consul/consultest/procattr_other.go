//go:build !unix

package consultest

import (
	"os"
	"syscall"
)

// procAttr has nothing to add where there are no process groups.
func procAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the agent process itself.
func killGroup(p *os.Process) {
	_ = p.Kill()
}
