//go:build unix && !linux

package consul_test

import "syscall"

// agentProcAttr puts the agent in its own process group, so that stop kills
// everything it started. (Only Linux can also tie its life to ours.)
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
