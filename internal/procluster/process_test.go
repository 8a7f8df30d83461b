//go:build linux

package procluster

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startFake starts a cluster of fake ringds (this test binary) and closes it
// in t.Cleanup.
func startFake(t *testing.T, opt Options) *Cluster {
	t.Helper()
	opt.Binary = os.Args[0]
	opt.Env = append(opt.Env, fakeEnv+"=ringd")
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func flagValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// eventually polls f until it returns true (then true) or timeout passes
// (then false).
func eventually(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// gone reports whether pid has exited (a zombie counts: it no longer runs).
func gone(pid int) bool {
	st, err := procState(pid)
	return err != nil || st == 'Z' || st == 'X'
}

func TestStartSetsFlagsAndSeeds(t *testing.T) {
	dir := t.TempDir()
	c := startFake(t, Options{Members: 3, Partitions: 12, Fast: true, Dir: dir,
		ExtraArgs:  []string{"--log-level", "debug"},
		MemberArgs: func(i int) []string { return []string{"--priority", strconv.Itoa(10 * i)} },
	})
	ms := c.Members()
	if len(ms) != 3 {
		t.Fatalf("got %d members, want 3", len(ms))
	}
	seen := map[string]bool{}
	for i, m := range ms {
		if want := "ringd-" + strconv.Itoa(i); m.Name != want {
			t.Errorf("member %d is %s, want %s", i, m.Name, want)
		}
		for _, a := range []string{m.GossipAddr, m.HTTPAddr} {
			if !strings.HasPrefix(a, "127.0.0.1:") || seen[a] {
				t.Errorf("address %s not a fresh loopback address", a)
			}
			seen[a] = true
		}
		args := m.Args()
		checks := map[string]string{
			"--name": m.Name, "--gossip-addr": m.GossipAddr, "--http-addr": m.HTTPAddr,
			"--partitions": "12", "--bootstrap-expect": "3", "--gossip-profile": "local",
			"--lease": "2s", "--log-level": "debug", "--priority": strconv.Itoa(10 * i),
			"--data-dir": filepath.Join(dir, m.Name+".data"),
		}
		for flag, want := range checks {
			if got := flagValue(args, flag); got != want {
				t.Errorf("%s: %s is %q, want %q", m.Name, flag, got, want)
			}
		}
		if !strings.HasPrefix(flagValue(args, "--cluster-label"), "procluster-") {
			t.Errorf("%s: no random cluster label in %v", m.Name, args)
		}
		// Seeds: every other member's gossip address, not its own.
		var want []string
		for _, o := range ms {
			if o != m {
				want = append(want, o.GossipAddr)
			}
		}
		if got := flagValue(args, "--join"); got != strings.Join(want, ",") {
			t.Errorf("%s: --join %q, want %q", m.Name, got, strings.Join(want, ","))
		}
		if st, err := os.Stat(m.DataDir); err != nil || !st.IsDir() {
			t.Errorf("%s: data dir %s missing: %v", m.Name, m.DataDir, err)
		}
		if !strings.Contains(m.LogTail(5), "fake ringd "+m.Name+" up") {
			t.Errorf("%s: log %s lacks the fake's start line:\n%s", m.Name, m.LogPath, m.LogTail(5))
		}
	}
	// The helpers read every member's view.
	ctx := context.Background()
	s, took, err := c.WaitSettled(ctx, nil, 150*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatalf("WaitSettled: %v", err)
	}
	if len(s) != 3 || Leader(s) != "ringd-0" || took > 5*time.Second {
		t.Errorf("settled snapshot %v after %v", s, took)
	}
	cl, err := ms[1].Cluster(ctx)
	if err != nil || cl.Node != "ringd-1" || cl.Partitions != 12 || len(cl.Members) != 3 {
		t.Errorf("Cluster() = %+v, %v", cl, err)
	}
}

func TestKillStopContRestartClose(t *testing.T) {
	c := startFake(t, Options{Members: 3, Partitions: 9})
	ctx := context.Background()
	m0, m1, m2 := c.Members()[0], c.Members()[1], c.Members()[2]
	if d, err := c.WaitFullCoverage(ctx, nil, 10*time.Second); err != nil {
		t.Fatalf("WaitFullCoverage: %v (after %v)", err, d)
	}

	// Kill: the member is gone at once, and its partitions are uncovered.
	if err := m1.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if m1.Running() || m1.PID() != 0 {
		t.Fatalf("after Kill: Running=%v PID=%d", m1.Running(), m1.PID())
	}
	if err := m1.Kill(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Kill = %v, want ErrNotRunning", err)
	}
	if _, err := m1.Mine(ctx); err == nil {
		t.Error("killed member still answers")
	}
	var ee *exec.ExitError
	if err := m1.Wait(ctx); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after Kill = %v, want killed by SIGKILL", err)
	}
	if got := c.Names(); !slices.Equal(got, []string{"ringd-0", "ringd-2"}) {
		t.Errorf("Names() = %v", got)
	}
	_, err := c.WaitFullCoverage(ctx, nil, 300*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "listed by nobody: [1 4 7]") {
		t.Errorf("coverage without ringd-1 = %v, want a timeout naming [1 4 7]", err)
	}
	_, _, err = c.WaitFor(ctx, []string{"ringd-0", "ringd-1"}, 5*time.Second, func(Snapshot) error { return nil })
	if !errors.Is(err, ErrExited) {
		t.Errorf("WaitFor a dead member = %v, want ErrExited", err)
	}

	// Restart: same ports, the log gets a second run.
	if err := m1.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if v, err := m1.Mine(ctx); err != nil || v.Node != "ringd-1" {
		t.Fatalf("after Restart Mine = %+v, %v", v, err)
	}
	log, _ := os.ReadFile(m1.LogPath)
	if n := strings.Count(string(log), logMarker); n != 2 || !strings.Contains(string(log), "restart: ") {
		t.Errorf("log has %d start markers, want 2 with a restart:\n%s", n, log)
	}
	if _, err := c.WaitFullCoverage(ctx, nil, 10*time.Second); err != nil {
		t.Fatalf("coverage after restart: %v", err)
	}

	// Stop freezes the process; Cont thaws it.
	if err := m2.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st, _ := procState(m2.PID()); st != 'T' {
		t.Errorf("stopped process state %q, want T", st)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = m2.Mine(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Mine of a stopped member = %v, want a deadline error", err)
	}
	if err := m2.Cont(); err != nil {
		t.Fatalf("Cont: %v", err)
	}
	if v, err := m2.Mine(ctx); err != nil || v.Node != "ringd-2" {
		t.Errorf("after Cont Mine = %+v, %v", v, err)
	}

	// SIGTERM: the fake exits 0, as a graceful shutdown would.
	if err := m2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m2.Wait(wctx); err != nil {
		t.Errorf("Wait after SIGTERM = %v, want a clean exit", err)
	}
	if err := m2.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal to an exited member = %v, want ErrNotRunning", err)
	}

	// Close kills and reaps the rest; it is idempotent; nothing starts after.
	pid0 := m0.PID()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if m0.Running() || !gone(pid0) {
		t.Errorf("ringd-0 (pid %d) still running after Close", pid0)
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after Close: %v", kids)
	}
	if err := m1.Restart(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}

func TestStartRetriesWhenAPortIsTaken(t *testing.T) {
	dir := t.TempDir()
	c := startFake(t, Options{Members: 2, Partitions: 4, Dir: dir,
		Env: []string{fakeFailOnceEnv + "=" + filepath.Join(dir, "failed-once")}})
	var logs string
	for _, m := range c.Members() {
		b, _ := os.ReadFile(m.LogPath)
		logs += string(b)
	}
	if !strings.Contains(logs, "address already in use") || !strings.Contains(logs, "start (attempt 2)") {
		t.Errorf("no retry after a bind failure in the logs:\n%s", logs)
	}
	if _, err := c.WaitFullCoverage(context.Background(), nil, 10*time.Second); err != nil {
		t.Errorf("coverage after the retry: %v", err)
	}
}

func TestStartFailsAndCleansUpWhenAMemberExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, Options{Binary: os.Args[0], Members: 2, Partitions: 4, Dir: t.TempDir(),
		Env: []string{fakeEnv + "=ringd", fakeExitEnv + "=1"}})
	if err == nil {
		c.Close()
		t.Fatal("Start succeeded with members that exit at once")
	}
	if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error does not give the exit status and output: %v", err)
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after a failed Start: %v", kids)
	}
}

func TestStartHonoursContext(t *testing.T) {
	// A member that never serves HTTP: Start waits until ctx ends, then kills it.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := Start(ctx, Options{Binary: os.Args[0], Members: 1, Partitions: 1, Dir: t.TempDir(),
		Env: []string{fakeEnv + "=ringd", fakeHangEnv + "=1"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start = %v, want a deadline error", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Start took %v after its context ended", d)
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after a cancelled Start: %v", kids)
	}
}

func TestMembersDieWithTheirParent(t *testing.T) {
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), fakeEnv+"=parent", fakeDirEnv+"="+t.TempDir())
	stdin, err := parent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pids ") {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("parent said %q, %v", line, err)
	}
	var pids []int
	for _, f := range strings.Fields(strings.TrimPrefix(line, "pids ")) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	if len(pids) != 2 || gone(pids[0]) || gone(pids[1]) {
		t.Fatalf("members %v not running", pids)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	for _, pid := range pids {
		if !eventually(10*time.Second, func() bool { return gone(pid) }) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("member pid %d outlived its killed parent", pid)
		}
	}
}

func TestRunAppsAcknowledgesTheIndex(t *testing.T) {
	c := startFake(t, Options{Members: 2, Partitions: 4})
	ctx := context.Background()
	stop := c.RunApps(ctx)
	acked := func(m *Member) uint64 {
		var n uint64
		if err := m.GetJSON(ctx, "/fake/acked", &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, m := range c.Members() {
		if !eventually(10*time.Second, func() bool { return acked(m) == 7 }) {
			stop()
			t.Fatalf("%s: the app never polled with the index it saw (acked %d)", m.Name, acked(m))
		}
	}
	begin := time.Now()
	stop() // cuts the pending long-polls short
	if d := time.Since(begin); d > time.Second {
		t.Errorf("stop took %v, the long-polls were not cancelled", d)
	}
}

func TestOptionsValidate(t *testing.T) {
	_, err := Start(context.Background(), Options{Binary: filepath.Join(t.TempDir(), "nope"), Members: 0, Partitions: -1})
	if err == nil {
		t.Fatal("Start accepted bad options")
	}
	for _, want := range []string{"binary: stat ", "members: 0, must be at least 1", "partitions: -1, must be at least 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// childPIDs lists this test process's unreaped children (see
// procluster.ChildPIDs).
func childPIDs(t *testing.T) []int {
	t.Helper()
	pids, err := ChildPIDs()
	if err != nil {
		t.Fatal(err)
	}
	return pids
}
