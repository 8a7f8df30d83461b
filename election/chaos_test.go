package election_test

import (
	"flag"
	"fmt"
	"github.com/ringd/ringd/internal/simcluster"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
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
	return &chaos{w: w, rng: w.Net.Rand()}
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
	for _, n := range c.w.Names() {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// fault applies one random fault.
func (c *chaos) fault() {
	w, r := c.w, c.rng
	up := c.filter(w.Up)
	crashed := c.filter(w.Net.Crashed)
	paused := c.filter(w.Net.Paused)
	switch k := r.IntN(14); {
	case k == 0: // lossy link
		a, b := c.pick(w.Names()), c.pick(w.Names())
		if a != b {
			f := 0.1 + 0.8*r.Float64()
			w.Net.SetDrop(a, b, f)
			w.Logf("drop %s->%s %.2f", a, b, f)
		}
	case k == 1: // lossy member, both ways
		a := c.pick(w.Names())
		f := 0.2 + 0.6*r.Float64()
		for _, b := range w.Names() {
			if a != b {
				w.Net.SetDrop(a, b, f)
				w.Net.SetDrop(b, a, f)
			}
		}
		w.Logf("drop all of %s's links %.2f", a, f)
	case k == 2: // one-way cut
		a, b := c.pick(w.Names()), c.pick(w.Names())
		if a != b {
			w.Net.Cut(a, b)
			w.Logf("cut %s->%s", a, b)
		}
	case k == 3: // isolate
		a := c.pick(w.Names())
		w.Net.Isolate(a)
		if r.IntN(2) == 0 {
			for _, b := range w.Names() {
				w.Hide(a, b, true)
				w.Hide(b, a, true)
			}
		}
		w.Logf("isolate %s", a)
	case k == 4 || k == 5: // partition into 2 or 3 groups
		groups := make([][]string, 2+r.IntN(2))
		for _, n := range w.Names() {
			i := r.IntN(len(groups))
			groups[i] = append(groups[i], n)
		}
		w.Net.Partition(groups...)
		gossip := r.IntN(2) == 0
		if gossip {
			w.GossipPartition(groups...)
		}
		w.Logf("partition %v (gossip follows: %v)", groups, gossip)
	case k == 6: // heal
		w.Net.Heal()
		w.GossipHeal()
		w.Logf("heal")
	case k == 7: // pause or resume
		if len(paused) > 0 && r.IntN(2) == 0 {
			a := c.pick(paused)
			w.Net.Resume(a)
			w.Logf("resume %s", a)
		} else if len(up) > 0 {
			a := c.pick(up)
			w.Net.Pause(a)
			w.Logf("pause %s", a)
		}
	case k == 8: // crash
		if len(up) > 0 {
			w.Crash(c.pick(up), r.IntN(4) != 0)
		}
	case k == 9 || k == 10: // restart a crashed member, or reboot a running one
		if len(crashed) > 0 && k == 9 {
			w.Restart(c.pick(crashed), uint64(r.IntN(3)), r.IntN(2) == 0)
		} else if len(up) > 0 {
			w.Restart(c.pick(up), uint64(r.IntN(3)), r.IntN(2) == 0)
		}
	case k == 11: // slow, reordering link
		a, b := c.pick(w.Names()), c.pick(w.Names())
		if a != b {
			hi := time.Duration(r.IntN(300)) * time.Millisecond
			w.Net.SetDelay(a, b, 0, hi)
			w.Logf("delay %s->%s [0, %v]", a, b, hi)
		}
	case k == 12: // leadership transfer
		for _, l := range w.Leaders() {
			to := c.pick(w.Names())
			err := w.Node(l).Transfer(w.Now(l), to)
			w.Logf("transfer %s -> %s: %v", l, to, err)
		}
	case k == 13: // gossip flap: someone sees someone else dead, or alive again
		a, b := c.pick(w.Names()), c.pick(w.Names())
		if a != b {
			hidden := r.IntN(2) == 0
			w.Hide(a, b, hidden)
			w.Logf("gossip: %s sees %s dead: %v", a, b, hidden)
		}
	}
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
