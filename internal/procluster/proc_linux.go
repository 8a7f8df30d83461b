package procluster

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr puts a member in its own process group (a terminal's Ctrl-C goes
// to the parent only, which then kills the members) and has the kernel SIGKILL
// it when the parent dies, so a crashed or killed test leaves no ringd behind.
//
// Pdeathsig fires when the OS thread that started the child exits, not only
// the whole process. Go's runtime keeps its threads, except one whose goroutine
// ends while locked with runtime.LockOSThread; nothing here does that.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitStopped polls /proc until the process is stopped (want true) or no
// longer stopped (want false), for at most two seconds.
func waitStopped(pid int, want bool) error {
	if pid == 0 {
		return ErrNotRunning
	}
	deadline := time.Now().Add(2 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		state, err := procState(pid)
		if err != nil {
			return fmt.Errorf("pid %d: %w", pid, ErrNotRunning)
		}
		if (state == 'T' || state == 't') == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d: still in state %q after 2s", pid, state)
		}
		<-tick.C
	}
}

// procState is the state letter of /proc/<pid>/stat (R, S, T, Z, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return b[i+2], nil
}

// ChildPIDs lists the processes whose parent is this process and that are not
// yet reaped: tests use it to show that nothing they started outlives them.
func ChildPIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := strconv.Itoa(os.Getpid())
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// After the command name in parentheses: state, then parent pid.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == self {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
