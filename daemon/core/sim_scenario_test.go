package core_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/internal/simcluster"
	"github.com/ringd/ringd/partitions"
)

// The timing of every simulated cluster.
var fast = simcluster.Fast()

// Bounds the scenarios assert, derived from the timing with room for a few
// ticks and message delays.
var (
	// safeWait is how long a new leader grants nothing it cannot vouch for:
	// LeaderLease*(1+Drift) + Lease*(1+Drift) + SafetyMargin.
	safeWait = fast.SafeWait()
	// leaseSafe is how long after a member's last renewal its lease surely
	// ended: Lease*(1+Drift) + SafetyMargin.
	leaseSafe = fast.LeaseSafe()

	// bootstrapBound: the first campaign starts after LeaderTimeout, a
	// campaign takes ElectionTimeout (probe) plus a few round trips, maybe
	// a split vote with back-off, then the safe wait; with 0.9s to spare.
	bootstrapBound = fast.LeaderTimeout + fast.ElectionTimeout + 300*time.Millisecond + safeWait + 900*time.Millisecond
	// followerFailoverBound: the leader regrants a silent member's
	// partitions leaseSafe after its last renewal, which is at most a
	// heartbeat before the crash.
	followerFailoverBound = leaseSafe + fast.HeartbeatInterval + 10*fast.Tick
	// leaderFailoverBound: any failover that costs a leader, when a member
	// other than the leader may have gone silent too: gossip notices a crash
	// (DetectDelay), the followers campaign within ElectionTimeout after
	// their last heartbeat (or after LeaderTimeout without gossip), win
	// within a few round trips, then partitions a silent member may hold
	// wait out safeWait.
	leaderFailoverBound = simcluster.DetectDelay + fast.ElectionTimeout + 300*time.Millisecond + safeWait + 10*fast.Tick
	// crashedLeaderBound: the leader alone crashes. The followers campaign
	// LeaderTimeout after the last heartbeat, without probing the silent
	// leader (and without waiting for gossip to call it dead), and win
	// within a few round trips. The crashed leader's own partitions are free
	// LeaderLease*(1+Drift) + SafetyMargin after the last heartbeat a
	// majority acknowledged (its lease is its leader lease, and the votes
	// say when that was); the others keep theirs. Not safeWait: that is for
	// partitions a silent member may hold.
	crashedLeaderBound = max(fast.LeaderTimeout+300*time.Millisecond, fast.ScaleDrift(fast.LeaderLease)+fast.SafetyMargin) +
		fast.HeartbeatInterval + 10*fast.Tick
	// handoffBound: a planned move is a few round trips (table, app ack,
	// release report, table), far below a lease.
	handoffBound = 200 * time.Millisecond
)

// bootstrap starts a cluster and waits for full coverage within
// bootstrapBound, then lets it settle for a while.
func bootstrap(t *testing.T, seed int64, ss ...simcluster.MemberSpec) *simcluster.Cluster {
	t.Helper()
	w := simcluster.New(t, simcluster.Seed(seed), simcluster.Members(ss...))
	if !w.RunUntil(bootstrapBound, w.Covered) {
		t.Fatalf("seed %d: %d members not covered within %v\n%s", seed, len(ss), bootstrapBound, w.Trace(40))
	}
	w.Run(time.Second)
	if !w.Covered() {
		t.Fatalf("seed %d: coverage lost while settling\n%s", seed, w.Trace(40))
	}
	w.RequireNoViolations()
	return w
}

// TestBootstrapCoverage: 3 and 5 members reach full coverage (every
// partition held by exactly one app) within bootstrapBound, balanced.
func TestBootstrapCoverage(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d members", n), func(t *testing.T) {
			var worst time.Duration
			for seed := int64(1); seed <= 5; seed++ {
				w := simcluster.New(t, simcluster.Seed(seed), simcluster.Members(simcluster.Specs(n)...))
				if !w.RunUntil(bootstrapBound, w.Covered) {
					t.Fatalf("seed %d: not covered within %v\n%s", seed, bootstrapBound, w.Trace(40))
				}
				worst = max(worst, w.Elapsed())
				w.Run(2 * time.Second)
				w.RequireNoViolations()
				capacity := int(math.Ceil(simcluster.Load * simcluster.Partitions / float64(n)))
				for _, name := range w.Names() {
					if got := len(w.Tokens(name)); got > capacity || got == 0 {
						t.Errorf("seed %d: %s holds %d partitions, want 1..%d", seed, name, got, capacity)
					}
				}
				if w.Leader() == "" {
					t.Errorf("seed %d: no single leader", seed)
				}
			}
			t.Logf("%d members: full coverage after at most %v (bound %v)", n, worst, bootstrapBound)
		})
	}
}

// crashAndRecover crashes victim in a settled cluster and measures how long
// until the survivors cover every partition again. It checks that the
// survivors keep every partition they held, with the same token and without
// a break: a failover moves only the victim's partitions.
func crashAndRecover(t *testing.T, w *simcluster.Cluster, victim string, bound time.Duration) time.Duration {
	t.Helper()
	survivors := w.Others(victim)
	before := map[string]map[int]uint64{}
	for _, n := range survivors {
		before[n] = w.Tokens(n)
	}
	crashAt := w.GlobalNow()
	w.Crash(victim)
	if !w.RunUntil(bound+time.Second, func() bool { return w.CoveredBy(survivors) }) {
		t.Fatalf("seed %d: survivors did not cover within %v\n%s", w.Seed(), bound+time.Second, w.Trace(40))
	}
	took := w.GlobalNow().Sub(crashAt)
	if took > bound {
		t.Errorf("seed %d: coverage after crashing %s took %v, bound %v", w.Seed(), victim, took, bound)
	}
	w.Run(time.Second)
	w.RequireNoViolations()
	if w.Leader() == "" {
		t.Errorf("seed %d: no single leader after the crash", w.Seed())
	}
	for _, n := range survivors {
		now := w.Tokens(n)
		for p, tok := range before[n] {
			if now[p] != tok {
				t.Errorf("seed %d: %s held p%d with token %d before the crash, now %d", w.Seed(), n, p, tok, now[p])
				continue
			}
			// One interval, from before the crash until now.
			var ivs []string
			for _, iv := range w.Checker().Intervals(p) {
				if iv.Member == n && iv.Token == tok {
					ivs = append(ivs, iv.String())
				}
			}
			if len(ivs) != 1 {
				t.Errorf("seed %d: %s's grant of p%d was interrupted: %v", w.Seed(), n, p, ivs)
			}
		}
	}
	return took
}

// TestCrashFollower: crashing a follower restores coverage within
// followerFailoverBound, moving only its partitions.
func TestCrashFollower(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d members", n), func(t *testing.T) {
			var worst time.Duration
			for seed := int64(1); seed <= 4; seed++ {
				w := bootstrap(t, seed, simcluster.Specs(n)...)
				leader := w.Leader()
				victim := w.Others(leader)[int(seed)%(n-1)]
				worst = max(worst, crashAndRecover(t, w, victim, followerFailoverBound))
				if got := w.Leader(); got != leader {
					t.Errorf("seed %d: leader changed from %s to %s on a follower crash", seed, leader, got)
				}
			}
			t.Logf("%d members: failover after a follower crash took at most %v (bound %v)", n, worst, followerFailoverBound)
		})
	}
}

// TestCrashLeader: crashing the leader restores coverage within
// leaderFailoverBound; the survivors' partitions keep their tokens (a leader
// change alone moves nothing).
func TestCrashLeader(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d members", n), func(t *testing.T) {
			var worst time.Duration
			for seed := int64(1); seed <= 4; seed++ {
				w := bootstrap(t, seed, simcluster.Specs(n)...)
				leader := w.Leader()
				if leader == "" {
					t.Fatalf("seed %d: no leader", seed)
				}
				oldTerm := w.View(leader).Term
				worst = max(worst, crashAndRecover(t, w, leader, crashedLeaderBound))
				if nl := w.Leader(); nl == "" || w.View(nl).Term <= oldTerm {
					t.Errorf("seed %d: new leader %q, term not above %d", seed, nl, oldTerm)
				}
			}
			t.Logf("%d members: failover after a leader crash took at most %v (bound %v)", n, worst, crashedLeaderBound)
		})
	}
}

// TestMinorityPartition splits 5 members 3|2, with the leader on either
// side: only the majority has a leader, the minority holds nothing once its
// leases ran out, and after the heal there is one leader and one table.
func TestMinorityPartition(t *testing.T) {
	for _, leaderInMinority := range []bool{false, true} {
		t.Run(fmt.Sprintf("leader in minority %t", leaderInMinority), func(t *testing.T) {
			w := bootstrap(t, 7, simcluster.Specs(5)...)
			leader := w.Leader()
			rest := w.Others(leader)
			var major, minor []string
			if leaderInMinority {
				minor, major = []string{leader, rest[0]}, rest[1:]
			} else {
				major, minor = append([]string{leader}, rest[:2]...), rest[2:]
			}
			cutAt := w.GlobalNow()
			w.Partition(major, minor)
			w.OnStep(func(now time.Time) {
				since := now.Sub(cutAt)
				if ls := w.Leaders(minor); len(ls) > 0 && since > fast.LeaderLease+2*fast.Tick {
					t.Errorf("%v after the cut: minority %v has leader %v", since, minor, ls)
				}
				if ls := w.Leaders(major); len(ls) > 1 {
					t.Errorf("%v after the cut: majority %v has leaders %v", since, major, ls)
				}
				// The old leader renews the minority until its leader
				// lease ends; their leases end a lease later.
				if since > fast.LeaderLease+fast.Lease+2*fast.Tick {
					for _, n := range minor {
						if hs := w.AppHoldings(n); len(hs) > 0 {
							t.Errorf("%v after the cut: minority member %s still holds %v", since, n, hs)
						}
					}
				}
			})
			if !w.RunUntil(leaderFailoverBound+time.Second, func() bool { return w.CoveredBy(major) }) {
				t.Fatalf("majority %v did not cover\n%s", major, w.Trace(40))
			}
			t.Logf("majority covers everything %v after the cut", w.GlobalNow().Sub(cutAt))
			w.Run(2 * time.Second)
			if !w.T().Failed() && len(w.Leaders(major)) != 1 {
				t.Errorf("majority has leaders %v", w.Leaders(major))
			}
			w.ClearHooks()
			healAt := w.GlobalNow()
			w.Heal()
			oneTable := func() bool {
				if w.Leader() == "" || !w.Covered() {
					return false
				}
				first := w.View(w.Names()[0]).Table
				for _, n := range w.Names()[1:] {
					t := w.View(n).Table
					if t.ID != first.ID || !slices.Equal(t.Partitions, first.Partitions) {
						return false
					}
				}
				return true
			}
			if !w.RunUntil(5*time.Second, func() bool { return oneTable() && len(w.Tokens(minor[0])) > 0 }) {
				t.Fatalf("no single leader and table after the heal\n%s", w.Trace(40))
			}
			t.Logf("one leader, one table, minority back to work %v after the heal", w.GlobalNow().Sub(healAt))
			w.RequireNoViolations()
		})
	}
}

// TestPauseLeader pauses the leader (SIGSTOP) for longer than the lease:
// the others take over, the paused app stops when its lease ends, and the
// resumed member holds nothing that another member owns.
func TestPauseLeader(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		w := bootstrap(t, seed, simcluster.Specs(5)...)
		old := w.Leader()
		oldTokens := w.Tokens(old)
		pausedAt := w.GlobalNow()
		w.Pause(old)
		w.Run(3 * fast.Lease)
		if !w.CoveredBy(w.Others(old)) {
			t.Fatalf("seed %d: others did not cover while %s was paused\n%s", seed, old, w.Trace(40))
		}
		if got := w.AppHoldings(old); len(got) != 0 {
			t.Errorf("seed %d: paused app still holds %v after %v", seed, got, w.GlobalNow().Sub(pausedAt))
		}
		w.Resume(old)
		w.OnStep(func(now time.Time) {
			mine := w.Tokens(old)
			for p, tok := range mine {
				if oldTokens[p] == tok {
					t.Errorf("seed %d: resumed %s took back p%d with its old token %d", seed, old, p, tok)
				}
			}
		})
		w.Run(fast.Tick)
		if got := w.Tokens(old); len(got) != 0 {
			t.Errorf("seed %d: right after resuming, %s holds %v", seed, old, got)
		}
		if !w.RunUntil(5*time.Second, func() bool { return w.Covered() && len(w.Tokens(old)) > 0 }) {
			t.Fatalf("seed %d: resumed member never got partitions back\n%s", seed, w.Trace(40))
		}
		if l := w.Leader(); l == old && !w.Preempt() {
			t.Errorf("seed %d: resumed %s leads again without preemption", seed, old)
		}
		w.Run(time.Second)
		w.RequireNoViolations()
	}
}

// handoff follows one partition moving away from a member.
type handoff struct {
	oldToken, newToken uint64
	releasingAt        time.Time // old owner's app told to let go
	releasedAt         time.Time // old owner's app stopped
	grantedAt          time.Time // new owner's app started
	to                 string
}

// TestDrain drains a member (a follower, or the leader): its partitions move
// releasing -> released -> granted with a higher token. With an app that
// acknowledges at once each handoff takes a few round trips, far below a
// lease; a slow app adds its delay; an app that never answers is bounded by
// the release timeout.
func TestDrain(t *testing.T) {
	tests := []struct {
		name     string
		leader   bool
		ackDelay time.Duration
		bound    time.Duration
	}{
		{"follower, prompt app", false, 0, handoffBound},
		{"leader, prompt app", true, 0, handoffBound},
		{"follower, slow app", false, 300 * time.Millisecond, 300*time.Millisecond + handoffBound},
		// An app that never answers loses the partition at the release
		// timeout, but never before the lease's end it may have been
		// shown while the partition was owned.
		{"follower, app never answers", false, -1, max(fast.ReleaseTimeout, fast.Lease) + handoffBound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss := simcluster.Specs(5)
			for i := range ss {
				ss[i].AckDelay = tc.ackDelay
			}
			w := bootstrap(t, 3, ss...)
			x := w.Others(w.Leader())[1]
			if tc.leader {
				x = w.Leader()
			}
			moves := map[int]*handoff{}
			for p, tok := range w.Tokens(x) {
				moves[p] = &handoff{oldToken: tok}
			}
			w.OnView(func(m *simcluster.Member, v core.View) {
				if m.Name() != x {
					return
				}
				for _, h := range v.Holdings {
					if mv := moves[h.ID]; mv != nil && h.State == partitions.Releasing && mv.releasingAt.IsZero() {
						mv.releasingAt = w.GlobalNow()
					}
				}
			})
			w.OnStep(func(now time.Time) {
				held := w.Tokens(x)
				for p, mv := range moves {
					if _, ok := held[p]; !ok && mv.releasedAt.IsZero() {
						mv.releasedAt = now
					}
					if !mv.grantedAt.IsZero() {
						continue
					}
					for _, n := range w.Others(x) {
						if tok, ok := w.Tokens(n)[p]; ok {
							mv.grantedAt, mv.newToken, mv.to = now, tok, n
						}
					}
				}
			})
			start := w.GlobalNow()
			w.SetDraining(x, true)
			done := func() bool { return len(w.Tokens(x)) == 0 && w.CoveredBy(w.Others(x)) }
			if !w.RunUntil(fast.Lease, done) {
				t.Fatalf("drain of %s not done within a lease (%v)\n%s", x, fast.Lease, w.Trace(40))
			}
			total := w.GlobalNow().Sub(start)
			var worst time.Duration
			for p, mv := range moves {
				if mv.releasingAt.IsZero() {
					t.Errorf("p%d: never seen releasing on %s", p, x)
					continue
				}
				if mv.grantedAt.Before(mv.releasedAt) {
					t.Errorf("p%d: granted to %s at %v before %s released it at %v", p, mv.to, mv.grantedAt, x, mv.releasedAt)
				}
				if mv.newToken <= mv.oldToken {
					t.Errorf("p%d: token %d on %s not above %d", p, mv.newToken, mv.to, mv.oldToken)
				}
				worst = max(worst, mv.grantedAt.Sub(mv.releasingAt))
			}
			if worst > tc.bound {
				t.Errorf("slowest handoff (releasing seen -> granted) took %v, bound %v", worst, tc.bound)
			}
			if worst < tc.ackDelay {
				t.Errorf("slowest handoff took %v, less than the app's %v to acknowledge", worst, tc.ackDelay)
			}
			if tc.ackDelay < 0 && worst < fast.ReleaseTimeout {
				t.Errorf("slowest handoff took %v, less than the release timeout %v of an app that never answers", worst, fast.ReleaseTimeout)
			}
			t.Logf("drained %d partitions of %s in %v; slowest handoff %v (bound %v, lease %v)",
				len(moves), x, total, worst, tc.bound, fast.Lease)
			w.Run(time.Second)
			w.RequireNoViolations()
			if len(w.Tokens(x)) != 0 {
				t.Errorf("draining %s got partitions again: %v", x, w.Tokens(x))
			}
		})
	}
}

// TestJoin adds a fifth member to four: it gets its fair share, taken from
// the others, and nothing else moves: P/(n+1) partitions move.
func TestJoin(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		w := bootstrap(t, seed, simcluster.Specs(4)...)
		owner := func() []string {
			out := make([]string, simcluster.Partitions)
			for p, hs := range w.Holders() {
				if len(hs) == 1 {
					out[p] = hs[0]
				}
			}
			return out
		}
		before := owner()
		joiner := "m4"
		joinAt := w.GlobalNow()
		w.Add(simcluster.MemberSpec{Name: joiner})
		settled := func() bool {
			if !w.Covered() || len(w.Tokens(joiner)) == 0 {
				return false
			}
			for _, n := range w.Names() {
				for _, h := range w.AppHoldings(n) {
					if h.State != partitions.Owned {
						return false
					}
				}
			}
			return true
		}
		if !w.RunUntil(5*time.Second, settled) {
			t.Fatalf("seed %d: join not settled\n%s", seed, w.Trace(40))
		}
		took := w.GlobalNow().Sub(joinAt)
		w.Run(2 * time.Second)
		after := owner()
		moved := 0
		for p := range before {
			if before[p] != after[p] {
				moved++
				if after[p] != joiner {
					t.Errorf("seed %d: p%d moved from %s to %s, not to the newcomer", seed, p, before[p], after[p])
				}
			}
		}
		lo, hi := simcluster.Partitions/5, (simcluster.Partitions+4)/5
		if moved < lo || moved > hi {
			t.Errorf("seed %d: join moved %d partitions, want P/(n+1) = %d..%d", seed, moved, lo, hi)
		}
		t.Logf("seed %d: join moved %d partitions (P/(n+1) = %.1f) in %v", seed, moved, simcluster.Partitions/5.0, took)
		w.RequireNoViolations()
	}
}

// TestWholeClusterRestart crashes every member at once and restarts them all,
// with and without their persisted hard state: every token granted after the
// restart is above every token granted before.
//
// With a data dir, tokens grow also when every wall clock was set back by
// hours while the cluster was down: terms come from the disk, not the clock.
func TestWholeClusterRestart(t *testing.T) {
	for _, tc := range []struct {
		disk, outlive bool
		stepBack      time.Duration
	}{
		{false, false, 0}, {false, true, 0}, {true, false, 0}, {true, true, 0},
		{true, false, 3 * time.Hour}, {true, true, 7 * time.Hour},
	} {
		disk, outlive := tc.disk, tc.outlive
		t.Run(fmt.Sprintf("disk %t app outlives crash %t clock set back %v", disk, outlive, tc.stepBack), func(t *testing.T) {
			ss := simcluster.Specs(3)
			for i := range ss {
				ss[i].Disk = disk
			}
			w := bootstrap(t, 11, ss...)
			w.SetAppOutlivesCrash(outlive)
			w.Run(time.Duration(w.Rand().IntN(1000)) * time.Millisecond)
			before := w.MaxToken()
			for _, n := range w.Names() {
				w.Crash(n)
			}
			w.Run(500 * time.Millisecond)
			for _, n := range w.Names() {
				if tc.stepBack > 0 {
					w.StepClock(n, -tc.stepBack)
				}
			}
			restartAt := w.GlobalNow()
			for _, n := range w.Names() {
				w.Restart(n, true)
			}
			// Covered by the new processes' grants: the apps that
			// outlived their sidecars stopped when their leases ended.
			if !w.RunUntil(bootstrapBound+time.Second, func() bool { return w.GhostsGone() && w.Covered() }) {
				t.Fatalf("not covered after the restart\n%s", w.Trace(40))
			}
			t.Logf("covered %v after the restart; tokens before up to %d", w.GlobalNow().Sub(restartAt), before)
			for _, n := range w.Names() {
				for p, tok := range w.Tokens(n) {
					if tok <= before {
						t.Errorf("%s holds p%d with token %d, not above %d from before the restart", n, p, tok, before)
					}
				}
			}
			for p := 0; p < simcluster.Partitions; p++ {
				for _, iv := range w.Checker().Intervals(p) {
					if !iv.From.Before(restartAt) && iv.Token <= before {
						t.Errorf("%v started after the restart with a token not above %d", iv, before)
					}
				}
			}
			w.RequireNoViolations()
		})
	}
}

// TestTokensGrowAfterElectionBurst: a burst of elections (here eight
// leadership transfers in a third of a second) pushes the term ahead of the
// wall-clock floor; a partition is granted in that term; then every member
// restarts without a data dir soon after. New terms start from the floor, so
// tokens keep growing only if the floor has caught up with the burst by then.
//
// The floor here counts tenths of a second. With a floor in seconds
// (floorUnit = time.Second, what the daemon used before commit e9844b8) this
// test fails: the last grant before the restart has token 1000010001 (term
// 1000010, 3.6s into the run), the first after it 1000006001 (term 1000006 at
// 5.9s): fencing tokens go backwards, and a member restarted without a data
// dir may vote twice in one term. The daemon now floors terms at the
// millisecond; this harness cannot run that yet: a pre-vote response counts
// only if its term equals nextTerm() when it arrives, and here every
// response arrives after a tick that moved a millisecond floor on, so nobody
// is ever elected (election/node.go, onPreVoteResponse).
func TestTokensGrowAfterElectionBurst(t *testing.T) {
	w := simcluster.New(t, simcluster.Seed(5), simcluster.With(simcluster.Settings{FloorUnit: 100 * time.Millisecond}), simcluster.Members(simcluster.Specs(3)...))
	if !w.RunUntil(bootstrapBound, w.Covered) {
		t.Fatalf("not covered\n%s", w.Trace(40))
	}
	w.Run(time.Second)
	first := w.View(w.Leader()).Term
	for i := range 8 {
		l := w.Leader()
		to := w.Others(l)[i%2]
		if err := w.Member(l).Core().Transfer(w.Now(l), to); err != nil {
			t.Fatalf("transfer %s -> %s: %v", l, to, err)
		}
		if !w.RunUntil(time.Second, func() bool { return w.Leader() == to }) {
			t.Fatalf("transfer %d to %s did not happen\n%s", i, to, w.Trace(40))
		}
	}
	if term := w.View(w.Leader()).Term; term < first+8 {
		t.Fatalf("term %d after 8 transfers from %d", term, first)
	}
	// A grant in the newest term: crash a follower, let its partitions move.
	victim := w.Others(w.Leader())[0]
	w.Crash(victim)
	if !w.RunUntil(3*time.Second, func() bool { return w.CoveredBy(w.Others(victim)) }) {
		t.Fatalf("no failover\n%s", w.Trace(40))
	}
	w.Restart(victim, false)
	w.Run(500 * time.Millisecond)
	before := w.MaxToken()
	for _, n := range w.Names() {
		w.Crash(n)
	}
	w.Run(100 * time.Millisecond)
	for _, n := range w.Names() {
		w.Restart(n, false)
	}
	if !w.RunUntil(bootstrapBound+time.Second, w.Covered) {
		t.Fatalf("not covered after the restart\n%s", w.Trace(40))
	}
	for _, n := range w.Names() {
		for p, tok := range w.Tokens(n) {
			if tok <= before {
				t.Errorf("%s holds p%d with token %d, not above %d from before the restart", n, p, tok, before)
			}
		}
	}
	w.RequireNoViolations()
}
