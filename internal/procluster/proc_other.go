//go:build !linux

package procluster

import "syscall"

// sysProcAttr puts a member in its own process group. Only Linux has
// Pdeathsig, so elsewhere a member outlives a parent that dies without Close.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitStopped cannot observe the process state here; signals to a local
// process are delivered before kill(2) returns in practice.
func waitStopped(pid int, want bool) error {
	if pid == 0 {
		return ErrNotRunning
	}
	return nil
}
