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
	"github.com/ringd/ringd/internal/simnet"
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
	c   *simcluster.ElectionCluster
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
	c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionPreempt(preempt),
		simcluster.ElectionMembers(members...))
	c.SetAmnesia(amnesia)
	c.SetVerbose(!amnesia && *seedFlag == seed) // replaying this seed: log as it goes
	for _, name := range c.Names() {
		if r.IntN(3) == 0 {
			c.SetDiskless(name)
		}
		if r.IntN(2) == 0 {
			c.Net.SetDrift(name, r.Float64()*0.04-0.02)
		}
	}
	hi := []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond}[r.IntN(4)]
	c.Net.SetDefaultDelay(0, hi)
	c.Logf("seed %d: voters %v, preempt %v, diskless %v, delay [0, %v]", seed, members, preempt, c.Diskless(), hi)
	rng := c.Net.Rand()
	gen := faults.NewGenerator(rng, c.Names(), faults.Drop, faults.Drop, faults.Cut, faults.Isolate,
		faults.Partition, faults.Partition, faults.Heal, faults.Pause, faults.Resume, faults.Crash,
		faults.Restart, faults.Reboot, faults.Delay)
	return &chaos{c: c, rng: rng, gen: gen}
}

func (ch *chaos) pick(names []string) string { return names[ch.rng.IntN(len(names))] }

// fault applies one random fault: one of the generator's, a leadership
// transfer, or a gossip flap.
func (ch *chaos) fault() {
	c, r := ch.c, ch.rng
	switch r.IntN(8) {
	case 0: // leadership transfer
		for _, l := range c.Leaders() {
			to := ch.pick(c.Names())
			err := c.Node(l).Transfer(c.Now(l), to)
			c.Logf("transfer %s -> %s: %v", l, to, err)
		}
	case 1: // gossip flap: someone sees someone else dead, or alive again
		a, b := ch.pick(c.Names()), ch.pick(c.Names())
		if a != b {
			hidden := r.IntN(2) == 0
			c.Hide(a, b, hidden)
			c.Logf("gossip: %s sees %s dead: %v", a, b, hidden)
		}
	default:
		ch.apply(ch.gen.Next(c))
	}
}

// apply injects f into the simulated network and processes, and logs it.
func (ch *chaos) apply(f faults.Fault) {
	ch.c.Logf("%v", f)
	faults.Apply(ch.target(), f, ch.c.Names())
}

func (ch *chaos) target() chaosTarget { return chaosTarget{ch.c.Net, ch.c, ch.rng} }

// chaosTarget is the election cluster as a faults.Target: the simulated
// network takes the link faults, pauses and drift as they are; gossip
// follows an isolation or a partition half of the time and notices most
// crashes; a restart draws how far above every term used so far a diskless
// member's vote floor goes, and whether its term floor follows.
type chaosTarget struct {
	*simnet.Network[election.Message]
	c   *simcluster.ElectionCluster
	rng *rand.Rand
}

var _ faults.Target = chaosTarget{}

func (t chaosTarget) Isolate(name string) {
	t.Network.Isolate(name)
	if t.rng.IntN(2) == 0 {
		for _, b := range t.c.Names() {
			t.c.Hide(name, b, true)
			t.c.Hide(b, name, true)
		}
		t.c.Logf("gossip follows: %s sees no one and no one sees it", name)
	}
}

func (t chaosTarget) Partition(groups ...[]string) {
	t.Network.Partition(groups...)
	if t.rng.IntN(2) == 0 {
		t.c.GossipPartition(groups...)
		t.c.Logf("gossip follows the partition")
	}
}

func (t chaosTarget) Heal() {
	t.Network.Heal()
	t.c.GossipHeal()
}

func (t chaosTarget) Crash(name string) { t.c.Crash(name, t.rng.IntN(4) != 0) }

// Restart keeps what name persisted unless it is diskless (SetDiskless):
// here a lost disk is a member's setting, not a fault.
func (t chaosTarget) Restart(name string, keepState bool) {
	if !keepState {
		t.c.T().Fatalf("restart %s without its state: not a fault of the election cluster (use SetDiskless)", name)
	}
	t.c.Restart(name, uint64(t.rng.IntN(3)), t.rng.IntN(2) == 0)
}

// runFaults runs a random schedule of faults; a violation ends it early.
func (ch *chaos) runFaults() {
	c, r := ch.c, ch.rng
	c.Run(time.Duration(r.IntN(1500)) * time.Millisecond)
	for range 10 + r.IntN(25) {
		ch.fault()
		c.Run(time.Duration(10+r.IntN(600)) * time.Millisecond)
		if len(c.History.Violations) > 0 && !ch.keepGoing {
			return
		}
	}
}

// stopFaults heals the network and gossip, resumes paused members and
// restarts crashed ones.
func (ch *chaos) stopFaults() {
	c, t := ch.c, ch.target()
	t.Heal()
	for _, n := range c.Names() {
		if c.Paused(n) {
			t.Resume(n)
		}
		if c.Crashed(n) {
			t.Restart(n, true)
		}
	}
	c.Logf("faults stop: heal, resume, restart")
}

// converge runs until one stable leader (the rightful one when preemption is
// on) or convergeBound, and reports whether it got there.
func (ch *chaos) converge() bool {
	c := ch.c
	want := simcluster.Rightful(c.Priorities(), c.Names())
	start := c.Elapsed()
	ok := c.RunUntil(convergeBound, func() bool {
		l, ok := c.StableLeader()
		// The rightful member may be held back from preempting (damping
		// after it lost leases, or after it handed leadership over); then
		// any stable leader will do.
		held := c.Up(want) && c.Now(want).Before(c.Status(want).PreemptAfter)
		ch.acceptedHeld = ok && c.Preempt() && l != want && held
		return ok && (!c.Preempt() || l == want || held)
	})
	ch.converged = c.Elapsed() - start
	ch.leader, _ = c.StableLeader()
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
		ch := safetyRun(t, seed)
		if t.Failed() {
			// The first failing seed is enough to read.
			return
		}
		elections += len(ch.c.History.Elections)
		terms += int(ch.c.History.MaxTerm)
		if ch.converged > slowest {
			slowest, slowSeed = ch.converged, seed
		}
	}
	t.Logf("%d randomized runs: %d elections, %d terms in all; slowest convergence %v (seed %d)",
		len(seeds), elections, terms, slowest, slowSeed)
}

// safetyRun makes one randomized run and reports what went wrong.
func safetyRun(t *testing.T, seed int64) *chaos {
	t.Helper()
	ch := newChaos(t, seed, false)
	c := ch.c
	replay := fmt.Sprintf("replay with: go test ./election/ -run TestSafetyRandomized -v -seed %d", seed)
	defer func() {
		if len(c.History.Violations) > 0 {
			t.Errorf("seed %d: %d safety violations, first: %s\n%s\ntrace (end):\n%s",
				seed, len(c.History.Violations), c.History.Violations[0], replay, c.Trace(60))
		}
	}()
	ch.runFaults()
	if len(c.History.Violations) > 0 {
		return ch
	}
	ch.stopFaults()
	if !ch.converge() {
		l, ok := c.StableLeader()
		var states []string
		for _, n := range c.Names() {
			st := c.Status(n)
			states = append(states, fmt.Sprintf("%s: up=%v %v term %d leader %q", n, c.Up(n), st.Role, st.Term, st.Leader))
		}
		t.Errorf("seed %d: no stable leader %v after the faults stopped (have %q, %v; want %q with preempt %v)\nmembers: %s\n%s\ntrace (end):\n%s",
			seed, convergeBound, l, ok, simcluster.Rightful(c.Priorities(), c.Names()), c.Preempt(), strings.Join(states, "; "), replay, c.Trace(60))
		return ch
	}
	// And it stays: no election in the next 2s.
	term := c.Status(ch.leader).Term
	c.Run(2 * time.Second)
	l, ok := c.StableLeader()
	if ch.acceptedHeld && (!ok || l != ch.leader) {
		// A leader accepted while the rightful member was held back may
		// lose to a higher-ranked member once its hold ends (preemption
		// moving up the ring): let that takeover finish, then check it went
		// up; anything else is churn.
		c.RunUntil(convergeBound, func() bool { _, ok := c.StableLeader(); return ok })
		l, ok = c.StableLeader()
		if ok && election.Outranks(l, c.Priority(l), ch.leader, c.Priority(ch.leader)) {
			return ch
		}
	}
	if !ok || l != ch.leader || c.Status(l).Term != term {
		t.Errorf("seed %d: stable leader %s (term %d) did not stay: now %q (%v)\n%s\ntrace (end):\n%s",
			seed, ch.leader, term, l, ok, replay, c.Trace(40))
	}
	return ch
}
