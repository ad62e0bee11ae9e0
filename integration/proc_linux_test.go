package integration

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill cmd's process if the test binary dies
// first (a panic, or go test's -timeout), so that no server is left behind.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// killGroup runs cmd in a process group of its own and returns a function
// that kills the whole group: a proxy's master and its workers (which
// would otherwise keep the output pipe open after the master died).
func killGroup(cmd *exec.Cmd) func() {
	killWithParent(cmd)
	cmd.SysProcAttr.Setpgid = true
	return func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}
