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
