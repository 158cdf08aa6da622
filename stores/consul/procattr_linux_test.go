package consul_test

import "syscall"

// agentProcAttr puts the agent in its own process group, so that stop kills
// everything it started, and has the kernel kill it if the test binary dies
// first (Pdeathsig), so no agent outlives a crashed or killed test.
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
