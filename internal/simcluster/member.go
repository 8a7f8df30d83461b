package simcluster

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simnet"
	"github.com/ringd/ringd/partitions"
)

// MemberSpec configures one member of a Cluster.
type MemberSpec struct {
	Name string
	Prio int
	// Drift is the member's clock rate error (0.01 = 1% fast).
	Drift float64
	// Disk: the member persists its durable state (--data-dir); a restart
	// then hands it back. Without, a restart comes back as a new voter.
	Disk bool
	// AckDelay is how long the app takes to acknowledge a view; negative:
	// never (the release timeout must bound it).
	AckDelay time.Duration
	// Unsafe sets Options.UnsafeGrantWithoutWaiting (check the checker).
	Unsafe bool
	// Expect overrides the cluster's BootstrapExpect for this member (0:
	// the cluster's).
	Expect int
	// Lease and LeaderLease override the Timing's for this member (0: the
	// Timing's): members with different ones are a rolling change of them.
	Lease, LeaderLease time.Duration
	// Weight is Options.Weight (--weight; 0: 1).
	Weight float64
	// Zone is Options.Zone (--zone).
	Zone string
}

// app is the model of a member's application: what it believes it may work
// on and its pending acknowledgement.
type app struct {
	// hold and leaseUntil are the last view the app got from its sidecar;
	// leaseUntil is on the member's clock.
	hold       []partitions.Holding
	leaseUntil time.Time
	// ghost is what the app kept from a sidecar process that crashed, when
	// the app outlives the crash: it works on until that lease ends.
	ghost      []partitions.Holding
	ghostUntil time.Time
	// seen is the newest view index; acked the newest one acknowledged;
	// pending is the index being acknowledged at pendingAt (global time).
	seen, acked, pending uint64
	pendingAt            time.Time
}

// Member is one member of a Cluster: its current process (a core.Core) and
// its app.
type Member struct {
	c    *Cluster
	spec MemberSpec
	name string
	inc  uint64
	core *core.Core
	// kept is the persisted durable state (spec.Disk): what the member's
	// disk holds; identity is the voter identity of the current process.
	kept     core.Durable
	identity uint64
	// wallStep is how far the member's wall clock was stepped (StepClock).
	wallStep time.Duration
	app      app
	// crashed: the process is down until restart.
	crashed bool
	// gone: the member left for good (a graceful leave, then its process
	// ended); nothing restarts it.
	gone bool
	// gossipLast is the last member list given to SetMembers (gossipSet:
	// there was one); gossipBuf is scratch space.
	gossipLast, gossipBuf []core.MemberInfo
	gossipSet             bool
	lastRole              election.Role
	lastTerm              uint64
	lastTable             partitions.TableID
	// viewTable is the table of the app's last view.
	viewTable partitions.TableID
	// hasTable is what the member announces in gossip: Ready.HasTable,
	// as the daemon announces it.
	hasTable bool
	// rejoinGrace is what this process asked for when it stopped for a
	// planned restart (PlannedRestart); 0 otherwise.
	rejoinGrace time.Duration
	// out is what the current process handed out to send, waiting for the
	// network (Outbox).
	out []simnet.Outgoing[Wire]
	// diskFails: persisting the durable state fails (FailDisk).
	diskFails bool
}

// Name is the member's name.
func (m *Member) Name() string { return m.name }

// Spec is how the member was configured.
func (m *Member) Spec() MemberSpec { return m.spec }

// Core is the member's current process.
func (m *Member) Core() *core.Core { return m.core }

// Incarnation is the incarnation of the current process.
func (m *Member) Incarnation() uint64 { return m.inc }

// Identity is the voter identity of the current process.
func (m *Member) Identity() uint64 { return m.identity }

// Crashed reports whether the process is down.
func (m *Member) Crashed() bool { return m.crashed }

// Gone reports whether the member left for good.
func (m *Member) Gone() bool { return m.gone }

var _ simnet.Node[Wire] = (*Member)(nil)

// Step, Tick and Outbox make a member a simnet.Node.
func (m *Member) Step(now time.Time, from string, msg Wire) {
	m.core.Step(now, msg.env)
	m.handleReady()
}

func (m *Member) Tick(now time.Time) {
	m.core.SetTermFloor(m.termFloor(now))
	m.core.Tick(now)
	m.handleReady()
}

func (m *Member) Outbox() []simnet.Outgoing[Wire] {
	m.handleReady() // inputs given outside Step and Tick (Leave, Drain)
	out := m.out
	m.out = nil
	return out
}

// handleReady does what core.Ready asks after an input, as the daemon's
// loop does (daemon/loop.go): persist the durable state (a member without
// a disk has nothing to persist), and only then queue the messages for the
// network; announce HasTable in gossip; Advance. When the disk fails, the
// messages are dropped and Advance is not called, so the core offers the
// state again. Publishing is the app reading the View, after this. Events
// are for metrics: not needed here.
func (m *Member) handleReady() {
	r := m.core.Ready()
	stored := true
	if r.Durable != nil && m.spec.Disk {
		if m.diskFails {
			stored = false
		} else {
			m.kept = *r.Durable
		}
	}
	m.hasTable = m.hasTable || r.HasTable
	if !stored {
		return
	}
	m.core.Advance(r)
	for _, o := range r.Messages {
		m.out = append(m.out, simnet.Outgoing[Wire]{To: o.To, Msg: Wire{env: cloneEnvelope(o.Env), reliable: o.Reliable}})
	}
}

// FailDisk makes persisting name's durable state fail (failing) or work
// again. Only a member with a disk (MemberSpec.Disk) persists anything.
func (c *Cluster) FailDisk(name string, failing bool) {
	m := c.members[name]
	if !m.spec.Disk {
		c.t.Fatalf("FailDisk(%s): the member has no disk", name)
	}
	m.diskFails = failing
	c.Logf("disk of %s failing: %t", name, failing)
}

// cloneEnvelope deep-copies what an envelope points to, as the wire
// encoding would: the receiver must not share memory with the sender.
func cloneEnvelope(e core.Envelope) core.Envelope {
	if e.Election != nil {
		m := *e.Election
		e.Election = &m
	}
	if e.Table != nil {
		t := *e.Table
		t.Members = slices.Clone(t.Members)
		t.Voters = slices.Clone(t.Voters)
		t.PrevVoters = slices.Clone(t.PrevVoters)
		t.Partitions = slices.Clone(t.Partitions)
		e.Table = &t
	}
	if e.Holdings != nil {
		r := *e.Holdings
		r.Items = slices.Clone(r.Items)
		e.Holdings = &r
	}
	return e
}

func (c *Cluster) options(m *Member) core.Options {
	o := c.timing.Options
	o.Self, o.Incarnation, o.Identity, o.Priority = m.name, m.inc, m.identity, m.spec.Prio
	o.Partitions, o.Load, o.Preempt, o.Voters = Partitions, Load, c.preempt, c.voters
	o.DeadVoterTimeout, o.DeadMemberTimeout = DeadVoterTimeout, DeadMemberTimeout
	o.BootstrapExpect = cmp.Or(m.spec.Expect, c.expect)
	o.UnsafeGrantWithoutWaiting = m.spec.Unsafe
	o.FlapHoldDown = c.flapHoldDown
	o.MoveBudget, o.MoveCooldown = c.moveBudget, c.moveCooldown
	o.Lease = cmp.Or(m.spec.Lease, o.Lease)
	o.LeaderLease = cmp.Or(m.spec.LeaderLease, o.LeaderLease)
	o.Weight, o.Zone, o.Standbys = m.spec.Weight, m.spec.Zone, c.standbys
	return o
}

// Respec changes name's spec from its next start on (Restart), as a rolling
// change of a member's flags does.
func (c *Cluster) Respec(name string, edit func(*MemberSpec)) {
	m := c.members[name]
	edit(&m.spec)
	c.Logf("respec %s: lease %v leader lease %v", name, m.spec.Lease, m.spec.LeaderLease)
}

// termFloor is the member's simulated wall clock in floor units: its own
// clock plus the steps its wall clock took (StepClock). Only term floors read
// the wall clock; leases and timers run on the monotonic clock, as Go's do.
func (m *Member) termFloor(now time.Time) uint64 {
	units := int64(termFloorBase) + int64((now.Sub(m.c.start)+m.wallStep)/m.c.floorUnit)
	return uint64(max(units, 0))
}

// Add starts a new member and makes it known to everyone (a join).
func (c *Cluster) Add(s MemberSpec) *Member {
	m := &Member{c: c, spec: s, name: s.Name}
	c.members[s.Name] = m
	c.names = append(c.names, s.Name)
	sort.Strings(c.names)
	c.net.AddNode(s.Name)
	if s.Drift != 0 {
		c.net.SetDrift(s.Name, s.Drift)
	}
	// A first start: a member with a data dir finds an empty one; the
	// others learn of it when they hear it.
	c.boot(m, true)
	c.cl.Add(s.Name, m)
	c.Logf("start %s inc %d", s.Name, m.inc)
	return m
}

// boot gives m a fresh process: a new incarnation and core, with the
// persisted durable state when keepHard (and the member has a disk and
// saved one); otherwise a new voter identity, as the daemon does (the
// incarnation without a data dir, a new random one with an empty one).
func (c *Cluster) boot(m *Member, keepHard bool) {
	c.nextInc++
	m.inc = c.nextInc
	m.rejoinGrace = 0
	if !(keepHard && m.spec.Disk && m.kept.Identity != 0) {
		m.kept = core.Durable{}
		m.identity = m.inc
		if m.spec.Disk {
			m.identity = 1_000_000 + m.inc
		}
	}
	m.core = core.New(c.options(m), m.kept)
	now := c.net.NodeNow(m.name)
	m.core.SetTermFloor(m.termFloor(now))
	m.crashed = false
	m.gossipSet = false
	m.hasTable = false // announced after the first Ready, as the daemon does
	m.out = nil        // a new process has sent nothing yet
	m.app.hold, m.app.leaseUntil = nil, time.Time{}
	m.app.seen, m.app.acked, m.app.pending = 0, 0, 0
	m.lastRole, m.lastTerm, m.lastTable = election.Follower, 0, partitions.TableID{}
	// Others keep gossiping the old incarnation until they hear the new one.
}

// hear records that observer p.to can hear subject p.from at now.
func (c *Cluster) hear(p pair, now time.Time) {
	c.lastHeard[pair{p.to, p.from}] = now
	if s := c.members[p.from]; s != nil && s.core != nil {
		c.heardInc[pair{p.to, p.from}] = s.inc
		c.heardID[pair{p.to, p.from}] = s.identity
		c.heardDraining[pair{p.to, p.from}] = s.core.Draining()
		c.heardLeaving[pair{p.to, p.from}] = s.core.Leaving()
		c.heardHasTable[pair{p.to, p.from}] = s.hasTable
		c.heardRestart[pair{p.to, p.from}] = s.rejoinGrace
	}
}

// canHear reports whether observer could hear subject right now: the
// subject's process runs and the network carries its packets to observer.
func (c *Cluster) canHear(observer, subject string) bool {
	if !c.Up(subject) || c.cuts[pair{subject, observer}] || c.isolated[subject] || c.isolated[observer] {
		return false
	}
	if c.partitioned {
		gs, oks := c.group[subject]
		gobs, oko := c.group[observer]
		if !oks || !oko || gs != gobs {
			return false
		}
	}
	return true
}

// gossip feeds every running core the member list its gossip would show:
// another member is alive unless it could not be heard for DetectDelay.
func (c *Cluster) gossip(now time.Time) {
	for _, obs := range c.names {
		for _, sub := range c.names {
			if obs != sub && c.canHear(obs, sub) {
				c.hear(pair{sub, obs}, now)
			}
		}
	}
	for _, obs := range c.names {
		m := c.members[obs]
		if !c.Up(obs) {
			continue
		}
		infos := m.gossipBuf[:0]
		for _, sub := range c.names {
			if sub == obs {
				continue
			}
			p := pair{obs, sub}
			inc := c.heardInc[p]
			if inc == 0 {
				continue // not heard since it (re)started: not known yet
			}
			if now.Sub(c.lastHeard[p]) > DetectDelay+DeadMemberTimeout {
				continue // gossip forgot it, as the daemon's peer table does
			}
			infos = append(infos, core.MemberInfo{Name: sub, Incarnation: inc, Identity: c.heardID[p],
				Priority: c.members[sub].spec.Prio, Alive: now.Sub(c.lastHeard[p]) < DetectDelay,
				Draining: c.heardDraining[p], Leaving: c.heardLeaving[p], HasTable: c.heardHasTable[p],
				Weight: c.members[sub].spec.Weight, Zone: c.members[sub].spec.Zone,
				Restarting: c.heardRestart[p] > 0, RejoinGrace: c.heardRestart[p]})
		}
		m.gossipBuf = infos
		if !m.gossipSet || !slices.Equal(infos, m.gossipLast) {
			m.gossipSet = true
			m.gossipLast = slices.Clone(infos)
			m.core.SetMembers(c.Now(obs), slices.Clone(infos))
			m.handleReady()
		}
	}
}

// runApp lets m's app read its sidecar's view and acknowledge it.
func (c *Cluster) runApp(m *Member, now time.Time) {
	a := &m.app
	if !c.Up(m.name) {
		return // it keeps what it last saw (appHoldings applies the lease)
	}
	v := m.core.View(c.Now(m.name))
	if c.onView != nil {
		c.onView(m, v)
	}
	if v.Index > a.seen {
		a.seen = v.Index
	}
	if m.spec.AckDelay >= 0 {
		if a.pending == 0 && a.seen > a.acked {
			a.pending, a.pendingAt = a.seen, now.Add(m.spec.AckDelay)
		}
		if a.pending != 0 && !now.Before(a.pendingAt) {
			m.core.AppAck(c.Now(m.name), a.pending)
			m.handleReady()
			a.acked, a.pending = a.pending, 0
			v = m.core.View(c.Now(m.name))
		}
	}
	a.hold, a.leaseUntil = v.Holdings, v.LeaseUntil
	m.viewTable = v.Table.ID
}

// AppHoldings is what name's app works on right now (see appHoldings).
func (c *Cluster) AppHoldings(name string) []partitions.Holding {
	return c.appHoldings(c.members[name])
}

// appHoldings is what m's app works on right now: its sidecar's last view
// (for a paused sidecar, or a crashed one whose app outlives it, only until
// the lease it was shown ends), each partition until the deadline it was
// shown (Holding.Until: the lease, or a releasing partition's release
// deadline), on the member's clock. The deadline counts for a running
// sidecar too: the view read right after a pause still lists a releasing
// partition whose deadline passed during it, until the sidecar's next tick.
func (c *Cluster) appHoldings(m *Member) []partitions.Holding {
	now := c.Now(m.name)
	var out []partitions.Holding
	if m.crashed {
		if !c.appOutlivesCrash || !now.Before(m.app.leaseUntil) {
			return nil
		}
		return stillShown(m.app.hold, now)
	}
	if !c.net.Paused(m.name) {
		out = stillShown(m.app.hold, now)
	} else if now.Before(m.app.leaseUntil) {
		out = stillShown(m.app.hold, now)
	}
	if len(m.app.ghost) > 0 {
		if now.Before(m.app.ghostUntil) {
			out = append(slices.Clone(out), stillShown(m.app.ghost, now)...)
		} else {
			m.app.ghost = nil
		}
	}
	return out
}

// stillShown keeps the holdings whose shown deadline has not passed at now.
func stillShown(hs []partitions.Holding, now time.Time) []partitions.Holding {
	var out []partitions.Holding
	for _, h := range hs {
		if now.Before(h.Until) {
			out = append(out, h)
		}
	}
	return out
}

// traceChanges logs role, term and table changes of running members.
func (c *Cluster) traceChanges(m *Member) {
	if !c.Up(m.name) {
		return
	}
	st := m.core.Status()
	tid := m.viewTable
	if st.Role != m.lastRole || st.Term != m.lastTerm {
		c.Logf("%s: %v term %d leader %q", m.name, st.Role, st.Term, st.Leader)
		m.lastRole, m.lastTerm = st.Role, st.Term
	}
	if tid != m.lastTable {
		m.lastTable = tid
		c.hadTable = c.hadTable || tid != (partitions.TableID{})
		if c.verbose {
			c.Logf("%s: table %v holds %v", m.name, tid, m.app.hold)
		}
	}
}
