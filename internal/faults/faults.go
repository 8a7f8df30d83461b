// Package faults is the one vocabulary of the faults that ringd's cluster
// tests inject, and a seeded generator of random faults.
//
// A Fault names what happens (Kind) and to whom; it does nothing by itself.
// Apply injects it into a Target: the simulated clusters
// (internal/simcluster), the in-memory daemons (internal/memnet, through a
// shim in the daemon's tests) and the simulated election network. Faults
// are described by member names; a Target maps them to its addresses.
package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind names a fault.
type Kind int

const (
	// Pause stops a member's process, as SIGSTOP or a long GC pause does.
	Pause Kind = iota + 1
	// Resume continues a paused process.
	Resume
	// Crash kills a member's process, as SIGKILL does.
	Crash
	// Restart starts a crashed member's process again, with what it
	// persisted.
	Restart
	// RestartDiskless starts a crashed member's process again without what
	// it persisted: a new voter identity.
	RestartDiskless
	// Reboot kills a running member's process and starts it again at once,
	// with what it persisted: a crash and a restart in one step.
	Reboot
	// Partition splits the network into groups that cannot talk to each
	// other, both ways.
	Partition
	// Isolate cuts one member off from everyone, both ways.
	Isolate
	// Cut refuses every message from one member to another (one way).
	Cut
	// Drop loses a fraction of the messages from one member to another, or
	// of every message to and from one member when To is empty.
	Drop
	// Delay delays each message from one member to another, or from one
	// member to everyone when To is empty, by a random time up to MaxDelay,
	// so messages overtake each other.
	Delay
	// Drift makes a member's clock run fast or slow.
	Drift
	// Heal ends every network fault (partitions, isolations, cuts, drops,
	// delays); processes stay as they are.
	Heal
)

var kindNames = map[Kind]string{
	Pause: "pause", Resume: "resume", Crash: "crash", Restart: "restart",
	RestartDiskless: "restart-diskless", Reboot: "reboot", Partition: "partition", Isolate: "isolate",
	Cut: "cut", Drop: "drop", Delay: "delay", Drift: "drift", Heal: "heal",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Fault is one fault. Only the fields its Kind uses are set.
type Fault struct {
	Kind Kind
	// Member is the member of Pause, Resume, Crash, Restart,
	// RestartDiskless, Reboot, Isolate and Drift (and of Drop and Delay
	// without To).
	Member string
	// From and To are the one-way link of Cut, Drop and Delay.
	From, To string
	// Groups are the sides of a Partition.
	Groups [][]string
	// Fraction is the share of messages a Drop loses, in [0, 1].
	Fraction float64
	// MaxDelay bounds each message's Delay.
	MaxDelay time.Duration
	// Rate is a Drift's clock rate error (0.01: 1% fast).
	Rate float64
}

func (f Fault) String() string {
	switch f.Kind {
	case Pause, Resume, Crash, Restart, RestartDiskless, Reboot, Isolate:
		return fmt.Sprintf("%v %s", f.Kind, f.Member)
	case Partition:
		return fmt.Sprintf("partition %v", f.Groups)
	case Cut:
		return fmt.Sprintf("cut %s->%s", f.From, f.To)
	case Drop:
		if f.To == "" {
			return fmt.Sprintf("drop all of %s's links %.2f", f.Member, f.Fraction)
		}
		return fmt.Sprintf("drop %s->%s %.2f", f.From, f.To, f.Fraction)
	case Delay:
		if f.To == "" {
			return fmt.Sprintf("delay %s->all [0, %v]", f.Member, f.MaxDelay)
		}
		return fmt.Sprintf("delay %s->%s [0, %v]", f.From, f.To, f.MaxDelay)
	case Drift:
		return fmt.Sprintf("drift %s %+.4f", f.Member, f.Rate)
	}
	return f.Kind.String()
}

// State is what a Generator needs to know of the members' processes, so that
// it resumes only paused members, restarts only crashed ones, and pauses,
// crashes or reboots only running ones. Nil means every member runs.
type State interface {
	Paused(name string) bool
	Crashed(name string) bool
}

// Generator draws random faults among a set of members. Every draw comes
// from its random source, so the same seed gives the same faults.
type Generator struct {
	rng     *rand.Rand
	members []string
	kinds   []Kind

	// MaxDelay bounds the MaxDelay of a Delay fault (drawn in [0, MaxDelay)).
	MaxDelay time.Duration
	// MinDrop and MaxDrop bound the Fraction of a Drop fault.
	MinDrop, MaxDrop float64
	// MaxRate bounds the absolute Rate of a Drift fault.
	MaxRate float64
	// MaxGroups is the most sides a Partition has (at least 2). Every side
	// has a member, so a Partition of n members has at most n sides.
	MaxGroups int
}

// NewGenerator returns a generator of the given kinds of faults among
// members, drawing from rng. A kind listed twice is drawn twice as often.
func NewGenerator(rng *rand.Rand, members []string, kinds ...Kind) *Generator {
	return &Generator{
		rng: rng, members: slices.Clone(members), kinds: slices.Clone(kinds),
		MaxDelay: 300 * time.Millisecond, MinDrop: 0.1, MaxDrop: 0.9,
		MaxRate: 0.02, MaxGroups: 3,
	}
}

// Next draws one fault of one of the generator's kinds. A kind that has no
// member to act on (a resume without a paused member) is drawn again; if no
// kind fits, Next returns Heal.
func (g *Generator) Next(st State) Fault {
	for range 2 * len(g.kinds) {
		if f, ok := g.draw(g.kinds[g.rng.IntN(len(g.kinds))], st); ok {
			return f
		}
	}
	return Fault{Kind: Heal}
}

func (g *Generator) pick(names []string) string { return names[g.rng.IntN(len(names))] }

// pair picks two different members.
func (g *Generator) pair() (string, string) {
	a := g.pick(g.members)
	b := g.pick(g.members)
	for b == a && len(g.members) > 1 {
		b = g.pick(g.members)
	}
	return a, b
}

// where returns the members whose process is in the wanted state.
func (g *Generator) where(st State, paused, crashed bool) []string {
	var out []string
	for _, m := range g.members {
		p, c := false, false
		if st != nil {
			p, c = st.Paused(m), st.Crashed(m)
		}
		if p == paused && c == crashed {
			out = append(out, m)
		}
	}
	return out
}

// split draws the sides of a Partition: 2..MaxGroups of them (at most one
// per member), each with at least one member, so that no partition is a
// no-op. The first members of a random order found one side each; the
// others join a random side.
func (g *Generator) split() [][]string {
	groups := make([][]string, min(2+g.rng.IntN(max(g.MaxGroups-1, 1)), len(g.members)))
	for i, m := range g.rng.Perm(len(g.members)) {
		side := i
		if side >= len(groups) {
			side = g.rng.IntN(len(groups))
		}
		groups[side] = append(groups[side], g.members[m])
	}
	for _, grp := range groups {
		slices.Sort(grp)
	}
	return groups
}

func (g *Generator) draw(k Kind, st State) (Fault, bool) {
	f := Fault{Kind: k}
	switch k {
	case Pause, Crash, Reboot, Isolate, Drift:
		candidates := g.members
		if k == Pause || k == Crash || k == Reboot {
			candidates = g.where(st, false, false)
		}
		if len(candidates) == 0 {
			return f, false
		}
		f.Member = g.pick(candidates)
		if k == Drift {
			f.Rate = (2*g.rng.Float64() - 1) * g.MaxRate
		}
	case Resume:
		paused := g.where(st, true, false)
		if len(paused) == 0 {
			return f, false
		}
		f.Member = g.pick(paused)
	case Restart, RestartDiskless:
		crashed := g.where(st, false, true)
		if len(crashed) == 0 {
			return f, false
		}
		f.Member = g.pick(crashed)
	case Partition:
		if len(g.members) < 2 {
			return f, false
		}
		f.Groups = g.split()
	case Cut:
		f.From, f.To = g.pair()
	case Drop, Delay:
		if k == Drop {
			f.Fraction = g.MinDrop + (g.MaxDrop-g.MinDrop)*g.rng.Float64()
		} else {
			f.MaxDelay = time.Duration(g.rng.Int64N(int64(g.MaxDelay)))
		}
		// A third of them act on every link of one member.
		if g.rng.IntN(3) == 0 {
			f.Member = g.pick(g.members)
		} else {
			f.From, f.To = g.pair()
		}
	case Heal:
	default:
		panic(fmt.Sprintf("faults: cannot draw %v", k))
	}
	return f, true
}
