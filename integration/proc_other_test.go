//go:build !linux

package integration

import "os/exec"

// killWithParent does nothing here: only Linux has a parent-death signal.
// Cleanups still stop every process a passing or failing test started.
func killWithParent(*exec.Cmd) {}

// killGroup returns a function that kills cmd's process.
func killGroup(cmd *exec.Cmd) func() {
	return func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	}
}
