package faults

import (
	"fmt"
	"time"
)

// Target is a cluster that faults can be injected into, by member name: its
// network and its members' processes. simcluster.Cluster is one; the
// simulated election network and the in-memory daemons are others, through
// small shims in their tests. A Target that cannot take a fault (a real
// clock cannot drift on request) fails its test there.
type Target interface {
	// SetDrop makes the one-way link from -> to lose each message with
	// probability fraction.
	SetDrop(from, to string, fraction float64)
	// Cut refuses every message from -> to (one way).
	Cut(from, to string)
	// SetDelay delays each message from -> to by a time in [lo, hi].
	SetDelay(from, to string, lo, hi time.Duration)
	// Partition splits the network into groups that cannot talk to each
	// other.
	Partition(groups ...[]string)
	// Isolate cuts name off from every other member, both ways.
	Isolate(name string)
	// Heal ends every network fault.
	Heal()

	// Pause stops name's process; Resume continues it.
	Pause(name string)
	Resume(name string)
	// Crash kills name's process.
	Crash(name string)
	// Restart starts a crashed member's process again, with what it
	// persisted when keepState (and it has a disk), or else without.
	Restart(name string, keepState bool)
	// SetDrift makes name's clock run at rate 1+rate from now on.
	SetDrift(name string, rate float64)
}

// Apply injects f into t. members are every member's name: a Drop or Delay
// without To acts on the links between f.Member and each of the others (a
// Drop both ways, a Delay from f.Member only, as the Kinds say).
func Apply(t Target, f Fault, members []string) {
	switch f.Kind {
	case Pause:
		t.Pause(f.Member)
	case Resume:
		t.Resume(f.Member)
	case Crash:
		t.Crash(f.Member)
	case Restart, RestartDiskless:
		t.Restart(f.Member, f.Kind == Restart)
	case Reboot:
		t.Crash(f.Member)
		t.Restart(f.Member, true)
	case Partition:
		t.Partition(f.Groups...)
	case Isolate:
		t.Isolate(f.Member)
	case Cut:
		t.Cut(f.From, f.To)
	case Drop:
		if f.To != "" {
			t.SetDrop(f.From, f.To, f.Fraction)
			return
		}
		for _, o := range others(members, f.Member) {
			t.SetDrop(f.Member, o, f.Fraction)
			t.SetDrop(o, f.Member, f.Fraction)
		}
	case Delay:
		if f.To != "" {
			t.SetDelay(f.From, f.To, 0, f.MaxDelay)
			return
		}
		for _, o := range others(members, f.Member) {
			t.SetDelay(f.Member, o, 0, f.MaxDelay)
		}
	case Drift:
		t.SetDrift(f.Member, f.Rate)
	case Heal:
		t.Heal()
	default:
		panic(fmt.Sprintf("faults: cannot apply %v", f))
	}
}

// others returns members without name, in their order.
func others(members []string, name string) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		if m != name {
			out = append(out, m)
		}
	}
	return out
}
