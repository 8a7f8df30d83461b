package main

// Tests that start real ringd processes on 127.0.0.1 and SIGKILL, SIGSTOP,
// SIGCONT and SIGTERM them, checking from outside, through GET
// /partitions/mine, that every partition is owned and never by two members
// at once (see procluster.Watcher for what counts as proven).

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/procluster"
)

// ringdBinary is built once for all process tests.
var ringdBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringd-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	ringdBinary, err = procluster.BuildRingd(ctx, dir, false)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building ringd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	procPartitions = 32
	settleTimeout  = 60 * time.Second
)

// startProcs starts n members with fast timings, their apps (pollers that
// acknowledge releases) and an ownership watcher. The watcher is checked at
// cleanup.
func startProcs(t *testing.T, n int) (*procluster.Cluster, context.Context) {
	return startProcsOpts(t, procluster.Options{Members: n})
}

func startProcsOpts(t *testing.T, opt procluster.Options) (*procluster.Cluster, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	opt.Binary, opt.Partitions, opt.Dir, opt.Fast = ringdBinary, procPartitions, t.TempDir(), true
	n := opt.Members
	c, err := procluster.Start(ctx, opt)
	if err != nil {
		t.Fatalf("starting %d members: %v", n, err)
	}
	stopApps := c.RunApps(ctx)
	w := c.Watch(ctx, 20*time.Millisecond)
	t.Cleanup(func() {
		stopApps()
		if v := w.Stop(); len(v) > 0 {
			t.Errorf("ownership violations seen from outside (%d polls):\n%s", w.Polls(), joinLines(v))
		} else {
			t.Logf("no ownership violation in %d polls", w.Polls())
		}
		if t.Failed() {
			for _, m := range c.Members() {
				t.Logf("log of %s:\n%s", m.Name, m.LogTail(60))
			}
		}
		c.Close()
	})
	settled(ctx, t, c, c.Names())
	return c, ctx
}

func settled(ctx context.Context, t *testing.T, c *procluster.Cluster, names []string) procluster.Snapshot {
	t.Helper()
	s, took, err := c.WaitSettled(ctx, names, 500*time.Millisecond, settleTimeout)
	if err != nil {
		t.Fatalf("members %v did not settle: %v", names, err)
	}
	t.Logf("members %v settled in %v", names, took.Round(time.Millisecond))
	return s
}

func joinLines(v []string) string {
	out := ""
	for i, s := range v {
		if i == 10 {
			return out + fmt.Sprintf("... and %d more\n", len(v)-10)
		}
		out += "  " + s + "\n"
	}
	return out
}

// lostBySurvivors lists the grants that members present in both snapshots
// held before and no longer hold with the same token: a failure elsewhere
// must not move a survivor's partitions.
func lostBySurvivors(before, after procluster.Snapshot) []string {
	var out []string
	for name, a := range after {
		have := map[int]uint64{}
		for _, p := range a.Partitions {
			have[p.ID] = p.Token
		}
		for _, p := range before[name].Partitions {
			if have[p.ID] != p.Token {
				out = append(out, fmt.Sprintf("%s: partition %d token %d -> %d", name, p.ID, p.Token, have[p.ID]))
			}
		}
	}
	return out
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

func TestProcessKillMemberAndLeader(t *testing.T) {
	c, ctx := startProcs(t, 5)
	s := settled(ctx, t, c, c.Names())
	leader := procluster.Leader(s)
	// A follower first.
	var follower string
	for _, n := range c.Names() {
		if n != leader {
			follower = n
			break
		}
	}
	start := time.Now()
	if err := c.Member(follower).Kill(); err != nil {
		t.Fatal(err)
	}
	after := settled(ctx, t, c, c.Names())
	t.Logf("SIGKILL of follower %s: coverage back after %v", follower, time.Since(start).Round(time.Millisecond))
	if lost := lostBySurvivors(s, after); len(lost) > 0 {
		t.Errorf("survivors lost partitions when a follower was killed: %v", lost)
	}
	// Then the leader.
	start = time.Now()
	if err := c.Member(leader).Kill(); err != nil {
		t.Fatal(err)
	}
	final := settled(ctx, t, c, c.Names())
	t.Logf("SIGKILL of leader %s: coverage back after %v, new leader %s", leader, time.Since(start).Round(time.Millisecond), procluster.Leader(final))
	if lost := lostBySurvivors(after, final); len(lost) > 0 {
		t.Errorf("survivors lost partitions when the leader was killed: %v", lost)
	}
}

func TestProcessStopLeaderLongerThanLease(t *testing.T) {
	c, ctx := startProcs(t, 3)
	s := settled(ctx, t, c, c.Names())
	leader := procluster.Leader(s)
	m := c.Member(leader)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	others := without(c.Names(), leader)
	settled(ctx, t, c, others)
	t.Logf("SIGSTOP of leader %s: the others own everything after %v", leader, time.Since(start).Round(time.Millisecond))
	if err := m.Cont(); err != nil {
		t.Fatal(err)
	}
	// The resumed process must not list anything another member owns: its
	// lease ran out while it was stopped. Poll it right away and for a
	// while, comparing with what the others say.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		mine, err := m.Mine(ctx)
		if err == nil && len(mine.Partitions) > 0 {
			snap, _ := c.Poll(ctx, others)
			for _, p := range mine.Partitions {
				for name, v := range snap {
					for _, q := range v.Partitions {
						if q.ID == p.ID && q.Token > p.Token {
							t.Fatalf("resumed %s lists partition %d (token %d) that %s owns with token %d", leader, p.ID, p.Token, name, q.Token)
						}
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	settled(ctx, t, c, c.Names())
}

func TestProcessRollingRestart(t *testing.T) {
	c, ctx := startProcs(t, 3)
	for _, name := range c.Names() {
		m := c.Member(name)
		start := time.Now()
		if err := m.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := m.Wait(wctx)
		cancel()
		if err != nil {
			t.Fatalf("%s did not exit after SIGTERM: %v", name, err)
		}
		t.Logf("%s drained and exited in %v", name, time.Since(start).Round(time.Millisecond))
		settled(ctx, t, c, c.Names())
		if err := m.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		settled(ctx, t, c, c.Names())
	}
}

// TestProcessWholeClusterRestartTokensGrow kills every member at once and
// starts them all again: every fencing token issued afterwards must be above
// every token issued before, with --data-dir (term on disk) and without
// (terms floored at the wall-clock millisecond).
func TestProcessWholeClusterRestartTokensGrow(t *testing.T) {
	for _, noDataDir := range []bool{false, true} {
		t.Run(fmt.Sprintf("data-dir=%v", !noDataDir), func(t *testing.T) {
			c, ctx := startProcsOpts(t, procluster.Options{Members: 3, NoDataDir: noDataDir})
			before := settled(ctx, t, c, c.Names())
			var highest uint64
			for _, v := range before {
				for _, p := range v.Partitions {
					highest = max(highest, p.Token)
				}
			}
			for _, m := range c.Members() {
				if err := m.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range c.Members() {
				if err := m.Restart(ctx); err != nil {
					t.Fatal(err)
				}
			}
			after := settled(ctx, t, c, c.Names())
			for name, v := range after {
				for _, p := range v.Partitions {
					if p.Token <= highest {
						t.Errorf("%s: partition %d has token %d after the restart, not above %d from before", name, p.ID, p.Token, highest)
					}
				}
			}
			t.Logf("highest token before %d; every token after is higher", highest)
		})
	}
}
