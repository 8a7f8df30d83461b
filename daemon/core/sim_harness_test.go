package core_test

// The simulation harness runs whole ringd protocol cores (core.Core) as
// simnet nodes in one goroutine: a simulated network with drops, cuts,
// delays, partitions, pauses and crashes; per-node clocks with drift; a
// gossip model that feeds every core's SetMembers; a model of each member's
// application that acknowledges releases; and the ownership checker
// (internal/ownercheck), which sees at every step what each application may
// work on. Everything random comes from the seed.

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/internal/simnet"
	"github.com/ringd/ringd/partitions"
)

// Timing: the daemon's fast test configuration (daemon/cluster_test.go
// fastConfig), ticked every 10ms of virtual time.
const (
	tick              = 10 * time.Millisecond
	heartbeatInterval = 50 * time.Millisecond
	leaderTimeout     = 400 * time.Millisecond
	electionTimeout   = 150 * time.Millisecond
	leaderLease       = 400 * time.Millisecond
	lease             = 1200 * time.Millisecond
	drift             = 0.05
	safetyMargin      = 100 * time.Millisecond
	settle            = 300 * time.Millisecond
	releaseTimeout    = 500 * time.Millisecond
	numPartitions     = 32
	load              = 1.25

	// detectDelay is how long gossip takes to declare a member dead that
	// cannot be heard (crashed, paused, cut off); it is alive again as soon
	// as it can be heard again.
	detectDelay = 300 * time.Millisecond

	// deadVoterTimeout: a voter dead this long is replaced;
	// deadMemberTimeout: a member dead this long is forgotten.
	deadVoterTimeout  = time.Second
	deadMemberTimeout = 5 * time.Second

	// termFloorBase makes the simulated wall clock look like Unix time: the
	// term floor is termFloorBase + the member's clock since the start of
	// the run in floor units, seconds by default (the daemon uses
	// time.Now().Unix()).
	termFloorBase = 1_796_000_000_000
)

// wire is a message on the simulated network: an envelope and whether the
// daemon would send it over the reliable (TCP) channel. Random drops spare
// reliable messages; cuts, partitions, pauses and crashes do not.
type wire struct {
	env      core.Envelope
	reliable bool
}

// memberSpec configures one member of a world.
type memberSpec struct {
	name string
	prio int
	// drift is the member's clock rate error (0.01 = 1% fast).
	drift float64
	// disk: the member persists its election hard state (--data-dir); a
	// restart then hands it back. Without, a restart sets the vote floor.
	disk bool
	// ackDelay is how long the app takes to acknowledge a view; negative:
	// never (the release timeout must bound it).
	ackDelay time.Duration
	// unsafe sets Options.UnsafeGrantWithoutWaiting (check the checker).
	unsafe bool
	// expect overrides the world's BootstrapExpect for this member (0:
	// the world's).
	expect int
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

// member is one member: its current process (core) and its app.
type member struct {
	w    *world
	spec memberSpec
	name string
	inc  uint64
	core *core.Core
	// kept is the persisted durable state (spec.disk); identity is the
	// voter identity of the current process.
	kept     core.Durable
	identity uint64
	// wallStep is how far the member's wall clock was stepped (stepClock).
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
}

// Step, Tick and Outbox make a member a simnet.Node.
func (m *member) Step(now time.Time, from string, msg wire) {
	m.core.Step(now, msg.env)
}

func (m *member) Tick(now time.Time) {
	m.core.SetTermFloor(m.termFloor(now))
	m.core.Tick(now)
}

func (m *member) Outbox() []simnet.Outgoing[wire] {
	// Like the daemon (see core.Ready): persist the durable state before
	// sending anything. Events are for metrics: not needed here.
	r := m.core.Ready()
	if r.Durable != nil && m.spec.disk {
		m.kept = *r.Durable
	}
	m.core.Advance(r)
	outs := r.Messages
	if len(outs) == 0 {
		return nil
	}
	res := make([]simnet.Outgoing[wire], 0, len(outs))
	for _, o := range outs {
		res = append(res, simnet.Outgoing[wire]{To: o.To, Msg: wire{env: cloneEnvelope(o.Env), reliable: o.Reliable}})
	}
	return res
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

type pair struct{ from, to string }

// world is a simulated ringd cluster plus the test's knowledge of it.
type world struct {
	t     testing.TB
	seed  int64
	net   *simnet.Network[wire]
	cl    *simnet.Cluster[wire]
	rng   *rand.Rand // fault schedules
	drops *rand.Rand // random drops of best-effort messages
	start time.Time

	members map[string]*member
	names   []string // sorted
	expect  int      // BootstrapExpect
	voters  int      // Options.Voters (0: the default, 5)
	preempt bool
	// appOutlivesCrash: a crashed sidecar's app keeps working until the
	// lease it was told ends (stricter than stopping at once).
	appOutlivesCrash bool
	nextInc          uint64
	// floorUnit is the resolution of the simulated wall clock that sets
	// term and vote floors (time.Millisecond, as the daemon).
	floorUnit time.Duration

	// Network faults as the harness set them (simnet keeps its own copy).
	dropFrac    map[pair]float64
	cuts        map[pair]bool
	partitioned bool
	group       map[string]int
	// lastHeard is, per (observer, subject), the last global time the
	// observer could hear the subject; heardInc and heardDraining are what
	// the subject's gossip said then.
	lastHeard     map[pair]time.Time
	heardInc      map[pair]uint64
	heardID       map[pair]uint64
	heardDraining map[pair]bool
	heardLeaving  map[pair]bool
	heardHasTable map[pair]bool

	check *ownercheck.Checker
	// events are scheduled actions, run at the first step at or after At.
	events []event
	// hooks run after every step (after the checker's observation).
	hooks []func(now time.Time)
	// onView, if set, sees every view an app reads, before it acknowledges.
	onView func(m *member, v core.View)

	trace   []string
	verbose bool
}

type event struct {
	at   time.Time
	name string
	do   func()
}

// newWorld builds and starts a cluster of the given members, all joined and
// bootstrapping with BootstrapExpect = len(specs), with preemption on.
func newWorld(t testing.TB, seed int64, specs ...memberSpec) *world {
	t.Helper()
	return newWorldOpts(t, seed, worldOpts{}, specs...)
}

// worldOpts are the cluster-wide settings of a world.
type worldOpts struct {
	noPreempt        bool
	appOutlivesCrash bool
	// voters is Options.Voters; zero means the default.
	voters int
	// floorUnit: see world.floorUnit; zero means time.Millisecond.
	floorUnit time.Duration
}

func newWorldOpts(t testing.TB, seed int64, o worldOpts, specs ...memberSpec) *world {
	t.Helper()
	net := simnet.New[wire](seed)
	w := &world{
		t: t, seed: seed, net: net, cl: simnet.NewCluster(net),
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		drops: rand.New(rand.NewPCG(uint64(seed), 0xd509)),
		start: net.Now(), members: map[string]*member{},
		expect: len(specs), voters: o.voters, preempt: !o.noPreempt, appOutlivesCrash: o.appOutlivesCrash,
		floorUnit: o.floorUnit,
		dropFrac:  map[pair]float64{}, cuts: map[pair]bool{},
		lastHeard: map[pair]time.Time{}, heardInc: map[pair]uint64{}, heardID: map[pair]uint64{}, heardDraining: map[pair]bool{}, heardLeaving: map[pair]bool{}, heardHasTable: map[pair]bool{},
		check: ownercheck.New(numPartitions),
	}
	if w.floorUnit == 0 {
		w.floorUnit = time.Millisecond
	}
	net.SetDefaultDelay(time.Millisecond, 5*time.Millisecond)
	net.SetFilter(func(from, to string, msg wire) bool {
		if msg.reliable {
			return true
		}
		f := w.dropFrac[pair{from, to}]
		return f <= 0 || w.drops.Float64() >= f
	})
	w.cl.Observe = w.observe
	for _, s := range specs {
		w.add(s)
	}
	return w
}

// specs returns n default members m0..m(n-1): no drift, no disk, prompt apps.
func specs(n int) []memberSpec {
	out := make([]memberSpec, n)
	for i := range out {
		out[i] = memberSpec{name: fmt.Sprintf("m%d", i)}
	}
	return out
}

func (w *world) options(m *member) core.Options {
	return core.Options{
		Self: m.name, Incarnation: m.inc, Identity: m.identity, Priority: m.spec.prio,
		Partitions: numPartitions, Load: load,
		HeartbeatInterval: heartbeatInterval, LeaderTimeout: leaderTimeout,
		ElectionTimeout: electionTimeout, LeaderLease: leaderLease, Lease: lease,
		Drift: drift, SafetyMargin: safetyMargin, Settle: settle,
		ReleaseTimeout: releaseTimeout, Preempt: w.preempt,
		Voters:                    w.voters,
		DeadVoterTimeout:          deadVoterTimeout,
		DeadMemberTimeout:         deadMemberTimeout,
		BootstrapExpect:           cmp.Or(m.spec.expect, w.expect),
		UnsafeGrantWithoutWaiting: m.spec.unsafe,
	}
}

// termFloor is the member's simulated wall clock in floor units: its own
// clock plus the steps its wall clock took (stepClock). Only term floors read
// the wall clock; leases and timers run on the monotonic clock, as Go's do.
func (m *member) termFloor(now time.Time) uint64 {
	units := int64(termFloorBase) + int64((now.Sub(m.w.start)+m.wallStep)/m.w.floorUnit)
	return uint64(max(units, 0))
}

// stepClock steps name's wall clock by d (forwards or back), as NTP or an
// operator does; its monotonic clock runs on.
func (w *world) stepClock(name string, d time.Duration) {
	w.members[name].wallStep += d
	w.logf("wall clock of %s stepped by %v", name, d)
}

// add starts a new member and makes it known to everyone (a join).
func (w *world) add(s memberSpec) *member {
	m := &member{w: w, spec: s, name: s.name}
	w.members[s.name] = m
	w.names = append(w.names, s.name)
	sort.Strings(w.names)
	w.net.AddNode(s.name)
	if s.drift != 0 {
		w.net.SetDrift(s.name, s.drift)
	}
	// A first start: a member with a data dir finds an empty one; the
	// others learn of it when they hear it.
	w.boot(m, true)
	w.cl.Add(s.name, m)
	w.logf("start %s inc %d", s.name, m.inc)
	return m
}

// boot gives m a fresh process: a new incarnation and core, with the
// persisted durable state when keepHard (and the member has a disk and
// saved one); otherwise a new voter identity, as the daemon does (the
// incarnation without a data dir, a new random one with an empty one).
func (w *world) boot(m *member, keepHard bool) {
	w.nextInc++
	m.inc = w.nextInc
	if !(keepHard && m.spec.disk && m.kept.Identity != 0) {
		m.kept = core.Durable{}
		m.identity = m.inc
		if m.spec.disk {
			m.identity = 1_000_000 + m.inc
		}
	}
	m.core = core.New(w.options(m), m.kept)
	now := w.net.NodeNow(m.name)
	m.core.SetTermFloor(m.termFloor(now))
	m.crashed = false
	m.gossipSet = false
	m.app.hold, m.app.leaseUntil = nil, time.Time{}
	m.app.seen, m.app.acked, m.app.pending = 0, 0, 0
	m.lastRole, m.lastTerm, m.lastTable = election.Follower, 0, partitions.TableID{}
	// Others keep gossiping the old incarnation until they hear the new one.
}

// hear records that observer p.to can hear subject p.from at now.
func (w *world) hear(p pair, now time.Time) {
	w.lastHeard[pair{p.to, p.from}] = now
	if s := w.members[p.from]; s != nil && s.core != nil {
		w.heardInc[pair{p.to, p.from}] = s.inc
		w.heardID[pair{p.to, p.from}] = s.identity
		w.heardDraining[pair{p.to, p.from}] = s.core.Draining()
		w.heardLeaving[pair{p.to, p.from}] = s.core.Leaving()
		w.heardHasTable[pair{p.to, p.from}] = s.core.HasTable()
	}
}

// up reports whether name's process runs (neither crashed nor paused).
func (w *world) up(name string) bool {
	return !w.members[name].crashed && !w.net.Paused(name)
}

func (w *world) now(name string) time.Time { return w.net.NodeNow(name) }

func (w *world) elapsed() time.Duration { return w.net.Now().Sub(w.start) }

// logf adds a line to the trace, stamped with the virtual time since start.
func (w *world) logf(format string, args ...any) {
	line := fmt.Sprintf("%8v  ", w.elapsed()) + fmt.Sprintf(format, args...)
	w.trace = append(w.trace, line)
	if w.verbose {
		w.t.Log(line)
	}
}

// dumpTrace returns the last n lines of the trace.
func (w *world) dumpTrace(n int) string {
	tr := w.trace
	if len(tr) > n {
		tr = tr[len(tr)-n:]
	}
	return strings.Join(tr, "\n")
}

// at schedules an action at global time start+d.
func (w *world) at(d time.Duration, name string, do func()) {
	w.events = append(w.events, event{at: w.start.Add(d), name: name, do: do})
	sort.SliceStable(w.events, func(i, j int) bool { return w.events[i].at.Before(w.events[j].at) })
}

// run runs the cluster for d.
func (w *world) run(d time.Duration) { w.cl.RunFor(d, tick) }

// runUntil runs until cond holds or limit passes and reports whether it held.
func (w *world) runUntil(limit time.Duration, cond func() bool) bool {
	return w.cl.RunUntil(limit, tick, cond)
}

// observe runs after every step: scheduled events, gossip, apps, checker,
// hooks.
func (w *world) observe(now time.Time) {
	for len(w.events) > 0 && !w.events[0].at.After(now) {
		e := w.events[0]
		w.events = w.events[1:]
		w.logf("event: %s", e.name)
		e.do()
	}
	w.gossip(now)
	for _, name := range w.names {
		m := w.members[name]
		w.runApp(m, now)
		w.check.Observe(now, name, w.appHoldings(m))
		w.traceChanges(m)
	}
	for _, h := range w.hooks {
		h(now)
	}
}

// canHear reports whether observer could hear subject right now: the
// subject's process runs and the network carries its packets to observer.
func (w *world) canHear(observer, subject string) bool {
	if !w.up(subject) || w.cuts[pair{subject, observer}] {
		return false
	}
	if w.partitioned {
		gs, oks := w.group[subject]
		gobs, oko := w.group[observer]
		if !oks || !oko || gs != gobs {
			return false
		}
	}
	return true
}

// gossip feeds every running core the member list its gossip would show:
// another member is alive unless it could not be heard for detectDelay.
func (w *world) gossip(now time.Time) {
	for _, obs := range w.names {
		for _, sub := range w.names {
			if obs != sub && w.canHear(obs, sub) {
				w.hear(pair{sub, obs}, now)
			}
		}
	}
	for _, obs := range w.names {
		m := w.members[obs]
		if !w.up(obs) {
			continue
		}
		infos := m.gossipBuf[:0]
		for _, sub := range w.names {
			if sub == obs {
				continue
			}
			p := pair{obs, sub}
			inc := w.heardInc[p]
			if inc == 0 {
				continue // not heard since it (re)started: not known yet
			}
			if now.Sub(w.lastHeard[p]) > detectDelay+deadMemberTimeout {
				continue // gossip forgot it, as the daemon's peer table does
			}
			infos = append(infos, core.MemberInfo{Name: sub, Incarnation: inc, Identity: w.heardID[p],
				Priority: w.members[sub].spec.prio, Alive: now.Sub(w.lastHeard[p]) < detectDelay,
				Draining: w.heardDraining[p], Leaving: w.heardLeaving[p], HasTable: w.heardHasTable[p]})
		}
		m.gossipBuf = infos
		if !m.gossipSet || !slices.Equal(infos, m.gossipLast) {
			m.gossipSet = true
			m.gossipLast = slices.Clone(infos)
			m.core.SetMembers(w.now(obs), slices.Clone(infos))
		}
	}
}

// runApp lets m's app read its sidecar's view and acknowledge it.
func (w *world) runApp(m *member, now time.Time) {
	a := &m.app
	if !w.up(m.name) {
		return // it keeps what it last saw (appHoldings applies the lease)
	}
	v := m.core.View(w.now(m.name))
	if w.onView != nil {
		w.onView(m, v)
	}
	if v.Index > a.seen {
		a.seen = v.Index
	}
	if m.spec.ackDelay >= 0 {
		if a.pending == 0 && a.seen > a.acked {
			a.pending, a.pendingAt = a.seen, now.Add(m.spec.ackDelay)
		}
		if a.pending != 0 && !now.Before(a.pendingAt) {
			m.core.AppAck(w.now(m.name), a.pending)
			a.acked, a.pending = a.pending, 0
			v = m.core.View(w.now(m.name))
		}
	}
	a.hold, a.leaseUntil = v.Holdings, v.LeaseUntil
	m.viewTable = v.Table.ID
}

// appHoldings is what m's app works on right now: a running sidecar's view;
// for a paused sidecar (or a crashed one whose app outlives it) the last view,
// each partition until the deadline it was shown (Holding.Until: the lease,
// or a releasing partition's release deadline), on the member's clock.
func (w *world) appHoldings(m *member) []partitions.Holding {
	now := w.now(m.name)
	var out []partitions.Holding
	if m.crashed {
		if !w.appOutlivesCrash || !now.Before(m.app.leaseUntil) {
			return nil
		}
		return stillShown(m.app.hold, now)
	}
	if !w.net.Paused(m.name) {
		out = m.app.hold
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
func (w *world) traceChanges(m *member) {
	if !w.up(m.name) {
		return
	}
	st := m.core.Status()
	tid := m.viewTable
	if st.Role != m.lastRole || st.Term != m.lastTerm {
		w.logf("%s: %v term %d leader %q", m.name, st.Role, st.Term, st.Leader)
		m.lastRole, m.lastTerm = st.Role, st.Term
	}
	if tid != m.lastTable {
		m.lastTable = tid
		if w.verbose {
			w.logf("%s: table %v holds %v", m.name, tid, m.app.hold)
		}
	}
}

// Faults. Each updates simnet and the harness's own record (for gossip).

func (w *world) setDrop(from, to string, f float64) {
	w.dropFrac[pair{from, to}] = f
	w.logf("drop %s->%s %.2f", from, to, f)
}

func (w *world) cut(from, to string) {
	w.cuts[pair{from, to}] = true
	w.net.Cut(from, to)
	w.logf("cut %s->%s", from, to)
}

func (w *world) setDelay(from, to string, lo, hi time.Duration) {
	w.net.SetDelay(from, to, lo, hi)
	w.logf("delay %s->%s [%v, %v]", from, to, lo, hi)
}

func (w *world) partition(groups ...[]string) {
	w.net.Partition(groups...)
	w.partitioned = true
	w.group = map[string]int{}
	for i, g := range groups {
		for _, n := range g {
			w.group[n] = i
		}
	}
	w.logf("partition %v", groups)
}

// heal removes every network fault (drops, cuts, delays, partitions).
func (w *world) heal() {
	w.net.Heal()
	clear(w.dropFrac)
	clear(w.cuts)
	w.partitioned, w.group = false, nil
	w.logf("heal network")
}

func (w *world) pause(name string) {
	if w.members[name].crashed {
		return // a dead process cannot be stopped
	}
	w.net.Pause(name)
	w.logf("pause %s", name)
}

func (w *world) resume(name string) {
	if w.members[name].crashed || !w.net.Paused(name) {
		return
	}
	w.net.Resume(name)
	w.logf("resume %s", name)
}

// crash kills name's process. Its app stops at once or, with
// appOutlivesCrash, works on until the lease it last saw ends.
func (w *world) crash(name string) {
	m := w.members[name]
	if m.crashed {
		return
	}
	w.net.Crash(name)
	m.crashed = true
	w.logf("crash %s (inc %d)", name, m.inc)
}

// restart starts a fresh process for a crashed member, with its persisted
// hard state when keepHard and it has a disk.
func (w *world) restart(name string, keepHard bool) {
	m := w.members[name]
	if !m.crashed || m.gone {
		return
	}
	if w.appOutlivesCrash && w.now(name).Before(m.app.leaseUntil) {
		m.app.ghost, m.app.ghostUntil = m.app.hold, m.app.leaseUntil
	}
	w.boot(m, keepHard)
	w.cl.Replace(name, m)
	w.logf("restart %s inc %d (hard state kept: %t)", name, m.inc, keepHard && m.spec.disk)
}

// leave is a member's graceful leave for good, done by the events of a
// random schedule: it starts leaving now and its process ends once the drain
// is done or after limit (the shutdown timeout), whichever comes first.
func (w *world) leave(name string, limit time.Duration) {
	m := w.members[name]
	if m.crashed || m.gone {
		return
	}
	w.setLeaving(name)
	deadline := w.net.Now().Add(limit)
	check := func(now time.Time) {
		if m.gone {
			return
		}
		if m.crashed || !now.Before(deadline) || (w.up(name) && w.view(name).LeavePending() == "") {
			w.crash(name)
			m.gone = true
			w.logf("%s left", name)
		}
	}
	w.hooks = append(w.hooks, check)
}

// setLeaving starts a graceful leave for good (SIGTERM).
func (w *world) setLeaving(name string) {
	m := w.members[name]
	if m.crashed {
		return
	}
	m.core.SetLeaving()
	w.logf("leaving %s", name)
}

func (w *world) setDraining(name string, on bool) {
	m := w.members[name]
	if m.crashed {
		return
	}
	m.core.SetDraining(on)
	w.logf("draining %s %t", name, on)
}

// healAll ends every fault: network healed, paused members resumed, crashed
// ones restarted (keepHard as given), draining ended.
func (w *world) healAll(keepHard bool) {
	w.heal()
	for _, n := range w.names {
		w.restart(n, keepHard)
		w.resume(n)
		if c := w.members[n].core; c.Draining() && !c.Leaving() {
			w.setDraining(n, false)
		}
	}
}

// Queries.

// holders maps each partition to the members whose apps hold it now.
func (w *world) holders() [][]string {
	out := make([][]string, numPartitions)
	for _, n := range w.names {
		for _, h := range w.appHoldings(w.members[n]) {
			out[h.ID] = append(out[h.ID], n)
		}
	}
	return out
}

// covered reports whether every partition is held by exactly one app, that
// of a running member.
func (w *world) covered() bool {
	for _, hs := range w.holders() {
		if len(hs) != 1 || !w.up(hs[0]) {
			return false
		}
	}
	return true
}

// coveredBy is covered with every holder among names.
func (w *world) coveredBy(names []string) bool {
	for _, hs := range w.holders() {
		if len(hs) != 1 || !slices.Contains(names, hs[0]) || !w.up(hs[0]) {
			return false
		}
	}
	return true
}

// ghostsGone reports whether no app works on from a crashed sidecar's lease.
func (w *world) ghostsGone() bool {
	for _, n := range w.names {
		m := w.members[n]
		w.appHoldings(m) // drops an expired ghost
		if len(m.app.ghost) > 0 || (m.crashed && len(w.appHoldings(m)) > 0) {
			return false
		}
	}
	return true
}

// leaders lists the running members that lead with a valid leader lease.
func (w *world) leaders(among []string) []string {
	var out []string
	for _, n := range among {
		if w.up(n) && w.members[n].core.IsLeader(w.now(n)) {
			out = append(out, n)
		}
	}
	return out
}

// leader returns the single valid leader among all members, or "".
func (w *world) leader() string {
	if ls := w.leaders(w.names); len(ls) == 1 {
		return ls[0]
	}
	return ""
}

// view returns name's core view at its clock.
func (w *world) view(name string) core.View { return w.members[name].core.View(w.now(name)) }

// tokens maps partition -> token of what name's app holds.
func (w *world) tokens(name string) map[int]uint64 {
	out := map[int]uint64{}
	for _, h := range w.appHoldings(w.members[name]) {
		out[h.ID] = h.Token
	}
	return out
}

// maxToken is the highest token any interval so far had.
func (w *world) maxToken() uint64 {
	var best uint64
	for p := 0; p < numPartitions; p++ {
		for _, iv := range w.check.Intervals(p) {
			best = max(best, iv.Token)
		}
	}
	return best
}

// others returns the names other than those given.
func (w *world) others(not ...string) []string {
	var out []string
	for _, n := range w.names {
		if !slices.Contains(not, n) {
			out = append(out, n)
		}
	}
	return out
}

// describe summarizes every member's state, for failure reports.
func (w *world) describe() string {
	var b strings.Builder
	for _, n := range w.names {
		m := w.members[n]
		state := "up"
		switch {
		case m.crashed:
			state = "crashed"
		case w.net.Paused(n):
			state = "paused"
		}
		v := m.core.View(w.now(n))
		owners := map[string]int{}
		for _, e := range v.Table.Partitions {
			owners[fmt.Sprintf("%s/%s", e.Owner, e.State)]++
		}
		var alive []string
		for _, mv := range v.Members {
			if mv.Alive {
				alive = append(alive, mv.Name)
			}
		}
		fmt.Fprintf(&b, "%s inc %d %s: %v term %d leader %q table %v members %v voters %v prev %v alive %v lease %v holds %d draining %t owners %v\n",
			n, m.inc, state, v.Role, v.Term, v.Leader, v.Table.ID, v.Table.Members, v.Table.Voters, v.Table.PrevVoters,
			alive, v.LeaseUntil.Sub(w.now(n)), len(v.Holdings), v.Draining, owners)
	}
	return b.String()
}

// requireNoViolations fails the test with the checker's findings.
func (w *world) requireNoViolations() {
	w.t.Helper()
	if vs := w.check.Violations(); len(vs) > 0 {
		w.t.Fatalf("seed %d: %s\ntrace:\n%s", w.seed, ownercheck.Summary(vs, 10), w.dumpTrace(60))
	}
}

// votersLost reports whether the newest configuration any running member
// holds has lost a majority of its voters (or, during a change, of either
// voter set) for good: a voter is gone for good once its member runs under
// another identity (it restarted without its state). No leader is promised
// then (docs/architecture.md).
func (w *world) votersLost() bool {
	var newest partitions.Table
	for _, n := range w.names {
		if !w.up(n) {
			continue
		}
		if t := w.members[n].core.View(w.now(n)).Table; newest.ID.Less(t.ID) {
			newest = t
		}
	}
	kept := func(set []string) bool {
		n := 0
		for _, v := range set {
			for _, name := range w.names {
				if m := w.members[name]; !m.gone && core.ElectionName(name, m.identity) == v {
					n++
				}
			}
		}
		return n > len(set)/2
	}
	return len(newest.Voters) > 0 && (!kept(newest.Voters) || (len(newest.PrevVoters) > 0 && !kept(newest.PrevVoters)))
}
