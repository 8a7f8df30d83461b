package core_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/faults"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/internal/simcluster"
)

var (
	seedFlag = flag.Int64("seed", 0,
		"replay one randomized fault schedule (TestRandomSchedules) with this seed, logging its trace")
	schedulesFlag = flag.Int("schedules", 500,
		"how many seeded fault schedules TestRandomSchedules runs")
	soakFlag = flag.Duration("soak", 0,
		"run random fault schedules in TestSoak until this much wall time has passed (0: a handful)")
)

// recoveryBound is how long, after every fault ended, a partition may stay
// unowned. Derivation: the faults can leave no leader, so the followers wait
// LeaderTimeout, campaign (a probe of ElectionTimeout and a few round trips)
// and the new leader grants nothing for safeWait. A member that came back
// and outranks that leader preempts it after Settle, and the partitions
// still unowned wait a second safeWait under the next leader. So:
// LeaderTimeout + Settle + 2 × (ElectionTimeout + safeWait) + 2 heartbeats,
// plus a third of a second for the round trips. TestRandomSchedules logs the
// recovery times it sees.
var recoveryBound = fast.LeaderTimeout + fast.Settle + 2*(fast.ElectionTimeout+safeWait) + 2*fast.HeartbeatInterval + 340*time.Millisecond

// Fault durations are drawn as multiples of the timing, so that they keep
// their meaning when it changes. Half the pauses end while the paused
// member's lease still holds; the other half outlive the time its lease
// surely ends (LeaseSafe), so that its app works on while the leader may
// grant its partitions to others: the main safety case.
const (
	// shortPauseMin and shortPauseMax bound a short pause, × Lease.
	shortPauseMin, shortPauseMax = 0.05, 0.8
	// longPauseMin and longPauseMax bound a long pause, × LeaseSafe.
	longPauseMin, longPauseMax = 1.1, 2.5
	// restartMin and restartMax bound the time from a crash to its
	// restart, × LeaseSafe: from well within the lease to long after it.
	restartMin, restartMax = 0.05, 1.85
	// faultWindowMin and faultWindowMax bound how long a schedule injects
	// faults, × SafeWait: from about one leader change to several.
	faultWindowMin, faultWindowMax = 0.85, 2.8
)

// between draws a duration uniformly in [lo, hi) × unit.
func between(rng *rand.Rand, lo, hi float64, unit time.Duration) time.Duration {
	return time.Duration((lo + (hi-lo)*rng.Float64()) * float64(unit))
}

// recoveryLimit is how long a schedule may take to reach full coverage after
// the heal before it counts as a liveness failure.
const recoveryLimit = 12 * time.Second

// scheduleOpts varies the randomized suite.
type scheduleOpts struct {
	// unsafe: which members grant without waiting ("one", "all" or "").
	unsafe string
	// driftAtBound puts every clock at ±Drift/2 (alternating) instead of a
	// random rate within that range.
	driftAtBound bool
	// driftFactor scales the clock drift (1: within the design's bound).
	driftFactor float64
	// mixedLeases gives every member its own --lease and --leader-lease,
	// drawn again at each restart and for each joiner: a rolling change of
	// them under faults (drawLeases).
	mixedLeases bool
	// placement runs every member with a standby per partition, in zones,
	// and adds planned restarts (--shutdown=restart) to the faults drawn.
	placement bool
}

// drawLeases draws a member's --lease and --leader-lease for mixedLeases:
// from the shortest the timing allows (a lease outlasting a failover, a
// leader lease of two heartbeats) up to the Fast timing's, so that the
// recovery bound, computed from those, still holds.
func drawLeases(cfg *rand.Rand, s *simcluster.MemberSpec) {
	minLease := fast.LeaderTimeout + 2*fast.ElectionTimeout + 2*fast.HeartbeatInterval
	s.Lease = minLease + time.Duration(cfg.Int64N(int64(fast.Lease-minLease)+1))
	minLeader := 2 * fast.HeartbeatInterval
	s.LeaderLease = minLeader + time.Duration(cfg.Int64N(int64(fast.LeaderLease-minLeader)+1))
}

// scheduleResult is what one schedule found.
type scheduleResult struct {
	seed       int64
	members    int
	violations []ownercheck.Violation
	// failure is a liveness or coverage failure (empty if none).
	failure string
	// quorumLost: the schedule took a majority of the voters' identities
	// away (they restarted without their state), so no leader is promised;
	// only safety is checked.
	quorumLost bool
	// recovered: time from the heal to full coverage.
	recovered time.Duration
	// longestGap after the heal.
	longestGap time.Duration
	trace      string
}

// runSchedule builds a random cluster and fault schedule from seed and runs
// it: bootstrap, faults for a random time, heal everything, run until full
// coverage. It never calls t.Fatal: the caller judges the result.
func runSchedule(t testing.TB, seed int64, o scheduleOpts, verbose bool) scheduleResult {
	cfg := rand.New(rand.NewPCG(uint64(seed), 0xc0f1))
	n := 3 + cfg.IntN(5)
	ss := simcluster.Specs(n)
	prios := cfg.IntN(2) == 0
	unsafeOne := cfg.IntN(n)
	for i := range ss {
		s := &ss[i]
		if prios {
			s.Prio = cfg.IntN(3)
		}
		s.Disk = cfg.IntN(2) == 0
		factor := o.driftFactor
		if factor == 0 {
			factor = 1
		}
		if o.driftAtBound {
			s.Drift = fast.Drift / 2 * factor
			if i%2 == 1 {
				s.Drift = -s.Drift
			}
		} else {
			s.Drift = (cfg.Float64() - 0.5) * fast.Drift * factor
		}
		switch r := cfg.IntN(10); {
		case r < 6:
			s.AckDelay = 0
		case r < 9:
			s.AckDelay = time.Duration(10+cfg.IntN(400)) * time.Millisecond
		default:
			s.AckDelay = -1 // never answers: the release timeout bounds it
		}
		s.Unsafe = o.unsafe == "all" || (o.unsafe == "one" && i == unsafeOne)
		if o.mixedLeases {
			drawLeases(cfg, s)
		}
		if o.placement {
			s.Zone = fmt.Sprintf("z%d", i%2)
		}
	}
	if cfg.IntN(4) == 0 {
		// Members started with different --bootstrap-expect, each at least
		// a majority of the members (the documented condition).
		for i := range ss {
			ss[i].Expect = n/2 + 1 + cfg.IntN(n-n/2)
		}
	}
	wo := simcluster.Settings{NoPreempt: cfg.IntN(5) == 0, AppOutlivesCrash: cfg.IntN(2) == 0}
	if o.placement {
		wo.Standbys = 1
	}
	w := simcluster.New(t, simcluster.Seed(seed), simcluster.With(wo), simcluster.Members(ss...))
	w.SetVerbose(verbose)
	res := scheduleResult{seed: seed, members: n}
	w.Logf("schedule seed %d: %d members, preempt %t, app outlives crash %t", seed, n, w.Preempt(), w.AppOutlivesCrash())
	for _, s := range ss {
		w.Logf("  %s prio %d disk %t drift %+.4f ack %v unsafe %t lease %v leader lease %v",
			s.Name, s.Prio, s.Disk, s.Drift, s.AckDelay, s.Unsafe, s.Lease, s.LeaderLease)
	}

	finish := func() scheduleResult {
		res.violations = w.Checker().Violations()
		res.trace = w.Trace(80)
		return res
	}

	// Bootstrap, sometimes with the faults starting before coverage.
	warm := bootstrapBound
	if cfg.IntN(4) == 0 {
		warm = time.Duration(cfg.IntN(2000)) * time.Millisecond
	}
	w.RunUntil(warm, w.Covered)
	w.Run(time.Duration(cfg.IntN(500)) * time.Millisecond)

	faultFor := between(cfg, faultWindowMin, faultWindowMax, safeWait)
	faultStart := w.Elapsed()
	events := 1 + cfg.IntN(6)
	gen := faults.NewGenerator(cfg, w.Names(), faults.Drop, faults.Cut, faults.Delay,
		faults.Partition, faults.Partition, faults.Pause, faults.Pause, faults.Crash, faults.Crash)
	gen.MinDrop, gen.MaxDrop, gen.MaxDelay = 0.2, 1, 420*time.Millisecond
	for range events {
		at := faultStart + time.Duration(cfg.Int64N(int64(faultFor)))
		scheduleFault(w, cfg, gen, at, faultStart+faultFor, o)
	}
	w.Run(faultFor)

	healAt := w.GlobalNow()
	keepHard := cfg.IntN(2) == 0
	w.CancelEvents() // faults still pending are dropped with the heal
	w.HealAll(keepHard)
	// Once every fault ended, every live member is connected: they must
	// have one leader again within recoveryBound (the liveness half of the
	// voter rules), unless the schedule took a majority of the voters'
	// state away.
	var leaderAt time.Time
	if !w.RunUntil(recoveryLimit, func() bool {
		if leaderAt.IsZero() && w.Leader() != "" {
			leaderAt = w.GlobalNow()
		}
		return w.GhostsGone() && w.Covered()
	}) {
		if w.VotersLost() {
			res.quorumLost = true
			return finish()
		}
		res.failure = fmt.Sprintf("no full coverage within %v after the heal\n%s", recoveryLimit, w.Describe())
		return finish()
	}
	res.recovered = w.GlobalNow().Sub(healAt)
	if took := leaderAt.Sub(healAt); took > recoveryBound {
		res.failure = fmt.Sprintf("no single leader until %v after the heal (bound %v)", took, recoveryBound)
		return finish()
	}
	w.Run(500 * time.Millisecond)
	for _, g := range w.Checker().CoverageGaps(healAt, 0) {
		res.longestGap = max(res.longestGap, g.Len())
	}
	if gaps := w.Checker().CoverageGaps(healAt, recoveryBound); len(gaps) > 0 {
		res.failure = fmt.Sprintf("after the heal: %v (bound %v)", gaps[0], recoveryBound)
	}
	return finish()
}

// scheduleFault adds one random fault at virtual time at (since the cluster's
// start): one of the shared vocabulary (gen) or one of the core's own (drains,
// transfers, joins, leaves, clock steps). Faults that end by themselves
// (pauses, crashes, drains) end before until or with the heal.
func scheduleFault(w *simcluster.Cluster, cfg *rand.Rand, gen *faults.Generator, at, until time.Duration, o scheduleOpts) {
	names := w.Names()
	pick := func() string { return names[cfg.IntN(len(names))] }
	kinds := 14
	if o.placement {
		kinds = 16 // and 14, 15: planned restarts
	}
	switch cfg.IntN(kinds) {
	case 14, 15: // a planned restart: partitions kept for a grace, back under the name
		a := pick()
		grace := time.Duration(200+cfg.IntN(4000)) * time.Millisecond
		limit := time.Duration(cfg.IntN(3000)) * time.Millisecond
		down := time.Duration(cfg.IntN(3000)) * time.Millisecond
		w.At(at, "planned restart "+a, func() { w.PlannedRestart(a, grace, limit, down) })
	default: // 0-8: links, partitions, pauses, crashes
		f := gen.Next(nil)
		w.At(at, f.String(), func() { w.Apply(f) })
		switch f.Kind {
		case faults.Pause: // shorter than the lease or longer than LeaseSafe
			d := between(cfg, shortPauseMin, shortPauseMax, fast.Lease)
			if cfg.IntN(2) == 0 {
				d = between(cfg, longPauseMin, longPauseMax, leaseSafe)
			}
			if at+d < until {
				resume := faults.Fault{Kind: faults.Resume, Member: f.Member}
				w.At(at+d, resume.String(), func() { w.Apply(resume) })
			}
		case faults.Crash: // restart later with or without the hard state
			restart := faults.Fault{Kind: faults.Restart, Member: f.Member}
			if cfg.IntN(2) == 0 {
				restart.Kind = faults.RestartDiskless
			}
			if r := at + between(cfg, restartMin, restartMax, leaseSafe); r < until {
				var spec simcluster.MemberSpec
				if o.mixedLeases {
					drawLeases(cfg, &spec)
				}
				w.At(r, restart.String(), func() {
					if o.mixedLeases {
						w.Respec(f.Member, func(s *simcluster.MemberSpec) { s.Lease, s.LeaderLease = spec.Lease, spec.LeaderLease })
					}
					w.Apply(restart)
				})
			}
		}
	case 9: // drain for a while
		a := pick()
		w.At(at, "drain", func() { w.SetDraining(a, true) })
		drain := 300*time.Millisecond + time.Duration(cfg.Int64N(int64(1700*time.Millisecond)))
		if r := at + drain; r < until {
			w.At(r, "undrain", func() { w.SetDraining(a, false) })
		}
	case 11: // a new member joins (maybe into a split network)
		name := fmt.Sprintf("j%d", w.PendingEvents()+len(w.Names()))
		spec := simcluster.MemberSpec{Name: name, Disk: cfg.IntN(2) == 0}
		if o.mixedLeases {
			drawLeases(cfg, &spec)
		}
		w.At(at, "join "+name, func() {
			if w.Member(name) == nil {
				w.Add(spec)
			}
		})
	case 12: // a member leaves for good (SIGTERM), bounded like a shutdown
		a := pick()
		w.At(at, "leave "+a, func() {
			left := 0
			for _, n := range w.Names() {
				if !w.Member(n).Gone() && !w.Member(n).Core().Leaving() {
					left++
				}
			}
			if left > 2 {
				w.Leave(a, 2*fast.Lease)
			}
		})
	case 13: // a wall clock is stepped by hours, forwards or (with a data
		// dir, where terms do not rest on it) back
		a := pick()
		d := time.Duration(1+cfg.IntN(5)) * time.Hour
		if w.Member(a).Spec().Disk && cfg.IntN(2) == 0 {
			d = -d
		}
		w.At(at, "clock step", func() { w.StepClock(a, d) })
	case 10: // leadership transfer, or heal the network mid-way
		to := pick()
		if cfg.IntN(2) == 0 {
			w.At(at, "heal", w.Heal)
			return
		}
		w.At(at, "transfer to "+to, func() {
			if l := w.Leader(); l != "" && l != to && w.Up(to) {
				err := w.Member(l).Core().Transfer(w.Now(l), to)
				w.Logf("transfer %s -> %s: %v", l, to, err)
			}
		})
	}
}

// runSchedules runs seeds first..first+count-1 on both CPUs and returns the
// results in seed order. With -seed it runs only that seed, logging its
// trace as it goes.
func runSchedules(t *testing.T, first int64, count int, o scheduleOpts) []scheduleResult {
	t.Helper()
	if *seedFlag != 0 {
		r := runSchedule(t, *seedFlag, o, true)
		t.Logf("seed %d: recovered %v after the heal, longest gap %v", r.seed, r.recovered, r.longestGap)
		return []scheduleResult{r}
	}
	results := make([]scheduleResult, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				results[i] = runSchedule(t, first+i, o, false)
			}
		}()
	}
	wg.Wait()
	return results
}

// judge fails the test for every schedule with a violation or a liveness
// failure, naming the seed to replay with -seed and the -run pattern replay.
func judge(t *testing.T, replay string, results []scheduleResult) {
	t.Helper()
	failed := 0
	for _, r := range results {
		if len(r.violations) == 0 && r.failure == "" {
			continue
		}
		failed++
		if failed > 5 {
			continue
		}
		msg := r.failure
		if len(r.violations) > 0 {
			msg = ownercheck.Summary(r.violations, 5)
		}
		t.Errorf("seed %d (%d members; replay: go test ./daemon/core -run '%s' -v -seed %d): %s\ntrace (last lines):\n%s",
			r.seed, r.members, replay, r.seed, msg, r.trace)
	}
	if failed > 5 {
		t.Errorf("... %d failing seeds in all", failed)
	}
}

// figures logs the recovery times over the schedules, with the seed of the
// slowest.
func figures(t *testing.T, results []scheduleResult) {
	var rec, gaps []time.Duration
	var slowest scheduleResult
	lost := 0
	for _, r := range results {
		if r.quorumLost {
			lost++
			continue
		}
		if r.failure == "" && len(r.violations) == 0 {
			rec = append(rec, r.recovered)
			gaps = append(gaps, r.longestGap)
			if r.longestGap >= slowest.longestGap {
				slowest = r
			}
		}
	}
	if len(rec) == 0 {
		return
	}
	slices.Sort(rec)
	slices.Sort(gaps)
	q := func(d []time.Duration, f float64) time.Duration { return d[int(f*float64(len(d)-1))] }
	t.Logf("%d schedules: full coverage after the heal median %v, p95 %v, max %v; longest gap after the heal median %v, p95 %v, max %v (seed %d; bound %v); %d more lost a majority of the voters' state (no leader promised, safety checked)",
		len(rec), q(rec, 0.5), q(rec, 0.95), q(rec, 1), q(gaps, 0.5), q(gaps, 0.95), q(gaps, 1), slowest.seed, recoveryBound, lost)
}

// TestRandomSchedules runs -schedules seeded random fault schedules (3-7
// members; drops, one-way cuts, delays, partitions, pauses, crashes and
// restarts with and without hard state, drains, transfers) and checks that
// no two apps ever held a partition at once, that tokens only grew, and that
// after the faults every partition is owned again within recoveryBound.
// -seed N replays one schedule with its trace.
func TestRandomSchedules(t *testing.T) {
	results := runSchedules(t, 1, *schedulesFlag, scheduleOpts{})
	judge(t, "^TestRandomSchedules$", results)
	figures(t, results)
}

// TestDriftAtBound runs schedules with every clock at the drift bound, half
// of them fast and half slow (+Drift/2 and -Drift/2: two clocks apart by
// Drift): still no violation. Six times beyond the bound, leases outlast what
// the leader computes and the checker catches double owners: the drift the
// harness simulates is real, and the bound is load-bearing.
func TestDriftAtBound(t *testing.T) {
	t.Run("at the bound", func(t *testing.T) {
		results := runSchedules(t, 10_001, 40, scheduleOpts{driftAtBound: true})
		judge(t, "^TestDriftAtBound$/^at_the_bound$", results)
		figures(t, results)
	})
	t.Run("six times the bound is caught", func(t *testing.T) {
		results := runSchedules(t, 10_001, 40, scheduleOpts{driftAtBound: true, driftFactor: 6})
		found := 0
		for _, r := range results {
			if len(r.violations) > 0 {
				found++
			}
		}
		if found == 0 {
			t.Fatalf("clocks at ±%.2f: no violation in %d schedules", 3*fast.Drift, len(results))
		}
		t.Logf("clocks at ±%.2f: violations in %d of %d schedules", 3*fast.Drift, found, len(results))
	})
}

// TestRandomSchedulesMixedLeases runs schedules whose members each have
// their own --lease and --leader-lease, drawn again when they restart or
// join: a rolling change of those settings while faults happen. A member
// renewed by a leader with a longer lease than a later leader's, or a leader
// lease longer than its successor's, must not end up next to a new owner.
func TestRandomSchedulesMixedLeases(t *testing.T) {
	results := runSchedules(t, 20_001, 120, scheduleOpts{mixedLeases: true})
	judge(t, "^TestRandomSchedulesMixedLeases$", results)
	figures(t, results)
}

// TestRandomSchedulesPlacement runs schedules with a standby per partition,
// members in two zones, and planned restarts among the faults (a member
// stopping with --shutdown=restart, its partitions kept for a grace of 0.2
// to 4.2 s, back under its name after up to 3 s, or not before the grace
// ends): kept partitions, standby takeovers and their interplay with
// crashes, pauses, partitions and leader changes must not make two owners.
func TestRandomSchedulesPlacement(t *testing.T) {
	results := runSchedules(t, 30_001, 120, scheduleOpts{placement: true})
	judge(t, "^TestRandomSchedulesPlacement$", results)
	figures(t, results)
}

// TestCheckerCatchesUnsafeGrants is the check of the checker: with
// UnsafeGrantWithoutWaiting on one member or on all, the same randomized
// schedules must produce double owners, and the checker must report them.
func TestCheckerCatchesUnsafeGrants(t *testing.T) {
	for _, which := range []string{"one", "all"} {
		t.Run(which, func(t *testing.T) {
			results := runSchedules(t, 1, 40, scheduleOpts{unsafe: which})
			found := 0
			for _, r := range results {
				for _, v := range r.violations {
					if v.Kind == ownercheck.DoubleOwner {
						found++
						break
					}
				}
			}
			if found == 0 {
				t.Fatalf("unsafe grants on %s member(s): no double owner in %d schedules", which, len(results))
			}
			t.Logf("unsafe grants on %s member(s): double owners in %d of %d schedules", which, found, len(results))
		})
	}
}

// TestSoak runs random schedules from a random first seed until -soak wall
// time has passed; without -soak it runs a handful, so it never skips.
func TestSoak(t *testing.T) {
	first := rand.Int64N(1 << 40)
	if *soakFlag <= 0 {
		judge(t, "^TestRandomSchedules$", runSchedules(t, first, 4, scheduleOpts{}))
		return
	}
	deadline := time.Now().Add(*soakFlag)
	var all []scheduleResult
	for time.Now().Before(deadline) && !t.Failed() {
		rs := runSchedules(t, first+int64(len(all)), 50, scheduleOpts{})
		judge(t, "^TestRandomSchedules$", rs)
		all = append(all, rs...)
	}
	t.Logf("soak: %d schedules from seed %d", len(all), first)
	figures(t, all)
}
