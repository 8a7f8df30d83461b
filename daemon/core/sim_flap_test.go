package core_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// flapHoldDown is the damping of these tests: ten times shorter than the
// daemon's default, as the Fast timing is.
const flapHoldDown = 3 * time.Second

// flapRun counts, over a run, how often the flaky member's app went from
// holding nothing to holding partitions (a return of its share) and how many
// partitions came back to it after it had lost them.
type flapRun struct {
	w        *simcluster.Cluster
	flaky    string
	holding  bool
	regains  int
	lost     map[int]bool // partitions it held and lost
	cameBack map[int]bool // of those, the ones it got again
}

func watchFlaky(w *simcluster.Cluster, flaky string) *flapRun {
	r := &flapRun{w: w, flaky: flaky, lost: map[int]bool{}, cameBack: map[int]bool{}}
	prev := w.Tokens(flaky)
	r.holding = len(prev) > 0
	w.OnStep(func(time.Time) {
		now := w.Tokens(flaky)
		for p := range prev {
			if _, ok := now[p]; !ok {
				r.lost[p] = true
			}
		}
		for p := range now {
			if _, ok := prev[p]; !ok && r.lost[p] {
				r.cameBack[p] = true
			}
		}
		if !r.holding && len(now) > 0 {
			r.regains++
		}
		r.holding = len(now) > 0
		prev = now
	})
	return r
}

// flap cuts the member off for down, lets it back for up, cycles times.
func flap(w *simcluster.Cluster, name string, cycles int, down, up time.Duration) {
	for range cycles {
		w.Isolate(name)
		w.Run(down)
		w.Heal()
		w.Run(up)
	}
}

// TestFlappingMemberIsHeldOut: a follower cut off long enough to lose its
// partitions, then back, five times. Without damping its share comes back
// after every return (and goes again at the next cut); with damping it
// comes back at most once (after the first flap the hold-down is shorter
// than its time up; after the second, longer), and once it stays up it gets
// its share back after its hold-down.
func TestFlappingMemberIsHeldOut(t *testing.T) {
	// Down long enough that its lease surely ends and gossip calls it dead;
	// up longer than the first hold-down, shorter than the second.
	down := fast.LeaseSafe() + simcluster.DetectDelay + time.Second
	up := flapHoldDown + 2*time.Second
	for _, tc := range []struct {
		name       string
		holdDown   time.Duration
		maxRegains int
		minRegains int
	}{
		{"damping on", flapHoldDown, 1, 0},
		{"damping off", 0, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := simcluster.New(t, simcluster.Seed(7), simcluster.Members(simcluster.Specs(5)...),
				simcluster.With(simcluster.Settings{FlapHoldDown: tc.holdDown}))
			w.Require(bootstrapBound, "coverage", w.Covered)
			w.Run(time.Second)
			flaky := w.Others(w.Leader())[0]
			if len(w.Tokens(flaky)) == 0 {
				t.Fatalf("%s holds nothing before it flaps\n%s", flaky, w.Describe())
			}
			r := watchFlaky(w, flaky)
			flap(w, flaky, 3, down, up)
			t.Logf("%s: share back %d times, %d of its partitions went back and forth", flaky, r.regains, len(r.cameBack))
			if r.regains > tc.maxRegains || r.regains < tc.minRegains {
				t.Errorf("%s got its share back %d times in 3 flaps, want %d..%d\n%s",
					flaky, r.regains, tc.minRegains, tc.maxRegains, w.Trace(30))
			}
			// Stable now: back within its hold-down after three flaps (4x),
			// its lease and a handoff.
			w.Require(4*flapHoldDown+fast.LeaseSafe()+2*time.Second, "the flaky member's share back",
				func() bool { return w.Covered() && len(w.Tokens(flaky)) > 0 })
			w.RequireNoViolations()
		})
	}
}

// TestRestartIsNotDamped: a member that crashes and restarts again and
// again is a new process every time, not a flaky one: it gets its share
// back after --settle each time, as a new member would, with damping on.
func TestRestartIsNotDamped(t *testing.T) {
	// A hold-down that a restart's return clearly beats.
	holdDown := 10 * time.Second
	w := simcluster.New(t, simcluster.Seed(3), simcluster.Members(simcluster.Specs(5)...),
		simcluster.With(simcluster.Settings{FlapHoldDown: holdDown}))
	w.Require(bootstrapBound, "coverage", w.Covered)
	w.Run(time.Second)
	m := w.Others(w.Leader())[0]
	// Gossip sees the new process at once; the leader admits it after
	// settle and grants once the old process's lease surely ran out.
	back := fast.Settle + fast.LeaseSafe() + simcluster.DetectDelay + time.Second
	if back >= holdDown {
		t.Fatalf("the bound %v does not tell a restart from a damped flap (%v)", back, holdDown)
	}
	for i := range 4 {
		w.Crash(m)
		w.Run(fast.LeaseSafe() + simcluster.DetectDelay + 500*time.Millisecond)
		w.Restart(m, true)
		w.Require(back, "the restarted member's share back", func() bool { return len(w.Tokens(m)) > 0 })
		t.Logf("restart %d: share back", i+1)
	}
	w.RequireNoViolations()
}
