package simcluster

import (
	"fmt"
	"time"

	"github.com/ringd/ringd/internal/faults"
)

// Faults of a Cluster. Each updates simnet and the cluster's own record of
// the network, from which the simulated gossip decides who hears whom.

// SetDrop makes the one-way link from -> to lose each best-effort message
// with probability f (reliable messages go through).
func (c *Cluster) SetDrop(from, to string, f float64) {
	c.dropFrac[pair{from, to}] = f
	c.Logf("drop %s->%s %.2f", from, to, f)
}

// Cut refuses every message and gossip from -> to (one way).
func (c *Cluster) Cut(from, to string) {
	c.cuts[pair{from, to}] = true
	c.net.Cut(from, to)
	c.Logf("cut %s->%s", from, to)
}

// SetDelay delays each message from -> to by a time in [lo, hi].
func (c *Cluster) SetDelay(from, to string, lo, hi time.Duration) {
	c.net.SetDelay(from, to, lo, hi)
	c.Logf("delay %s->%s [%v, %v]", from, to, lo, hi)
}

// Partition splits the network (and gossip) into groups that cannot talk to
// each other; a member in no group is cut off from everyone.
func (c *Cluster) Partition(groups ...[]string) {
	c.net.Partition(groups...)
	c.partitioned = true
	c.group = map[string]int{}
	for i, g := range groups {
		for _, n := range g {
			c.group[n] = i
		}
	}
	c.Logf("partition %v", groups)
}

// Isolate cuts name off from every other member (and gossip), both ways.
func (c *Cluster) Isolate(name string) {
	c.isolated[name] = true
	c.net.Isolate(name)
	c.Logf("isolate %s", name)
}

// Heal removes every network fault (drops, cuts, delays, isolations,
// partitions).
func (c *Cluster) Heal() {
	c.net.Heal()
	clear(c.dropFrac)
	clear(c.cuts)
	clear(c.isolated)
	c.partitioned, c.group = false, nil
	c.Logf("heal network")
}

// SetDrift makes name's clock run at rate 1+drift from now on.
func (c *Cluster) SetDrift(name string, drift float64) {
	c.net.SetDrift(name, drift)
	c.Logf("drift %s %+.4f", name, drift)
}

// StepClock steps name's wall clock by d (forwards or back), as NTP or an
// operator does; its monotonic clock runs on.
func (c *Cluster) StepClock(name string, d time.Duration) {
	c.members[name].wallStep += d
	c.Logf("wall clock of %s stepped by %v", name, d)
}

// Pause stops name's process (SIGSTOP); its app works on until the lease it
// was shown ends.
func (c *Cluster) Pause(name string) {
	if c.members[name].crashed {
		return // a dead process cannot be stopped
	}
	c.net.Pause(name)
	c.Logf("pause %s", name)
}

// Resume continues a paused process.
func (c *Cluster) Resume(name string) {
	if c.members[name].crashed || !c.net.Paused(name) {
		return
	}
	c.net.Resume(name)
	c.Logf("resume %s", name)
}

// Crash kills name's process. Its app stops at once or, with
// AppOutlivesCrash, works on until the lease it last saw ends.
func (c *Cluster) Crash(name string) {
	m := c.members[name]
	if m.crashed {
		return
	}
	c.net.Crash(name)
	m.crashed = true
	c.Logf("crash %s (inc %d)", name, m.inc)
}

// Restart starts a fresh process for a crashed member, with its persisted
// durable state when keepHard and it has a disk (otherwise as a diskless
// restart: a new voter identity).
func (c *Cluster) Restart(name string, keepHard bool) {
	m := c.members[name]
	if !m.crashed || m.gone {
		return
	}
	if c.appOutlivesCrash && c.Now(name).Before(m.app.leaseUntil) {
		m.app.ghost, m.app.ghostUntil = m.app.hold, m.app.leaseUntil
	}
	c.boot(m, keepHard)
	c.cl.Replace(name, m)
	c.Logf("restart %s inc %d (hard state kept: %t)", name, m.inc, keepHard && m.spec.Disk)
}

// Leave is a member's graceful leave for good: it starts leaving now and its
// process ends once the drain is done or after limit (the shutdown timeout),
// whichever comes first.
func (c *Cluster) Leave(name string, limit time.Duration) {
	m := c.members[name]
	if m.crashed || m.gone {
		return
	}
	c.SetLeaving(name)
	deadline := c.net.Now().Add(limit)
	c.OnStep(func(now time.Time) {
		if m.gone {
			return
		}
		if m.crashed || !now.Before(deadline) || (c.Up(name) && c.View(name).LeavePending() == "") {
			c.Crash(name)
			m.gone = true
			c.Logf("%s left", name)
		}
	})
}

// SetLeaving starts a graceful leave for good (SIGTERM).
// PlannedRestart stops name for a planned restart, as SIGTERM with
// --shutdown=restart does: the member asks the leader to keep its
// partitions for grace, waits (up to limit) until they are released and its
// leadership handed over, stops, and starts again under the same name
// (keeping its disk) after down.
func (c *Cluster) PlannedRestart(name string, grace, limit, down time.Duration) {
	m := c.members[name]
	if m.crashed || m.gone {
		return
	}
	m.core.SetRestarting(grace)
	m.rejoinGrace = grace
	c.Logf("restarting %s (rejoin grace %v)", name, grace)
	deadline := c.net.Now().Add(limit)
	stopped := false
	c.OnStep(func(now time.Time) {
		if stopped || m.gone {
			return
		}
		if m.crashed || !now.Before(deadline) || (c.Up(name) && c.View(name).LeavePending() == "") {
			stopped = true
			c.Crash(name)
			c.Logf("%s stopped for its restart", name)
			c.At(now.Add(down).Sub(c.start), name, func() { c.Restart(name, true) })
		}
	})
}

func (c *Cluster) SetLeaving(name string) {
	m := c.members[name]
	if m.crashed {
		return
	}
	m.core.SetLeaving()
	c.Logf("leaving %s", name)
}

// SetDraining starts or ends a drain of name.
func (c *Cluster) SetDraining(name string, on bool) {
	m := c.members[name]
	if m.crashed {
		return
	}
	m.core.SetDraining(on)
	c.Logf("draining %s %t", name, on)
}

// HealAll ends every fault: network healed, paused members resumed, crashed
// ones restarted (keepHard as given), draining ended.
func (c *Cluster) HealAll(keepHard bool) {
	c.Heal()
	for _, n := range c.names {
		c.Restart(n, keepHard)
		c.Resume(n)
		if cr := c.members[n].core; cr.Draining() && !cr.Leaving() {
			c.SetDraining(n, false)
		}
	}
}

// Apply injects a fault of the shared vocabulary (faults.Apply): Restart
// keeps the member's persisted state, RestartDiskless does not, and Reboot
// crashes a running member and restarts it with its state in one step.
func (c *Cluster) Apply(f faults.Fault) { faults.Apply(c, f, c.names) }

var _ faults.Target = (*Cluster)(nil)

// Crashed reports whether name's process is crashed; with Paused it tells a
// fault generator what the members' processes do (faults.State).
func (c *Cluster) Crashed(name string) bool { return c.members[name].crashed }

// ForceVoters forces the voter configuration of member name (an operator's
// recovery after losing a majority of the voters, core.Core.ForceVoters).
func (c *Cluster) ForceVoters(name string, voters []string) error {
	m := c.members[name]
	if m.crashed {
		return fmt.Errorf("%s is crashed", name)
	}
	if err := m.core.ForceVoters(c.Now(name), voters); err != nil {
		return err
	}
	c.Logf("voters of %s forced to %v", name, voters)
	return nil
}
