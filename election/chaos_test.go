package election_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/faults"
	"github.com/ringd/ringd/internal/simcluster"
)

var seedFlag = flag.Int64("seed", 0,
	"replay one seeded election run (randomized safety test) with this seed and log its trace")

// safetyRuns is how many seeded randomized runs TestSafetyRandomized makes
// (about 10s with -race).
const safetyRuns = 800

// convergeBound is how long after the faults stop (heal, resume, restart)
// the cluster may take to settle on one leader followed by everyone, the
// highest-ranked member when preemption is on. It covers: a failed
// candidate's back-off (up to LeaderTimeout + 7 x ElectionTimeout = 1s),
// the restarted members' Settle (0.5s) before they may preempt, and a few
// rounds of candidates catching up with the terms and vote floors of the
// others. The slowest of the seeded runs needs about 1.3s.
const convergeBound = 4 * time.Second

// chaos is one randomized run: a cluster of 3-7 voters with random
// priorities, and a random schedule of faults.
type chaos struct {
	w   *simcluster.ElectionCluster
	rng *rand.Rand
	gen *faults.Generator
	// keepGoing runs the whole fault schedule despite violations.
	keepGoing bool
	converged time.Duration // time from the end of the faults to a stable leader
	leader    string
	// acceptedHeld: the stable leader was accepted because the rightful
	// member was held back from preempting.
	acceptedHeld bool
}

// newChaos sets up the cluster for seed. The set-up draws come from their
// own stream, the fault schedule from the network's harness stream.
func newChaos(t testing.TB, seed int64, amnesia bool) *chaos {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	n := 3 + r.IntN(5)
	var members []simcluster.ElectionSpec
	for i := range n {
		members = append(members, simcluster.ElectionSpec{Name: string(rune('a' + i)), Prio: r.IntN(3)})
	}
	preempt := r.IntN(3) != 0
	w := simcluster.NewElections(t, seed, preempt, members...)
	w.SetAmnesia(amnesia)
	w.SetVerbose(!amnesia && *seedFlag == seed) // replaying this seed: log as it goes
	for _, name := range w.Names() {
		if r.IntN(3) == 0 {
			w.SetDiskless(name)
		}
		if r.IntN(2) == 0 {
			w.Net.SetDrift(name, r.Float64()*0.04-0.02)
		}
	}
	hi := []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond}[r.IntN(4)]
	w.Net.SetDefaultDelay(0, hi)
	w.Logf("seed %d: voters %v, preempt %v, diskless %v, delay [0, %v]", seed, members, preempt, w.Diskless(), hi)
	rng := w.Net.Rand()
	gen := faults.NewGenerator(rng, w.Names(), faults.Drop, faults.Drop, faults.Cut, faults.Isolate,
		faults.Partition, faults.Partition, faults.Heal, faults.Pause, faults.Resume, faults.Crash,
		faults.Restart, faults.Restart, faults.Delay)
	return &chaos{w: w, rng: rng, gen: gen}
}

func (c *chaos) pick(names []string) string { return names[c.rng.IntN(len(names))] }

// fault applies one random fault: one of the generator's, a leadership
// transfer, or a gossip flap.
func (c *chaos) fault() {
	w, r := c.w, c.rng
	switch r.IntN(8) {
	case 0: // leadership transfer
		for _, l := range w.Leaders() {
			to := c.pick(w.Names())
			err := w.Node(l).Transfer(w.Now(l), to)
			w.Logf("transfer %s -> %s: %v", l, to, err)
		}
	case 1: // gossip flap: someone sees someone else dead, or alive again
		a, b := c.pick(w.Names()), c.pick(w.Names())
		if a != b {
			hidden := r.IntN(2) == 0
			w.Hide(a, b, hidden)
			w.Logf("gossip: %s sees %s dead: %v", a, b, hidden)
		}
	default:
		c.apply(c.gen.Next(w))
	}
}

// apply injects f into the simulated network and processes; gossip follows
// an isolation or a partition half of the time, and notices most crashes.
func (c *chaos) apply(f faults.Fault) {
	w, r := c.w, c.rng
	switch f.Kind {
	case faults.Drop:
		if f.To != "" {
			w.Net.SetDrop(f.From, f.To, f.Fraction)
			break
		}
		for _, b := range w.Names() {
			if b != f.Member {
				w.Net.SetDrop(f.Member, b, f.Fraction)
				w.Net.SetDrop(b, f.Member, f.Fraction)
			}
		}
	case faults.Cut:
		w.Net.Cut(f.From, f.To)
	case faults.Delay:
		if f.To != "" {
			w.Net.SetDelay(f.From, f.To, 0, f.MaxDelay)
			break
		}
		for _, b := range w.Names() {
			if b != f.Member {
				w.Net.SetDelay(f.Member, b, 0, f.MaxDelay)
			}
		}
	case faults.Isolate:
		w.Net.Isolate(f.Member)
		if r.IntN(2) == 0 {
			for _, b := range w.Names() {
				w.Hide(f.Member, b, true)
				w.Hide(b, f.Member, true)
			}
		}
	case faults.Partition:
		w.Net.Partition(f.Groups...)
		if r.IntN(2) == 0 {
			w.GossipPartition(f.Groups...)
		}
	case faults.Heal:
		w.Net.Heal()
		w.GossipHeal()
	case faults.Pause:
		w.Net.Pause(f.Member)
	case faults.Resume:
		w.Net.Resume(f.Member)
	case faults.Crash:
		w.Crash(f.Member, r.IntN(4) != 0)
		return // Crash logs itself
	case faults.Restart:
		w.Restart(f.Member, uint64(r.IntN(3)), r.IntN(2) == 0)
		return // Restart logs itself
	default:
		c.w.T().Fatalf("fault %v not supported by the election cluster", f)
	}
	w.Logf("%v", f)
}

// runFaults runs a random schedule of faults; a violation ends it early.
func (c *chaos) runFaults() {
	w, r := c.w, c.rng
	w.Run(time.Duration(r.IntN(1500)) * time.Millisecond)
	for range 10 + r.IntN(25) {
		c.fault()
		w.Run(time.Duration(10+r.IntN(600)) * time.Millisecond)
		if len(w.History.Violations) > 0 && !c.keepGoing {
			return
		}
	}
}

// stopFaults heals the network and gossip, resumes paused members and
// restarts crashed ones.
func (c *chaos) stopFaults() {
	w := c.w
	w.Net.Heal()
	w.GossipHeal()
	for _, n := range w.Names() {
		if w.Net.Paused(n) {
			w.Net.Resume(n)
		}
		if w.Net.Crashed(n) {
			w.Restart(n, uint64(c.rng.IntN(3)), c.rng.IntN(2) == 0)
		}
	}
	w.Logf("faults stop: heal, resume, restart")
}

// converge runs until one stable leader (the rightful one when preemption is
// on) or convergeBound, and reports whether it got there.
func (c *chaos) converge() bool {
	w := c.w
	want := simcluster.Rightful(w.Priorities(), w.Names())
	start := w.Elapsed()
	ok := w.RunUntil(convergeBound, func() bool {
		l, ok := w.StableLeader()
		// The rightful member may be held back from preempting (damping
		// after it lost leases, or after it handed leadership over); then
		// any stable leader will do.
		held := w.Up(want) && w.Now(want).Before(w.Status(want).PreemptAfter)
		c.acceptedHeld = ok && w.Preempt() && l != want && held
		return ok && (!w.Preempt() || l == want || held)
	})
	c.converged = w.Elapsed() - start
	c.leader, _ = w.StableLeader()
	return ok
}

// TestSafetyRandomized runs safetyRuns seeded random fault schedules (or
// only -seed N, with its trace logged). Throughout, the history checks that
// no term has two leaders, no member votes twice in a term (also across
// restarts: with the hard state, or without it and with a vote floor), and
// no member's term goes back. After the faults stop, one leader must be
// elected within convergeBound, the top of the ring when preemption is on,
// and it must stay.
func TestSafetyRandomized(t *testing.T) {
	seeds := make([]int64, safetyRuns)
	for i := range seeds {
		seeds[i] = int64(i + 1)
	}
	if *seedFlag != 0 {
		seeds = []int64{*seedFlag}
	}
	var slowest time.Duration
	var slowSeed int64
	var elections, terms int
	for _, seed := range seeds {
		c := safetyRun(t, seed)
		if t.Failed() {
			// The first failing seed is enough to read.
			return
		}
		elections += len(c.w.History.Elections)
		terms += int(c.w.History.MaxTerm)
		if c.converged > slowest {
			slowest, slowSeed = c.converged, seed
		}
	}
	t.Logf("%d randomized runs: %d elections, %d terms in all; slowest convergence %v (seed %d)",
		len(seeds), elections, terms, slowest, slowSeed)
}

// safetyRun makes one randomized run and reports what went wrong.
func safetyRun(t *testing.T, seed int64) *chaos {
	t.Helper()
	c := newChaos(t, seed, false)
	w := c.w
	replay := fmt.Sprintf("replay with: go test ./election/ -run TestSafetyRandomized -v -seed %d", seed)
	defer func() {
		if len(w.History.Violations) > 0 {
			t.Errorf("seed %d: %d safety violations, first: %s\n%s\ntrace (end):\n%s",
				seed, len(w.History.Violations), w.History.Violations[0], replay, w.Trace(60))
		}
	}()
	c.runFaults()
	if len(w.History.Violations) > 0 {
		return c
	}
	c.stopFaults()
	if !c.converge() {
		l, ok := w.StableLeader()
		var states []string
		for _, n := range w.Names() {
			st := w.Status(n)
			states = append(states, fmt.Sprintf("%s: up=%v %v term %d leader %q", n, w.Up(n), st.Role, st.Term, st.Leader))
		}
		t.Errorf("seed %d: no stable leader %v after the faults stopped (have %q, %v; want %q with preempt %v)\nmembers: %s\n%s\ntrace (end):\n%s",
			seed, convergeBound, l, ok, simcluster.Rightful(w.Priorities(), w.Names()), w.Preempt(), strings.Join(states, "; "), replay, w.Trace(60))
		return c
	}
	// And it stays: no election in the next 2s.
	term := w.Status(c.leader).Term
	w.Run(2 * time.Second)
	l, ok := w.StableLeader()
	if c.acceptedHeld && (!ok || l != c.leader) {
		// A leader accepted while the rightful member was held back may
		// lose to a higher-ranked member once its hold ends (preemption
		// moving up the ring): let that takeover finish, then check it went
		// up; anything else is churn.
		w.RunUntil(convergeBound, func() bool { _, ok := w.StableLeader(); return ok })
		l, ok = w.StableLeader()
		if ok && election.Outranks(l, w.Priority(l), c.leader, w.Priority(c.leader)) {
			return c
		}
	}
	if !ok || l != c.leader || w.Status(l).Term != term {
		t.Errorf("seed %d: stable leader %s (term %d) did not stay: now %q (%v)\n%s\ntrace (end):\n%s",
			seed, c.leader, term, l, ok, replay, w.Trace(40))
	}
	return c
}
