package main

// Real-process tests of the membership lifecycle as Kubernetes drives it:
// pods recreated under new names, members rescheduled to new addresses with
// or without their state, a lone seed restarted, and a whole cluster
// restarted with its wall clocks set back. Every test also runs the
// application-side lease check (procluster.AppLeases) and the outside
// watcher at cleanup (startProcsOpts).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon"
	"github.com/ringd/ringd/internal/procluster"
)

// failoverLimit bounds how long a step may leave partitions without an owner
// in these tests: far above the failover time of the fast timings (about 3 s
// for a killed leader, see docs/benchmarks.md), so a busy CI machine does not
// fail them, and far below "never".
const failoverLimit = 20 * time.Second

// ownedAgain waits until the running members own every partition, failing the
// test after failoverLimit, and returns how long it took.
func ownedAgain(ctx context.Context, t *testing.T, c *procluster.Cluster, step string) time.Duration {
	t.Helper()
	_, took, err := c.WaitSettled(ctx, c.Names(), 300*time.Millisecond, failoverLimit)
	if err != nil {
		t.Fatalf("%s: the running members %v do not own everything: %v", step, c.Names(), err)
	}
	return took
}

// TestProcessRecreatedMember: three stable members and a fourth pod recreated
// under a new name every few seconds, killed or stopped in turn (a crash
// looping Deployment pod, autoscaler churn). The stable members keep one
// leader and own everything after each step. Before the voters were bounded
// they lost their leader and every partition within a minute. make soak runs
// it for longer (RINGD_CHURN_ROUNDS).
func TestProcessRecreatedMember(t *testing.T) {
	c, ctx := startProcs(t, 3)
	stable := c.Names()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	rounds := envInt("RINGD_CHURN_ROUNDS", 4)
	leaders := map[string]bool{}
	for i := 0; i < rounds; i++ {
		name := podName(r)
		m, err := c.Add(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitReady(ctx, m, failoverLimit); err != nil {
			t.Fatalf("round %d: %s never became ready: %v", i, name, err)
		}
		sig := syscall.SIGKILL
		if i%2 == 1 {
			sig = syscall.SIGTERM
		}
		stop(ctx, t, m, sig)
		took := ownedAgain(ctx, t, c, fmt.Sprintf("round %d (%v of %s)", i, sig, name))
		s, _ := c.Poll(ctx, stable)
		l := procluster.Leader(s)
		if l == "" {
			t.Fatalf("round %d: the stable members %v agree on no leader", i, stable)
		}
		leaders[l] = true
		t.Logf("round %d: %s ready, then %v; everything owned %v later; leader %s", i, name, sig, took.Round(time.Millisecond), l)
	}
	if len(leaders) > 1 {
		t.Errorf("the leader changed while only the recreated pod came and went: %v", leaders)
	}
}

// TestProcessRollingRestartNewAddress restarts every member of a 5-member
// cluster in turn under a new gossip port without its data (a StatefulSet
// rollout on emptyDir volumes, each pod rescheduled), gracefully and
// separately by SIGKILL. Each member must be back, owning partitions and a
// voter again, before the next one goes; the application-side lease check
// holds the members to every deadline they showed.
func TestProcessRollingRestartNewAddress(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			c, ctx := startProcsOpts(t, procluster.Options{Members: 5, NoDataDir: true})
			for _, name := range c.Names() {
				m := c.Member(name)
				stop(ctx, t, m, sig)
				start := time.Now()
				if err := m.Reschedule(ctx, true); err != nil {
					t.Fatal(err)
				}
				ownedAgain(ctx, t, c, "restart of "+name)
				if err := waitVoter(ctx, c, name, failoverLimit); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				t.Logf("%s after %v: back at %s, owning partitions and a voter again %v after its start",
					name, sig, m.GossipAddr, time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

// waitVoter waits until every running member's GET /cluster lists name as a
// voter.
func waitVoter(ctx context.Context, c *procluster.Cluster, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		all := true
		for _, n := range c.Names() {
			cl, err := c.Member(n).Cluster(ctx)
			if err != nil {
				all = false
				break
			}
			voter := false
			for _, m := range cl.Members {
				if m.Name == name && m.Alive && m.Voter {
					voter = true
				}
			}
			all = all && voter
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not a voter in every member's view after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// TestProcessLoneSeed: the seed a started without --join (the others joined
// it), SIGKILLed and started again from a new address.
//
//   - With its data dir intact it must not form a second cluster: nobody
//     can find it at its new address and it has no --join, so it stays
//     alone, and it must own nothing (before: it led a cluster of its own
//     within seconds and owned partitions that b or c also owned).
//   - Started the README's way instead (every member with --join to the
//     others and --bootstrap-expect), a member rescheduled without its
//     state rejoins the cluster rather than bootstrapping a new one.
func TestProcessLoneSeed(t *testing.T) {
	t.Run("seed restarted with its data dir", func(t *testing.T) {
		c, ctx := startProcsOpts(t, procluster.Options{Members: 1,
			MemberArgs: func(int) []string { return []string{"--bootstrap-expect", "0"} }})
		a := c.Member(c.Names()[0])
		for _, n := range []string{"b", "c"} {
			if _, err := c.Add(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		settled(ctx, t, c, c.Names())
		if err := a.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := a.Reschedule(ctx, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.WaitSettled(ctx, []string{"b", "c"}, 300*time.Millisecond, failoverLimit); err != nil {
			t.Fatalf("b and c do not own everything without the seed: %v", err)
		}
		// For longer than a bootstrap and a safe wait take, the restarted
		// seed owns nothing and leads nothing.
		end := time.Now().Add(8 * time.Second)
		for time.Now().Before(end) {
			mine, err := a.Mine(ctx)
			if err == nil && (len(mine.Partitions) > 0 || mine.Leader == a.Name) {
				t.Fatalf("the restarted seed formed a cluster of its own: leader %q, owns %v", mine.Leader, procluster.IDs(mine))
			}
			time.Sleep(100 * time.Millisecond) // polling interval
		}
		if s := settled(ctx, t, c, []string{"b", "c"}); procluster.Leader(s) == "" {
			t.Errorf("b and c lost their leader")
		}
	})
	t.Run("member with --join restarted without state", func(t *testing.T) {
		c, ctx := startProcsOpts(t, procluster.Options{Members: 3, NoDataDir: true})
		victim := c.Member(followerOf(c, settled(ctx, t, c, c.Names())))
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := victim.Reschedule(ctx, true); err != nil {
			t.Fatal(err)
		}
		after := settled(ctx, t, c, c.Names())
		if got := procluster.Leader(after); got == "" || got == victim.Name {
			t.Errorf("after the restart the leader is %q", got)
		}
		if len(after[victim.Name].Partitions) == 0 {
			t.Errorf("the restarted member owns nothing")
		}
	})
}

// TestProcessWholeClusterRestartClockSetBack: every member SIGKILLed at once
// and started again with its wall clock set back an hour (a ringd built with
// -tags testclock; libfaketime cannot move Go's clock). With --data-dir every
// token issued afterwards is above every token issued before: terms come from
// the disk, not the clock.
func TestProcessWholeClusterRestartClockSetBack(t *testing.T) {
	dir, err := os.MkdirTemp("", "ringd-testclock-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := procluster.BuildRingdTags(bctx, dir, false, "testclock")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := startProcs(t, 3)
	restartAllTokensGrow(ctx, t, c, func(m *procluster.Member) {
		m.SetBinary(bin)
		m.SetEnv(daemon.TestClockOffsetEnv + "=-1h")
	})
}
