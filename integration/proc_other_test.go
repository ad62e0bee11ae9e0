//go:build !linux

package integration

import "os/exec"

// killWithParent does nothing here: only Linux has a parent-death signal.
// Cleanups still stop every process a passing or failing test started.
func killWithParent(*exec.Cmd) {}
