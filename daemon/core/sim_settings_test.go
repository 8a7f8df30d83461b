package core_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
)

// TestShortLeaseLeadersWaitForALongerLease: during a rolling change of
// --lease and --leader-lease, a leader with long leases (m6) renewed a member
// (m0) that is then cut off, and crashes. Its successor m5 and, after m5
// crashes too, m4 run much shorter leases: m4 must still wait out m0's long
// lease before it gives m0's partitions away. m5 had just restarted (with its
// data dir), so it holds no lease from m6 whose end could stand in for m0's;
// it crashes either a little after it won (its heartbeats carried the longer
// leases it inherited) or at once (the voters only have their votes for it,
// which must keep what they knew before).
func TestShortLeaseLeadersWaitForALongerLease(t *testing.T) {
	for _, tc := range []struct {
		name   string
		crashZ time.Duration // how long after m5 wins it crashes
	}{
		{name: "successor crashes during its safe wait", crashZ: 150 * time.Millisecond},
		{name: "successor crashes as it wins"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs := simcluster.Specs(7)
			for i := range specs {
				specs[i].Lease, specs[i].LeaderLease = 900*time.Millisecond, 150*time.Millisecond
			}
			specs[6].Prio, specs[6].Lease, specs[6].LeaderLease = 3, 5*time.Second, time.Second
			specs[5].Prio, specs[5].Disk, specs[4].Prio = 2, true, 1
			w := simcluster.New(t, simcluster.Seed(7), simcluster.With(simcluster.Settings{Voters: 7}),
				simcluster.Members(specs...))
			w.SetDraining("m5", true) // holds nothing, so its restart changes no table
			w.Require(15*time.Second, "coverage under m6", func() bool { return w.Covered() && w.Leader() == "m6" })
			w.Run(time.Second)
			if len(w.AppHoldings("m0")) == 0 {
				t.Fatal("m0 holds nothing to be taken over")
			}

			w.Crash("m5")
			w.Restart("m5", true)
			w.Isolate("m0")
			w.Crash("m6")
			cutAt := w.GlobalNow()
			if tc.crashZ == 0 {
				// Once its vote requests are out, nothing more of m5's
				// arrives: the voters' last acknowledgement stays their
				// vote for it.
				muted, before := false, w.Member("m5").Core().Status().Term
				w.OnStep(func(time.Time) {
					if st := w.Member("m5").Core().Status(); !muted && w.Up("m5") && st.Role == election.Candidate && st.Term > before {
						muted = true
						for _, n := range w.Others("m5") {
							w.Cut("m5", n)
						}
					}
				})
			}
			w.Require(5*time.Second, "m5 wins", func() bool { return w.Member("m5").Core().Status().Role == election.Leader })
			w.Run(tc.crashZ)
			w.Crash("m5")
			w.Require(5*time.Second, "m4 leads", func() bool { return slices.Contains(w.Leaders(w.Names()), "m4") })
			// m0's app works on until the lease m6 gave it ends, about 5 s
			// after the cut; m4 must not grant those partitions before.
			others := []string{"m1", "m2", "m3", "m4"}
			w.Require(15*time.Second, "coverage by the others", func() bool { return w.CoveredBy(others) })
			w.RequireNoViolations()
			if took := w.GlobalNow().Sub(cutAt); took < 5*time.Second {
				t.Errorf("m0's partitions were covered again %v after the cut, before its 5 s lease could end", took)
			}
		})
	}
}

// TestWeightsShareThePartitions: members of weight 1, 1 and 2 hold about a
// quarter, a quarter and a half of the partitions, within the weighted load
// bound, and keep every partition covered when the heavy member leaves.
func TestWeightsShareThePartitions(t *testing.T) {
	specs := simcluster.Specs(3)
	specs[2].Weight = 2
	w := simcluster.New(t, simcluster.Seed(3), simcluster.Members(specs...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	w.Run(2 * time.Second)
	counts := map[string]int{}
	for _, holders := range w.Holders() {
		for _, h := range holders {
			counts[h]++
		}
	}
	// 32 partitions, shares 8, 8 and 16; capacity of m2 ceil(1.25*32*2/4) = 20.
	if counts["m2"] < 16 || counts["m2"] > 20 || counts["m0"] < 8 || counts["m1"] < 8 {
		t.Errorf("weights 1, 1, 2: counts %v, want about 8, 8, 16", counts)
	}
	w.SetLeaving("m2")
	w.Require(10*time.Second, "coverage by m0 and m1", func() bool { return w.CoveredBy([]string{"m0", "m1"}) })
	w.RequireNoViolations()
}

// TestRestartedVotersKeepLeaseBounds (found in review): a leader with a long
// --lease (m3) renewed m0, which is then cut off. The voters crash and
// restart (with their data dirs) with the new, short flags of a rolling
// change before any of them acknowledged a heartbeat. The bounds they kept
// with their last acknowledgement are on disk (Durable.Bounds), so the
// leader they elect still waits out m0's long lease. The 5s case restarts
// with unchanged flags, for comparison.
func TestRestartedVotersKeepLeaseBounds(t *testing.T) {
	for _, newLease := range []time.Duration{900 * time.Millisecond, 5 * time.Second} {
		t.Run(newLease.String(), func(t *testing.T) { restartedVoters(t, newLease) })
	}
}

// longLeaseLeader starts four members with data dirs, three of them voters,
// all on a 900 ms lease and 150 ms leader lease but the leader m3 (5 s and
// 1 s), and returns once m3 leads a covered cluster and m0, renewed with
// the long lease, holds partitions.
func longLeaseLeader(t *testing.T) *simcluster.Cluster {
	t.Helper()
	specs := simcluster.Specs(4)
	for i := range specs {
		specs[i].Disk = true
		specs[i].Lease, specs[i].LeaderLease = 900*time.Millisecond, 150*time.Millisecond
	}
	specs[3].Prio, specs[3].Lease, specs[3].LeaderLease = 3, 5*time.Second, time.Second
	specs[2].Prio, specs[1].Prio = 2, 1
	w := simcluster.New(t, simcluster.Seed(7), simcluster.With(simcluster.Settings{Voters: 3}),
		simcluster.Members(specs...))
	w.Require(15*time.Second, "coverage under m3", func() bool { return w.Covered() && w.Leader() == "m3" })
	w.Run(time.Second)
	if len(w.AppHoldings("m0")) == 0 {
		t.Fatal("m0 holds nothing")
	}
	return w
}

// restartWith crashes names, gives them the lease and leader lease, and
// restarts them with their data dirs 50 ms later.
func restartWith(w *simcluster.Cluster, names []string, lease, leaderLease time.Duration) {
	for _, n := range names {
		w.Crash(n)
		w.Respec(n, func(s *simcluster.MemberSpec) { s.Lease, s.LeaderLease = lease, leaderLease })
	}
	w.Run(50 * time.Millisecond)
	for _, n := range names {
		w.Restart(n, true)
	}
}

func restartedVoters(t *testing.T, newLease time.Duration) {
	newLL := 150 * time.Millisecond
	if newLease > time.Second {
		newLL = time.Second
	}
	w := longLeaseLeader(t)
	w.Isolate("m0")
	cutAt := w.GlobalNow()
	restartWith(w, []string{"m1", "m2", "m3"}, newLease, newLL)
	others := []string{"m1", "m2", "m3"}
	w.Require(15*time.Second, "coverage by the others", func() bool { return w.CoveredBy(others) })
	t.Logf("covered again %v after the cut", w.GlobalNow().Sub(cutAt))
	w.RequireNoViolations()
}

// TestLeaderAndOneVoterRestartWithShorterLeases (found in review): the
// long-lease leader m3 crashes and comes back (data dir kept) with the new
// short flags, as does m2, which the rolling update happened to be
// restarting; m1 keeps the long bounds in memory but its vote arrives after
// m2's (a slower link), so m3 wins on its own and m2's records alone, which
// must come from their disks.
func TestLeaderAndOneVoterRestartWithShorterLeases(t *testing.T) {
	w := longLeaseLeader(t)
	w.Isolate("m0")
	cutAt := w.GlobalNow()
	w.SetDelay("m1", "m3", 30*time.Millisecond, 40*time.Millisecond)
	restartWith(w, []string{"m2", "m3"}, 900*time.Millisecond, 150*time.Millisecond)
	others := []string{"m1", "m2", "m3"}
	w.Require(15*time.Second, "coverage by the others", func() bool { return w.CoveredBy(others) })
	t.Logf("leader %s, covered again %v after the cut", w.Leader(), w.GlobalNow().Sub(cutAt))
	w.RequireNoViolations()
}
