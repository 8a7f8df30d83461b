package simcluster

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/internal/simnet"
)

// Settings of every Cluster beside its Timing.
const (
	// Partitions is the partition count of a Cluster.
	Partitions = 32
	// Load is Options.Load of every member.
	Load = 1.25

	// DetectDelay is how long the simulated gossip takes to declare a
	// member dead that cannot be heard (crashed, paused, cut off); it is
	// alive again as soon as it can be heard again.
	DetectDelay = 300 * time.Millisecond

	// DeadVoterTimeout: a voter dead this long is replaced.
	DeadVoterTimeout = time.Second
	// DeadMemberTimeout: a member dead this long is forgotten.
	DeadMemberTimeout = 5 * time.Second

	// termFloorBase makes the simulated wall clock look like Unix time: the
	// term floor is termFloorBase + the member's clock since the start of
	// the run in floor units, seconds by default (the daemon uses
	// time.Now().Unix()).
	termFloorBase = 1_796_000_000_000
)

// Wire is a message on the simulated network: an envelope and whether the
// daemon would send it over the reliable (TCP) channel. Random drops spare
// reliable messages; cuts, partitions, pauses and crashes do not.
type Wire struct {
	env      core.Envelope
	reliable bool
}

type pair struct{ from, to string }

// Cluster is a simulated ringd cluster of protocol cores plus the test's
// knowledge of it. Build it with New; it is driven from the test's goroutine.
type Cluster struct {
	seed   int64
	timing Timing
	net    *simnet.Network[Wire]
	cl     *simnet.Cluster[Wire]
	rng    *rand.Rand // fault schedules
	drops  *rand.Rand // random drops of best-effort messages
	start  time.Time

	members map[string]*Member
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
	// flapHoldDown is Options.FlapHoldDown (Settings.FlapHoldDown).
	flapHoldDown time.Duration
	// moveBudget and moveCooldown are Settings'.
	moveBudget   int
	moveCooldown time.Duration
	standbys     int

	// Network faults as the harness set them (simnet keeps its own copy).
	dropFrac    map[pair]float64
	cuts        map[pair]bool
	isolated    map[string]bool
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
	// heardRestart is the rejoin grace a restarting subject asked for (0:
	// not restarting).
	heardRestart map[pair]time.Duration

	// hadTable: some member applied a table once (a cluster was formed).
	hadTable bool

	check *ownercheck.Checker
	// events are scheduled actions, run at the first step at or after At.
	events []event
	// hooks run after every step (after the checker's observation).
	hooks []func(now time.Time)
	// onView, if set, sees every view an app reads, before it acknowledges.
	onView func(m *Member, v core.View)

	tracer
}

type event struct {
	at   time.Time
	name string
	do   func()
}

// Option configures a Cluster at New.
type Option func(*options)

type options struct {
	seed     int64
	specs    []MemberSpec
	settings Settings
}

// Settings are the cluster-wide settings of a Cluster.
type Settings struct {
	// NoPreempt turns preemption off (it is on by default).
	NoPreempt bool
	// AppOutlivesCrash: a crashed sidecar's app keeps working until the
	// lease it was told ends.
	AppOutlivesCrash bool
	// Voters is Options.Voters; zero means the default.
	Voters int
	// FloorUnit is the resolution of the simulated wall clock behind term
	// and vote floors; zero means time.Millisecond, as the daemon.
	FloorUnit time.Duration
	// FlapHoldDown is Options.FlapHoldDown of every member; zero turns flap
	// damping off (the Fast timing leaves it off, so that other tests'
	// bounds stay those of a returning member waiting Settle).
	FlapHoldDown time.Duration
	// MoveBudget and MoveCooldown are those Options of every member (zero:
	// off).
	MoveBudget   int
	MoveCooldown time.Duration
	// Standbys is Options.Standbys of every member (zero: none).
	Standbys int
}

// Seed makes every random draw of the run (delays, drops, fault schedules)
// come from seed.
func Seed(seed int64) Option { return func(o *options) { o.seed = seed } }

// Size adds n default members m0..m(n-1) (see Specs).
func Size(n int) Option { return Members(Specs(n)...) }

// Members adds members as given.
func Members(specs ...MemberSpec) Option {
	return func(o *options) { o.specs = append(o.specs, specs...) }
}

// With sets the cluster-wide settings.
func With(s Settings) Option { return func(o *options) { o.settings = s } }

// Specs returns n default members m0..m(n-1): no drift, no disk, prompt apps.
func Specs(n int) []MemberSpec {
	out := make([]MemberSpec, n)
	for i := range out {
		out[i] = MemberSpec{Name: fmt.Sprintf("m%d", i)}
	}
	return out
}

// DiskSpecs is Specs(n) with every member keeping its durable state
// (MemberSpec.Disk): restarts hand it back.
func DiskSpecs(n int) []MemberSpec {
	out := Specs(n)
	for i := range out {
		out[i].Disk = true
	}
	return out
}

// New builds and starts a cluster of the given members, all joined and
// bootstrapping with BootstrapExpect = the number of members, with the Fast
// timing and preemption on unless Settings say otherwise.
func New(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	net := simnet.New[Wire](o.seed)
	c := &Cluster{
		seed: o.seed, timing: Fast(), net: net, cl: simnet.NewCluster(net),
		rng:   rand.New(rand.NewPCG(uint64(o.seed), 0x5eed)),
		drops: rand.New(rand.NewPCG(uint64(o.seed), 0xd509)),
		start: net.Now(), tracer: tracer{t: t, start: net.Now(), now: net.Now},
		expect: len(o.specs), voters: o.settings.Voters, preempt: !o.settings.NoPreempt,
		appOutlivesCrash: o.settings.AppOutlivesCrash,
		floorUnit:        cmp.Or(o.settings.FloorUnit, time.Millisecond),
		flapHoldDown:     o.settings.FlapHoldDown,
		moveBudget:       o.settings.MoveBudget,
		moveCooldown:     o.settings.MoveCooldown,
		standbys:         o.settings.Standbys,
		members:          map[string]*Member{},
		dropFrac:         map[pair]float64{}, cuts: map[pair]bool{}, isolated: map[string]bool{},
		lastHeard: map[pair]time.Time{}, heardInc: map[pair]uint64{}, heardID: map[pair]uint64{},
		heardDraining: map[pair]bool{}, heardLeaving: map[pair]bool{}, heardHasTable: map[pair]bool{},
		heardRestart: map[pair]time.Duration{},
		check:        ownercheck.New(Partitions),
	}
	net.SetDefaultDelay(time.Millisecond, 5*time.Millisecond)
	net.SetFilter(func(from, to string, msg Wire) bool {
		if msg.reliable {
			return true
		}
		f := c.dropFrac[pair{from, to}]
		return f <= 0 || c.drops.Float64() >= f
	})
	c.cl.Observe = c.observe
	for _, s := range o.specs {
		c.Add(s)
	}
	return c
}

// Seed is the seed of the run.
func (c *Cluster) Seed() int64 { return c.seed }

// Timing is the cluster's timing.
func (c *Cluster) Timing() Timing { return c.timing }

// Preempt reports whether preemption is on.
func (c *Cluster) Preempt() bool { return c.preempt }

// AppOutlivesCrash reports whether a crashed sidecar's app works on until its
// lease ends.
func (c *Cluster) AppOutlivesCrash() bool { return c.appOutlivesCrash }

// SetAppOutlivesCrash changes that from now on.
func (c *Cluster) SetAppOutlivesCrash(on bool) { c.appOutlivesCrash = on }

// Rand is a random source for the test's own draws (fault schedules),
// derived from the seed.
func (c *Cluster) Rand() *rand.Rand { return c.rng }

// Checker is the ownership checker fed after every step.
func (c *Cluster) Checker() *ownercheck.Checker { return c.check }

// Names returns every member's name, sorted.
func (c *Cluster) Names() []string { return slices.Clone(c.names) }

// Member returns the member called name, or nil.
func (c *Cluster) Member(name string) *Member { return c.members[name] }

// GlobalNow is the global virtual time.
func (c *Cluster) GlobalNow() time.Time { return c.net.Now() }

// Now is name's clock reading.
func (c *Cluster) Now(name string) time.Time { return c.net.NodeNow(name) }

// Up reports whether name's process runs (neither crashed nor paused).
func (c *Cluster) Up(name string) bool {
	return !c.members[name].crashed && !c.net.Paused(name)
}

// Paused reports whether name's process is paused.
func (c *Cluster) Paused(name string) bool { return c.net.Paused(name) }

// At schedules an action at global time start+d.
func (c *Cluster) At(d time.Duration, name string, do func()) {
	c.events = append(c.events, event{at: c.start.Add(d), name: name, do: do})
	sort.SliceStable(c.events, func(i, j int) bool { return c.events[i].at.Before(c.events[j].at) })
}

// PendingEvents is how many scheduled actions have not run yet.
func (c *Cluster) PendingEvents() int { return len(c.events) }

// CancelEvents drops every scheduled action that has not run yet.
func (c *Cluster) CancelEvents() { c.events = nil }

// OnStep adds a hook that runs after every step (after the checker's
// observation), with the global time.
func (c *Cluster) OnStep(hook func(now time.Time)) { c.hooks = append(c.hooks, hook) }

// ClearHooks removes every hook added with OnStep (and the hooks of Leave).
func (c *Cluster) ClearHooks() { c.hooks = nil }

// OnView makes f see every view an app reads, before it acknowledges.
func (c *Cluster) OnView(f func(m *Member, v core.View)) { c.onView = f }

// Run runs the cluster for d.
func (c *Cluster) Run(d time.Duration) { c.cl.RunFor(d, c.timing.Tick) }

// RunUntil runs until cond holds or limit passes and reports whether it held.
func (c *Cluster) RunUntil(limit time.Duration, cond func() bool) bool {
	return c.cl.RunUntil(limit, c.timing.Tick, cond)
}

// observe runs after every step: apps, checker, hooks, then the events
// scheduled for now, and gossip. The apps read their sidecars' views
// before an event acts: a sidecar paused or crashed at now ran the step
// before, and its app saw what that step did (a lease it renewed), as a real
// app polling it would have. Read after the event, the app kept an older
// deadline than its sidecar, stopped at it, and took the same grant up
// again at the resume: a relisting no sidecar made.
func (c *Cluster) observe(now time.Time) {
	for _, name := range c.names {
		m := c.members[name]
		c.runApp(m, now)
		c.check.Observe(now, name, c.appHoldings(m))
		c.traceChanges(m)
	}
	for _, h := range c.hooks {
		h(now)
	}
	for len(c.events) > 0 && !c.events[0].at.After(now) {
		e := c.events[0]
		c.events = c.events[1:]
		c.Logf("event: %s", e.name)
		e.do()
	}
	c.gossip(now)
}

// RequireNoViolations fails the test with the checker's findings.
func (c *Cluster) RequireNoViolations() {
	c.t.Helper()
	if vs := c.check.Violations(); len(vs) > 0 {
		c.t.Fatalf("seed %d: %s\ntrace:\n%s", c.seed, ownercheck.Summary(vs, 10), c.Trace(60))
	}
}
