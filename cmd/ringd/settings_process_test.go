package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// TestProcessRollingSettingsChange runs the documented procedure for changing
// cluster-wide settings (docs/operations.md, "Changing a cluster-wide
// setting") on real processes: every member restarted one at a time with a
// much shorter --lease, a shorter --leader-lease and another --load, the
// leader last. The leader goes by SIGKILL while a follower is stopped
// (SIGSTOP) holding partitions under the old, long lease the leader renewed
// it with; the new leader runs the new, short lease and must still wait for
// that one. Members with both settings join each other, coverage comes back
// after every step, the ownership checkers (from outside, and the
// applications' leases) see no partition with two owners, and at the end the
// new lease is the one in force.
func TestProcessRollingSettingsChange(t *testing.T) {
	const oldLease = 6 * time.Second
	const newLease, newLeaderLease, newLoad = 1400 * time.Millisecond, 600 * time.Millisecond, 1.5
	c, ctx := startProcsOpts(t, procluster.Options{Members: 5, ExtraArgs: []string{"--lease", oldLease.String()}})
	s := settled(ctx, t, c, c.Names())
	leader := procluster.Leader(s)
	if leader == "" {
		t.Fatal("no leader after settling")
	}
	if got := maxFollowerLease(ctx, t, c, leader); got <= newLease {
		t.Fatalf("before the change a follower's lease runs %v ahead, want more than %v", got, newLease)
	}
	restartWithNewSettings := func(m *procluster.Member) {
		t.Helper()
		m.SetFlag("lease", newLease.String())
		m.SetFlag("leader-lease", newLeaderLease.String())
		m.SetFlag("load", fmt.Sprint(newLoad))
		if err := m.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range c.Names() {
		if name == leader {
			continue
		}
		m := c.Member(name)
		terminate(ctx, t, m)
		restartWithNewSettings(m)
		settled(ctx, t, c, c.Names())
		var cl api.Cluster
		if err := m.GetJSON(ctx, "/cluster", &cl); err != nil {
			t.Fatalf("%s: GET /cluster: %v", name, err)
		}
		for _, mem := range cl.Members {
			if mem.Name == name && (mem.LeaseMs != newLease.Milliseconds() || mem.LeaderLeaseMs != newLeaderLease.Milliseconds() || mem.Load != newLoad) {
				t.Errorf("%s shows its settings as lease %d ms, leader lease %d ms, load %v; want %v, %v, %v",
					name, mem.LeaseMs, mem.LeaderLeaseMs, mem.Load, newLease, newLeaderLease, newLoad)
			}
		}
		t.Logf("%s restarted with the new settings; the cluster is covered again", name)
	}

	// The leader crashes while a follower that holds partitions under its
	// old lease is stopped: its successor runs the new settings.
	s = settled(ctx, t, c, c.Names())
	var stopped string
	for _, n := range s.Names() {
		if n != leader && len(s[n].Partitions) > 0 {
			stopped = n
			break
		}
	}
	if stopped == "" {
		t.Fatal("no follower holds partitions")
	}
	if err := c.Member(stopped).Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Member(leader).Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.Member(leader).Wait(ctx)
	cut := time.Now()
	rest := slices.DeleteFunc(c.Names(), func(n string) bool { return n == leader || n == stopped })
	took, err := c.WaitFullCoverage(ctx, rest, settleTimeout)
	if err != nil {
		t.Fatalf("%v did not cover the partitions of the crashed leader and the stopped %s: %v", rest, stopped, err)
	}
	t.Logf("%v covered everything %v after the leader crashed (the stopped member's lease ran %v)", rest, max(took, time.Since(cut)).Round(time.Millisecond), oldLease)
	if err := c.Member(stopped).Cont(); err != nil {
		t.Fatal(err)
	}
	restartWithNewSettings(c.Member(leader))
	s = settled(ctx, t, c, c.Names())
	if got := maxFollowerLease(ctx, t, c, procluster.Leader(s)); got > newLease+100*time.Millisecond {
		t.Errorf("after the change a follower's lease runs %v ahead, want at most the new %v", got, newLease)
	}
}

// maxFollowerLease is the longest lease remaining that the members other
// than the leader show over a few heartbeats: about the --lease in force.
func maxFollowerLease(ctx context.Context, t *testing.T, c *procluster.Cluster, leader string) time.Duration {
	t.Helper()
	var longest time.Duration
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.Names() {
			if n == leader {
				continue
			}
			var mine api.Mine
			if err := c.Member(n).GetJSON(ctx, "/partitions/mine", &mine); err != nil {
				t.Fatalf("%s: GET /partitions/mine: %v", n, err)
			}
			longest = max(longest, time.Duration(mine.LeaseRemainingMs)*time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // sampling interval, not a wait for a condition
	}
	return longest
}
