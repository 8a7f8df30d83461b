//go:build !linux

package procluster

import (
	"errors"
	"syscall"
)

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

// ChildPIDs needs /proc; elsewhere it reports that it cannot tell.
func ChildPIDs() ([]int, error) {
	return nil, errors.New("procluster: listing child processes needs Linux /proc")
}
