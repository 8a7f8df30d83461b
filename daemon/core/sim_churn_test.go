package core_test

// Membership churn as Kubernetes makes it: Deployment rollouts that replace
// every member under a new name, scaling, and a member recreated under a new
// name again and again. The checker sees every step; these tests add that a
// majority of live members always has a leader again within the failover
// bound, and that partitions are without a holder only during handoffs.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// churnWatch follows a cluster through churn: the longest time a partition had
// no holder, and the longest time the live members had no leader.
type churnWatch struct {
	w *simcluster.Cluster
	// emptySince is, per partition, since when no app holds it (zero: held).
	emptySince []time.Time
	longestGap time.Duration
	// leaderless is since when no running member leads with a valid lease.
	leaderless      time.Time
	longestNoLeader time.Duration
	// quiet: do not count gaps (the cluster is still bootstrapping).
	quiet bool
}

func watchChurn(w *simcluster.Cluster) *churnWatch {
	cw := &churnWatch{w: w, emptySince: make([]time.Time, simcluster.Partitions), quiet: true}
	w.OnStep(cw.observe)
	return cw
}

func (cw *churnWatch) observe(now time.Time) {
	if cw.quiet {
		return
	}
	for p, hs := range cw.w.Holders() {
		switch {
		case len(hs) == 0 && cw.emptySince[p].IsZero():
			cw.emptySince[p] = now
		case len(hs) > 0 && !cw.emptySince[p].IsZero():
			if gap := now.Sub(cw.emptySince[p]); gap > cw.longestGap {
				cw.longestGap = gap
				cw.w.Logf("longest gap so far: p%d without a holder for %v, now held by %v", p, gap, hs)
			}
			cw.emptySince[p] = time.Time{}
		}
	}
	var live []string
	for _, n := range cw.w.Names() {
		if cw.w.Up(n) {
			live = append(live, n)
		}
	}
	switch {
	case len(cw.w.Leaders(live)) == 0 && cw.leaderless.IsZero():
		cw.leaderless = now
	case len(cw.w.Leaders(live)) > 0 && !cw.leaderless.IsZero():
		cw.longestNoLeader = max(cw.longestNoLeader, now.Sub(cw.leaderless))
		cw.leaderless = time.Time{}
	}
}

// start counts gaps from now on.
func (cw *churnWatch) start() { cw.quiet = false }

// ready reports whether name's app works on at least one partition: what
// /readyz waits for before a rollout goes on.
func ready(w *simcluster.Cluster, name string) bool { return w.Up(name) && len(w.Tokens(name)) > 0 }

// live lists the members whose process runs.
func live(w *simcluster.Cluster) []string {
	var out []string
	for _, n := range w.Names() {
		if w.Up(n) && !w.Member(n).Crashed() {
			out = append(out, n)
		}
	}
	return out
}

// leaveGracefully is SIGTERM: the member drains (its partitions move away,
// it leaves the voters, a leader hands over), then its process ends. It
// fails the test when the drain does not finish within limit.
func leaveGracefully(w *simcluster.Cluster, name string, limit time.Duration) {
	w.T().Helper()
	w.SetLeaving(name)
	drained := func() bool {
		return !w.Up(name) || w.View(name).LeavePending() == ""
	}
	if !w.RunUntil(limit, drained) {
		w.T().Fatalf("seed %d: %s did not finish draining within %v\n%s\n%s", w.Seed(), name, limit, w.Describe(), w.Trace(60))
	}
	w.Crash(name)
}

// rollout replaces every member of old by a new one, as a Deployment's
// rolling update does: start surge new members (new names), wait until
// they are ready, then let as many old ones leave gracefully, and so on.
// With unavailable > 0, that many old members leave before new ones start.
func rollout(w *simcluster.Cluster, old []string, prefix string, surge, unavailable int) []string {
	w.T().Helper()
	var fresh []string
	next := 0
	for len(old) > 0 {
		for i := 0; i < unavailable && len(old) > 0; i++ {
			leaveGracefully(w, old[0], 2*fast.Lease)
			old = old[1:]
		}
		var started []string
		for i := 0; i < max(surge, unavailable) && i < len(old)+unavailable; i++ {
			name := fmt.Sprintf("%s%d", prefix, next)
			next++
			w.Add(simcluster.MemberSpec{Name: name})
			started = append(started, name)
		}
		for _, n := range started {
			if !w.RunUntil(leaderFailoverBound+bootstrapBound, func() bool { return ready(w, n) }) {
				w.T().Fatalf("seed %d: new member %s not ready\n%s\n%s", w.Seed(), n, w.Describe(), w.Trace(60))
			}
		}
		fresh = append(fresh, started...)
		for i := 0; i < surge && len(old) > 0; i++ {
			leaveGracefully(w, old[0], 2*fast.Lease)
			old = old[1:]
		}
	}
	return fresh
}

// TestRollingUpdateDeployment replaces every member of a 3-member cluster
// under new names, twice in a row, with maxSurge 1 and maxUnavailable 0 (the
// Deployment default for small replica counts): a leader exists throughout
// but for handovers, partitions lack a holder only during handoffs, and the
// final members own everything. Today's code lost its majority in round two.
func TestRollingUpdateDeployment(t *testing.T) {
	for _, tc := range []struct {
		name              string
		n, surge, unavail int
	}{
		{"3 members surge 1", 3, 1, 0},
		{"3 members unavailable 1", 3, 0, 1},
		{"5 members surge 2", 5, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := int64(1); seed <= 3; seed++ {
				w := bootstrap(t, seed, simcluster.Specs(tc.n)...)
				cw := watchChurn(w)
				cw.start()
				members := w.Names()
				for round := 0; round < 2; round++ {
					members = rollout(w, slices.Clone(members), fmt.Sprintf("r%d-", round), tc.surge, tc.unavail)
					if !w.RunUntil(leaderFailoverBound, func() bool { return w.CoveredBy(members) }) {
						t.Fatalf("seed %d round %d: new members %v do not cover everything\n%s\n%s", seed, round, members, w.Describe(), w.Trace(60))
					}
				}
				w.Run(time.Second)
				w.RequireNoViolations()
				if got := w.Leaders(members); len(got) != 1 {
					t.Errorf("seed %d: leaders among %v: %v", seed, members, got)
				}
				if cw.longestNoLeader > leaderFailoverBound {
					t.Errorf("seed %d: no leader for %v (bound %v)", seed, cw.longestNoLeader, leaderFailoverBound)
				}
				if cw.longestGap > time.Second {
					t.Errorf("seed %d: a partition had no holder for %v\n%s", seed, cw.longestGap, w.Trace(300))
				}
				t.Logf("seed %d: longest time without a holder %v, without a leader %v", seed, cw.longestGap, cw.longestNoLeader)
			}
		})
	}
}

// voterCheck is a hook that fails the test when a leader's table lists more
// voters than allowed: churn must never grow the configuration.
func checkVoterBound(w *simcluster.Cluster, limit int) {
	w.OnStep(func(now time.Time) {
		for _, n := range live(w) {
			v := w.View(n)
			if len(v.Table.Voters) > limit || len(v.Table.PrevVoters) > limit {
				w.T().Fatalf("seed %d: %s's table %v has voters %v (previous %v), more than %d",
					w.Seed(), n, v.Table.ID, v.Table.Voters, v.Table.PrevVoters, limit)
			}
		}
	})
}

// TestScaling scales 3 -> 10 -> 2 members, gracefully: the voters stay at
// most five, a leader exists throughout, and the two remaining members
// cover everything.
func TestScaling(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		w := bootstrap(t, seed, simcluster.Specs(3)...)
		checkVoterBound(w, 5)
		cw := watchChurn(w)
		cw.start()
		for i := 3; i < 10; i++ {
			w.Add(simcluster.MemberSpec{Name: fmt.Sprintf("m%d", i)})
		}
		if !w.RunUntil(3*bootstrapBound, func() bool {
			l := w.Leader()
			return l != "" && len(w.View(l).Table.Members) == 10 && w.Covered()
		}) {
			t.Fatalf("seed %d: 10 members not all working\n%s", seed, w.Describe())
		}
		w.Run(2 * time.Second)
		if got := w.View(w.Leader()).Table.Voters; len(got) != 5 {
			t.Errorf("seed %d: 10 members, voters %v, want 5", seed, got)
		}
		// Scale down to m8, m9: the others leave one by one, voters first.
		for _, n := range w.Names()[:8] {
			leaveGracefully(w, n, 2*fast.Lease)
		}
		if !w.RunUntil(leaderFailoverBound, func() bool { return w.CoveredBy([]string{"m8", "m9"}) }) {
			t.Fatalf("seed %d: m8, m9 do not cover everything\n%s", seed, w.Describe())
		}
		w.Run(time.Second)
		w.RequireNoViolations()
		if cw.longestNoLeader > leaderFailoverBound || cw.longestGap > time.Second {
			t.Errorf("seed %d: no leader for %v, a partition without a holder for %v", seed, cw.longestNoLeader, cw.longestGap)
		}
		t.Logf("seed %d: longest time without a holder %v, without a leader %v", seed, cw.longestGap, cw.longestNoLeader)
	}
}

// TestRecreatedMember: three stable members and a fourth pod recreated under
// a new name every few seconds, killed or stopped, for two minutes. The
// stable members keep their leader and their partitions all along, and the
// member lists stay bounded. Today's code lost the leader within a minute.
func TestRecreatedMember(t *testing.T) {
	for _, kill := range []bool{true, false} {
		t.Run(fmt.Sprintf("kill %t", kill), func(t *testing.T) {
			w := bootstrap(t, 7, simcluster.Specs(3)...)
			checkVoterBound(w, 3)
			stable := slices.Clone(w.Names())
			cw := watchChurn(w)
			cw.start()
			for i := 0; i < 30; i++ {
				name := fmt.Sprintf("pod%d", i)
				w.Add(simcluster.MemberSpec{Name: name})
				w.Run(4 * time.Second)
				if kill {
					w.Crash(name)
				} else {
					leaveGracefully(w, name, 2*fast.Lease)
				}
				if len(w.Leaders(stable)) != 1 {
					t.Fatalf("round %d: leaders among %v: %v\n%s", i, stable, w.Leaders(stable), w.Describe())
				}
			}
			if !w.RunUntil(leaderFailoverBound, func() bool { return w.CoveredBy(stable) }) {
				t.Fatalf("stable members do not cover everything\n%s", w.Describe())
			}
			w.Run(simcluster.DeadMemberTimeout + 2*time.Second)
			w.RequireNoViolations()
			if cw.longestNoLeader > 0 {
				t.Errorf("no leader for %v", cw.longestNoLeader)
			}
			for _, n := range stable {
				if v := w.View(n); len(v.Members) > 4 || len(v.Table.Members) > 4 {
					t.Errorf("%s still lists %d members (table %v) after %v", n, len(v.Members), v.Table.Members, simcluster.DeadMemberTimeout)
				}
			}
			t.Logf("longest time without a holder %v", cw.longestGap)
			if !kill && cw.longestGap > time.Second {
				t.Errorf("a partition had no holder for %v\n%s", cw.longestGap, w.Trace(400))
			}
		})
	}
}

// TestVoterReplacedAfterCrash: in a 3-member cluster, a voter's pod dies and
// a new pod under a new name takes its place; then another original voter
// dies. The new pod must have replaced the first dead voter by then, or the
// two dead voters of three would cost the majority.
func TestVoterReplacedAfterCrash(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		w := bootstrap(t, seed, simcluster.Specs(3)...)
		cw := watchChurn(w)
		first := w.Others(w.Leader())[0]
		w.Crash(first)
		w.Add(simcluster.MemberSpec{Name: "n0"})
		replaced := func() bool {
			l := w.Leader()
			return l != "" && isVoter(w, l, "n0") && len(w.View(l).Table.PrevVoters) == 0
		}
		if !w.RunUntil(simcluster.DeadVoterTimeout+bootstrapBound, replaced) {
			t.Fatalf("seed %d: dead voter %s not replaced by n0\n%s", seed, first, w.Describe())
		}
		cw.start()
		second := w.Leader() // the worst case: the leader dies
		w.Crash(second)
		rest := w.Others(first, second)
		if !w.RunUntil(leaderFailoverBound, func() bool { return w.CoveredBy(rest) }) {
			t.Fatalf("seed %d: %v do not cover everything after %s and %s died\n%s", seed, rest, first, second, w.Describe())
		}
		w.RequireNoViolations()
		if cw.longestNoLeader > leaderFailoverBound {
			t.Errorf("seed %d: no leader for %v (bound %v)", seed, cw.longestNoLeader, leaderFailoverBound)
		}
	}
}

// TestCrashLoop: a member crashes and restarts under its own name again and
// again (a crash-looping pod, no data dir) while the others keep their
// leader and partitions.
func TestCrashLoop(t *testing.T) {
	w := bootstrap(t, 5, simcluster.Specs(3)...)
	looper := w.Others(w.Leader())[0]
	stable := w.Others(looper)
	cw := watchChurn(w)
	cw.start()
	for i := 0; i < 20; i++ {
		w.Crash(looper)
		w.Run(time.Duration(200+100*(i%7)) * time.Millisecond)
		w.Restart(looper, false)
		w.Run(time.Duration(300+200*(i%5)) * time.Millisecond)
		if len(w.Leaders(stable)) != 1 {
			t.Fatalf("round %d: leaders among %v: %v\n%s", i, stable, w.Leaders(stable), w.Describe())
		}
	}
	if !w.RunUntil(bootstrapBound+leaderFailoverBound, w.Covered) {
		t.Fatalf("not covered after the crash loop\n%s", w.Describe())
	}
	w.RequireNoViolations()
}

// isVoter reports whether observer's view counts name as a voter.
func isVoter(w *simcluster.Cluster, observer, name string) bool {
	for _, m := range w.View(observer).Members {
		if m.Name == name {
			return m.Voter
		}
	}
	return false
}

// TestLeaveWhileAVoterIsDead: voters {m0, m1, m2} and a caught-up non-voter
// m3; m2 dies (no data dir, so it never comes back as that voter), then
// another voter leaves gracefully, the leader or not. The leader must not
// move to a voter set whose majority is dead ({m0, m2} with m2 dead would
// cost the lease and, m2's identity being lost, the cluster for
// good); {m0 or m1, m2, m3} or the like keeps a live majority.
func TestLeaveWhileAVoterIsDead(t *testing.T) {
	for _, leaderLeaves := range []bool{false, true} {
		t.Run(fmt.Sprintf("leader leaves %t", leaderLeaves), func(t *testing.T) {
			w := bootstrap(t, 3, simcluster.Specs(3)...)
			w.Add(simcluster.MemberSpec{Name: "m3"})
			if !w.RunUntil(bootstrapBound, func() bool { return ready(w, "m3") }) {
				t.Fatalf("m3 not ready\n%s", w.Describe())
			}
			w.Run(time.Second)
			l := w.Leader()
			var dead, leaving string
			for _, n := range []string{"m0", "m1", "m2"} {
				switch {
				case n == l && leaderLeaves:
					leaving = n
				case n != l && dead == "":
					dead = n
				case n != l && !leaderLeaves && leaving == "":
					leaving = n
				}
			}
			w.Crash(dead)
			w.Run(2 * simcluster.DetectDelay)
			leaveGracefully(w, leaving, 2*fast.Lease)
			rest := w.Others(dead, leaving)
			if !w.RunUntil(leaderFailoverBound, func() bool { return len(w.Leaders(rest)) == 1 && w.CoveredBy(rest) }) {
				t.Fatalf("after %s died and %s left, %v have no leader or do not cover everything\n%s\n%s",
					dead, leaving, rest, w.Describe(), w.Trace(40))
			}
			w.Run(2 * simcluster.DeadVoterTimeout)
			if len(w.Leaders(rest)) != 1 {
				t.Fatalf("%v lost their leader later\n%s", rest, w.Describe())
			}
			w.RequireNoViolations()
		})
	}
}

// TestRollingUpdateStatefulSet replaces every member of a 3- and a 5-member
// cluster in turn under its own name (a StatefulSet's rolling update: SIGTERM,
// then the pod comes back), with its data dir kept (a PersistentVolume) or
// emptied (emptyDir), twice in a row: a leader exists throughout but for
// hand-overs, and partitions lack a holder only during handoffs.
func TestRollingUpdateStatefulSet(t *testing.T) {
	for _, n := range []int{3, 5} {
		for _, disk := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d members data dir %t", n, disk), func(t *testing.T) {
				ss := simcluster.Specs(n)
				for i := range ss {
					ss[i].Disk = disk
				}
				w := bootstrap(t, 5, ss...)
				cw := watchChurn(w)
				cw.start()
				for round := 0; round < 2; round++ {
					for _, name := range w.Names() {
						leaveGracefully(w, name, 2*fast.Lease)
						w.Restart(name, true)
						if !w.RunUntil(leaderFailoverBound+bootstrapBound, func() bool { return ready(w, name) && w.Covered() }) {
							t.Fatalf("round %d: %s not back\n%s\n%s", round, name, w.Describe(), w.Trace(60))
						}
						// The next pod goes once this one is ready; a voter again
						// is not waited for (Kubernetes does not know).
					}
				}
				w.Run(time.Second)
				w.RequireNoViolations()
				if cw.longestNoLeader > leaderFailoverBound || cw.longestGap > time.Second {
					t.Errorf("no leader for %v, a partition without a holder for %v", cw.longestNoLeader, cw.longestGap)
				}
				t.Logf("longest time without a holder %v, without a leader %v", cw.longestGap, cw.longestNoLeader)
			})
		}
	}
}

// TestLeaveJustAfterUndetectedCrash: of voters {m0, m1, m2}, a follower
// crashes (no data dir: its identity is gone for good) and, before gossip
// notices, another one leaves gracefully. The leader must keep a leader: it
// may start a change towards {leader, crashed one}, but then goes back to
// the previous voters, whose majority (itself and the leaving member) still
// answers, and moves to {leader} once the crash is noticed (otherwise the
// change never completes and nobody can be elected again).
func TestLeaveJustAfterUndetectedCrash(t *testing.T) {
	for _, gap := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(fmt.Sprint(gap), func(t *testing.T) {
			w := bootstrap(t, 1, simcluster.Specs(3)...)
			l := w.Leader()
			o := w.Others(l)
			w.Crash(o[0])
			w.Run(gap)
			w.Leave(o[1], 2*fast.Lease)
			if !w.RunUntil(leaderFailoverBound+2*fast.Lease, func() bool { return w.Member(o[1]).Gone() && w.Leader() == l && w.CoveredBy([]string{l}) }) {
				t.Fatalf("after %s crashed and %s left, %s does not lead and cover everything\n%s\n%s", o[0], o[1], l, w.Describe(), w.Trace(40))
			}
			w.Run(2 * time.Second)
			if w.Leader() != l {
				t.Fatalf("%s lost its leadership later\n%s", l, w.Describe())
			}
			w.RequireNoViolations()
		})
	}
}

// TestUnresponsiveVoterReplaced: a voter that gossip still calls alive but
// whose acknowledgements never reach the leader (a stuck loop, a one-way
// loss) is replaced like a dead one after --dead-voter-timeout, so that one
// more failure does not cost the leader (it must not stay a voter for
// ever).
func TestUnresponsiveVoterReplaced(t *testing.T) {
	w := simcluster.New(t, simcluster.Seed(2), simcluster.With(simcluster.Settings{Voters: 3}), simcluster.Members(simcluster.Specs(4)...))
	if !w.RunUntil(bootstrapBound+2*time.Second, func() bool {
		l := w.Leader()
		return l != "" && w.Covered() && len(w.View(l).Table.Voters) == 3 && len(w.View(l).Table.PrevVoters) == 0
	}) {
		t.Fatalf("no 3 voters\n%s", w.Describe())
	}
	l := w.Leader()
	var mute, spare string
	for _, n := range w.Others(l) {
		switch {
		case isVoter(w, l, n) && mute == "":
			mute = n
		case !isVoter(w, l, n):
			spare = n
		}
	}
	w.SetDrop(mute, l, 1) // its acks (best effort) never arrive; gossip still hears it
	if !w.RunUntil(simcluster.DeadVoterTimeout+2*time.Second, func() bool { return !isVoter(w, l, mute) && isVoter(w, l, spare) }) {
		t.Fatalf("%s, silent to the leader, still a voter (or %s not one)\n%s", mute, spare, w.Describe())
	}
	third := w.Others(l, mute, spare)[0]
	w.Crash(third)
	w.Run(leaderFailoverBound)
	if w.Leader() == "" {
		t.Fatalf("after %s crashed, no leader\n%s", third, w.Describe())
	}
	w.RequireNoViolations()
}
