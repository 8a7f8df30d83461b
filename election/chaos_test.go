package election_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
)

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
	w   *world
	rng *rand.Rand
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
	var members []spec
	for i := range n {
		members = append(members, spec{string(rune('a' + i)), r.IntN(3)})
	}
	preempt := r.IntN(3) != 0
	w := newWorld(t, seed, preempt, members...)
	w.amnesia = amnesia
	w.verbose = !amnesia && *seedFlag == seed // replaying this seed: log as it goes
	for _, name := range w.names {
		if r.IntN(3) == 0 {
			w.diskless[name] = true
		}
		if r.IntN(2) == 0 {
			w.net.SetDrift(name, r.Float64()*0.04-0.02)
		}
	}
	hi := []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond}[r.IntN(4)]
	w.net.SetDefaultDelay(0, hi)
	w.logf("seed %d: voters %v, preempt %v, diskless %v, delay [0, %v]", seed, members, preempt, keys(w.diskless), hi)
	return &chaos{w: w, rng: w.net.Rand()}
}

func keys(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (c *chaos) pick(names []string) string { return names[c.rng.IntN(len(names))] }

func (c *chaos) filter(keep func(string) bool) []string {
	var out []string
	for _, n := range c.w.names {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// fault applies one random fault.
func (c *chaos) fault() {
	w, r := c.w, c.rng
	up := c.filter(w.up)
	crashed := c.filter(w.net.Crashed)
	paused := c.filter(w.net.Paused)
	switch k := r.IntN(14); {
	case k == 0: // lossy link
		a, b := c.pick(w.names), c.pick(w.names)
		if a != b {
			f := 0.1 + 0.8*r.Float64()
			w.net.SetDrop(a, b, f)
			w.logf("drop %s->%s %.2f", a, b, f)
		}
	case k == 1: // lossy member, both ways
		a := c.pick(w.names)
		f := 0.2 + 0.6*r.Float64()
		for _, b := range w.names {
			if a != b {
				w.net.SetDrop(a, b, f)
				w.net.SetDrop(b, a, f)
			}
		}
		w.logf("drop all of %s's links %.2f", a, f)
	case k == 2: // one-way cut
		a, b := c.pick(w.names), c.pick(w.names)
		if a != b {
			w.net.Cut(a, b)
			w.logf("cut %s->%s", a, b)
		}
	case k == 3: // isolate
		a := c.pick(w.names)
		w.net.Isolate(a)
		if r.IntN(2) == 0 {
			for _, b := range w.names {
				w.hide(a, b, true)
				w.hide(b, a, true)
			}
		}
		w.logf("isolate %s", a)
	case k == 4 || k == 5: // partition into 2 or 3 groups
		groups := make([][]string, 2+r.IntN(2))
		for _, n := range w.names {
			i := r.IntN(len(groups))
			groups[i] = append(groups[i], n)
		}
		w.net.Partition(groups...)
		gossip := r.IntN(2) == 0
		if gossip {
			w.gossipPartition(groups...)
		}
		w.logf("partition %v (gossip follows: %v)", groups, gossip)
	case k == 6: // heal
		w.net.Heal()
		w.gossipHeal()
		w.logf("heal")
	case k == 7: // pause or resume
		if len(paused) > 0 && r.IntN(2) == 0 {
			a := c.pick(paused)
			w.net.Resume(a)
			w.logf("resume %s", a)
		} else if len(up) > 0 {
			a := c.pick(up)
			w.net.Pause(a)
			w.logf("pause %s", a)
		}
	case k == 8: // crash
		if len(up) > 0 {
			w.crash(c.pick(up), r.IntN(4) != 0)
		}
	case k == 9 || k == 10: // restart a crashed member, or reboot a running one
		if len(crashed) > 0 && k == 9 {
			w.restart(c.pick(crashed), uint64(r.IntN(3)), r.IntN(2) == 0)
		} else if len(up) > 0 {
			w.restart(c.pick(up), uint64(r.IntN(3)), r.IntN(2) == 0)
		}
	case k == 11: // slow, reordering link
		a, b := c.pick(w.names), c.pick(w.names)
		if a != b {
			hi := time.Duration(r.IntN(300)) * time.Millisecond
			w.net.SetDelay(a, b, 0, hi)
			w.logf("delay %s->%s [0, %v]", a, b, hi)
		}
	case k == 12: // leadership transfer
		for _, l := range w.leaders() {
			to := c.pick(w.names)
			err := w.nodes[l].el.Transfer(w.now(l), to)
			w.logf("transfer %s -> %s: %v", l, to, err)
		}
	case k == 13: // gossip flap: someone sees someone else dead, or alive again
		a, b := c.pick(w.names), c.pick(w.names)
		if a != b {
			hidden := r.IntN(2) == 0
			w.hide(a, b, hidden)
			w.logf("gossip: %s sees %s dead: %v", a, b, hidden)
		}
	}
}

// runFaults runs a random schedule of faults; a violation ends it early.
func (c *chaos) runFaults() {
	w, r := c.w, c.rng
	w.run(time.Duration(r.IntN(1500)) * time.Millisecond)
	for range 10 + r.IntN(25) {
		c.fault()
		w.run(time.Duration(10+r.IntN(600)) * time.Millisecond)
		if len(w.hist.violations) > 0 && !c.keepGoing {
			return
		}
	}
}

// stopFaults heals the network and gossip, resumes paused members and
// restarts crashed ones.
func (c *chaos) stopFaults() {
	w := c.w
	w.net.Heal()
	w.gossipHeal()
	for _, n := range w.names {
		if w.net.Paused(n) {
			w.net.Resume(n)
		}
		if w.net.Crashed(n) {
			w.restart(n, uint64(c.rng.IntN(3)), c.rng.IntN(2) == 0)
		}
	}
	w.logf("faults stop: heal, resume, restart")
}

// converge runs until one stable leader (the rightful one when preemption is
// on) or convergeBound, and reports whether it got there.
func (c *chaos) converge() bool {
	w := c.w
	want := rightful(w.prio, w.names)
	start := w.elapsed()
	ok := w.runUntil(convergeBound, func() bool {
		l, ok := w.stableLeader()
		// The rightful member may be held back from preempting (damping
		// after it lost leases, or after it handed leadership over); then
		// any stable leader will do.
		held := w.up(want) && w.now(want).Before(w.status(want).PreemptAfter)
		c.acceptedHeld = ok && w.preempt && l != want && held
		return ok && (!w.preempt || l == want || held)
	})
	c.converged = w.elapsed() - start
	c.leader, _ = w.stableLeader()
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
		elections += len(c.w.hist.elections)
		terms += int(c.w.hist.maxTerm)
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
		if len(w.hist.violations) > 0 {
			t.Errorf("seed %d: %d safety violations, first: %s\n%s\ntrace (end):\n%s",
				seed, len(w.hist.violations), w.hist.violations[0], replay, w.dumpTrace(60))
		}
	}()
	c.runFaults()
	if len(w.hist.violations) > 0 {
		return c
	}
	c.stopFaults()
	if !c.converge() {
		l, ok := w.stableLeader()
		var states []string
		for _, n := range w.names {
			st := w.status(n)
			states = append(states, fmt.Sprintf("%s: up=%v %v term %d leader %q", n, w.up(n), st.Role, st.Term, st.Leader))
		}
		t.Errorf("seed %d: no stable leader %v after the faults stopped (have %q, %v; want %q with preempt %v)\nmembers: %s\n%s\ntrace (end):\n%s",
			seed, convergeBound, l, ok, rightful(w.prio, w.names), w.preempt, strings.Join(states, "; "), replay, w.dumpTrace(60))
		return c
	}
	// And it stays: no election in the next 2s.
	term := w.status(c.leader).Term
	w.run(2 * time.Second)
	l, ok := w.stableLeader()
	if c.acceptedHeld && (!ok || l != c.leader) {
		// A leader accepted while the rightful member was held back may
		// lose to a higher-ranked member once its hold ends (preemption
		// moving up the ring): let that takeover finish, then check it went
		// up; anything else is churn.
		w.runUntil(convergeBound, func() bool { _, ok := w.stableLeader(); return ok })
		l, ok = w.stableLeader()
		if ok && election.Outranks(l, w.prio[l], c.leader, w.prio[c.leader]) {
			return c
		}
	}
	if !ok || l != c.leader || w.status(l).Term != term {
		t.Errorf("seed %d: stable leader %s (term %d) did not stay: now %q (%v)\n%s\ntrace (end):\n%s",
			seed, c.leader, term, l, ok, replay, w.dumpTrace(40))
	}
	return c
}
