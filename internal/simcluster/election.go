package simcluster

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simnet"
	"github.com/ringd/ringd/partitions"
)

// ElectionCluster is a simulated cluster of election nodes plus the test's
// knowledge of it: priorities, the configuration, the gossip truth, the
// persisted hard states and the History of everything the nodes did. Build
// it with NewElections; Net is its network, for faults.
type ElectionCluster struct {
	seed   int64
	timing Timing
	Net    *simnet.Network[election.Message]
	cl     *simnet.Cluster[election.Message]

	start   time.Time
	preempt bool
	names   []string // every member, sorted; voters and non-voters
	prio    map[string]int
	config  election.Config

	nodes map[string]*electionMember
	// disk holds each member's persisted HardState, written after every
	// input that changed it (before its messages go out).
	disk map[string]election.HardState
	// diskless members restart without their hard state, with a vote floor
	// above every term used so far (as the daemon without --data-dir).
	diskless map[string]bool
	// amnesia breaks the protocol on purpose (check the checker): a member
	// forgets its term and vote before every (pre-)vote request it handles.
	amnesia bool

	// Gossip truth: a member sees another alive unless the other is dead
	// (for everyone) or hidden from it. view counts changes.
	dead   map[string]bool
	hidden map[[2]string]bool
	view   int

	History *History
	// checks run after every step (simnet.Cluster.Observe) with the global time.
	checks []func(now time.Time)
	// onSend and onRecv, if set, see every message a member sends or gets,
	// with the member's own clock.
	onSend func(name string, now time.Time, m election.Message)
	onRecv func(name string, now time.Time, m election.Message)

	tracer
}

// ElectionSpec describes a member: name and priority.
type ElectionSpec struct {
	Name string
	Prio int
}

// ElectionOption configures an ElectionCluster at NewElections, as Option
// configures a Cluster at New.
type ElectionOption func(*electionOptions)

type electionOptions struct {
	seed      int64
	specs     []ElectionSpec
	noPreempt bool
}

// ElectionSeed makes every random draw of the run (delays, drops, fault
// schedules) come from seed.
func ElectionSeed(seed int64) ElectionOption {
	return func(o *electionOptions) { o.seed = seed }
}

// ElectionMembers adds members as given (see Voters for n alike).
func ElectionMembers(specs ...ElectionSpec) ElectionOption {
	return func(o *electionOptions) { o.specs = append(o.specs, specs...) }
}

// ElectionPreempt turns preemption on or off (it is on by default, as for a
// Cluster): whether a higher-ranked member takes leadership over from a
// lower-ranked leader.
func ElectionPreempt(on bool) ElectionOption {
	return func(o *electionOptions) { o.noPreempt = !on }
}

// NewElections builds a cluster of the given members, every one a voter,
// with the FastElection timing and preemption on unless an option says
// otherwise.
func NewElections(t testing.TB, opts ...ElectionOption) *ElectionCluster {
	t.Helper()
	var o electionOptions
	for _, opt := range opts {
		opt(&o)
	}
	net := simnet.New[election.Message](o.seed)
	c := &ElectionCluster{
		seed: o.seed, timing: FastElection(), Net: net, cl: simnet.NewCluster(net),
		start: net.Now(), preempt: !o.noPreempt,
		tracer: tracer{t: t, start: net.Now(), now: net.Now},
		prio:   map[string]int{}, nodes: map[string]*electionMember{},
		disk: map[string]election.HardState{}, diskless: map[string]bool{},
		dead: map[string]bool{}, hidden: map[[2]string]bool{},
		History: newHistory(),
	}
	for _, s := range o.specs {
		c.prio[s.Name] = s.Prio
		c.names = append(c.names, s.Name)
	}
	sort.Strings(c.names)
	c.config = election.Config{Voters: slices.Clone(c.names)}
	for _, name := range c.names {
		m := c.newMember(name, election.HardState{})
		c.nodes[name] = m
		c.cl.Add(name, m)
	}
	c.cl.Observe = func(now time.Time) {
		for _, check := range c.checks {
			check(now)
		}
	}
	return c
}

// Voters returns names with priorities: a, b, c, ... all at priority prio.
func Voters(n, prio int) []ElectionSpec {
	var out []ElectionSpec
	for i := range n {
		out = append(out, ElectionSpec{string(rune('a' + i)), prio})
	}
	return out
}

func (c *ElectionCluster) options(name string) election.Options {
	tm := c.timing
	return election.Options{
		Self: name, Priority: c.prio[name],
		HeartbeatInterval: tm.HeartbeatInterval, LeaderTimeout: tm.LeaderTimeout,
		ElectionTimeout: tm.ElectionTimeout, LeaderLease: tm.LeaderLease,
		Settle: tm.Settle, Preempt: c.preempt,
	}
}

func (c *ElectionCluster) newMember(name string, hs election.HardState) *electionMember {
	m := &electionMember{c: c, name: name, opt: c.options(name),
		alive: map[string]bool{}, since: map[string]time.Time{}, view: -1,
		lastTerm: hs.Term}
	m.el = election.New(m.opt, hs)
	m.el.SetConfig(c.config, partitions.TableID{})
	if old := c.nodes[name]; old != nil {
		m.inc = old.inc + 1
	}
	return m
}

// Run runs the cluster for d.
func (c *ElectionCluster) Run(d time.Duration) { c.cl.RunFor(d, c.timing.Tick) }

// RunUntil runs until cond holds or limit passes and reports whether it held.
func (c *ElectionCluster) RunUntil(limit time.Duration, cond func() bool) bool {
	return c.cl.RunUntil(limit, c.timing.Tick, cond)
}

// Up reports whether name's process runs (neither crashed nor paused).
func (c *ElectionCluster) Up(name string) bool {
	return !c.Net.Crashed(name) && !c.Net.Paused(name)
}

// Now is name's clock reading.
func (c *ElectionCluster) Now(name string) time.Time { return c.Net.NodeNow(name) }

// Status is name's election status.
func (c *ElectionCluster) Status(name string) election.Status { return c.nodes[name].el.Status() }

// IsLeader reports whether name runs and leads with a valid lease.
func (c *ElectionCluster) IsLeader(name string) bool {
	return c.Up(name) && c.nodes[name].el.IsLeader(c.Now(name))
}

// StableLeader returns the member that leads with a valid lease while every
// other running member follows it in the same term, if there is one.
func (c *ElectionCluster) StableLeader() (string, bool) { return c.StableLeaderAmong(c.names) }

// StableLeaderAmong is stableLeader restricted to a group of members (one
// side of a partition).
func (c *ElectionCluster) StableLeaderAmong(group []string) (string, bool) {
	leader := ""
	for _, name := range group {
		if c.IsLeader(name) {
			if leader != "" {
				return "", false
			}
			leader = name
		}
	}
	if leader == "" {
		return "", false
	}
	term := c.Status(leader).Term
	for _, name := range group {
		if name == leader || !c.Up(name) {
			continue
		}
		st := c.Status(name)
		if st.Role != election.Follower || st.Leader != leader || st.Term != term {
			return "", false
		}
	}
	return leader, true
}

// Leaders returns the running members that hold a valid leader lease now.
func (c *ElectionCluster) Leaders() []string {
	var out []string
	for _, name := range c.names {
		if c.IsLeader(name) {
			out = append(out, name)
		}
	}
	return out
}

// Rightful is the reference for the bully rule: among the given members,
// the one with the highest priority, ties broken by the smaller name.
func Rightful(prio map[string]int, names []string) string {
	best := ""
	for _, n := range names {
		if best == "" || prio[n] > prio[best] || (prio[n] == prio[best] && n < best) {
			best = n
		}
	}
	return best
}

// ---- gossip truth ----

func (c *ElectionCluster) sees(observer, target string) bool {
	if observer == target {
		return true
	}
	return !c.dead[target] && !c.hidden[[2]string{observer, target}]
}

// setDead makes everyone see name dead (true) or alive again (false).
func (c *ElectionCluster) setDead(name string, dead bool) {
	if c.dead[name] != dead {
		c.dead[name] = dead
		c.view++
	}
}

// Hide makes observer see target dead, or alive again.
func (c *ElectionCluster) Hide(observer, target string, hidden bool) {
	k := [2]string{observer, target}
	if c.hidden[k] != hidden {
		if hidden {
			c.hidden[k] = true
		} else {
			delete(c.hidden, k)
		}
		c.view++
	}
}

// GossipPartition makes members of different groups see each other dead.
func (c *ElectionCluster) GossipPartition(groups ...[]string) {
	group := map[string]int{}
	for i, g := range groups {
		for _, n := range g {
			group[n] = i
		}
	}
	for _, a := range c.names {
		for _, b := range c.names {
			ga, oka := group[a]
			gb, okb := group[b]
			if a != b && (!oka || !okb || ga != gb) {
				c.Hide(a, b, true)
			}
		}
	}
}

// GossipHeal clears every hidden pair (dead members stay dead).
func (c *ElectionCluster) GossipHeal() {
	if len(c.hidden) > 0 {
		clear(c.hidden)
		c.view++
	}
}

// ---- faults on processes ----

// Crash kills name's process; gossip notices if noticed is true.
func (c *ElectionCluster) Crash(name string, noticed bool) {
	c.Net.Crash(name)
	if noticed {
		c.setDead(name, true)
	}
	c.Logf("crash %s (gossip notices: %v)", name, noticed)
}

// Restart starts a fresh process for name: with its persisted hard state,
// or, for a diskless member, with none and a vote floor above every term
// used so far (termFloor too if withTermFloor, as the daemon does).
func (c *ElectionCluster) Restart(name string, floorExtra uint64, withTermFloor bool) {
	c.Net.Crash(name) // messages in flight to the old process are lost
	var m *electionMember
	if c.diskless[name] {
		m = c.newMember(name, election.HardState{})
		floor := c.History.MaxTerm + floorExtra
		m.el.SetVoteFloor(floor)
		if withTermFloor {
			m.el.SetTermFloor(floor)
		}
		c.Logf("restart %s without hard state, vote floor %d (term floor: %v)", name, floor, withTermFloor)
	} else {
		hs := c.disk[name]
		m = c.newMember(name, hs)
		c.Logf("restart %s with hard state %+v", name, hs)
	}
	c.nodes[name] = m
	c.cl.Replace(name, m)
	c.setDead(name, false)
}

// ---- member: election.Node as a simnet.Node ----

type electionMember struct {
	c    *ElectionCluster
	name string
	inc  int // incarnation: restarts of this name so far
	opt  election.Options
	el   *election.Node

	// gossip view as last given to the node
	view  int
	born  time.Time
	alive map[string]bool
	since map[string]time.Time

	lastTerm uint64
	out      []simnet.Outgoing[election.Message]
}

var _ simnet.Node[election.Message] = (*electionMember)(nil)

// sync hands the node the gossip truth when it changed since the last input.
func (m *electionMember) sync(now time.Time) {
	if m.born.IsZero() {
		m.born = now
	}
	if m.view == m.c.view {
		return
	}
	m.view = m.c.view
	list := make([]election.Member, 0, len(m.c.names))
	for _, other := range m.c.names {
		alive := m.c.sees(m.name, other)
		if alive && !m.alive[other] {
			m.since[other] = now
		}
		m.alive[other] = alive
		since := m.since[other]
		if other == m.name {
			since = m.born
		}
		list = append(list, election.Member{Name: other, Priority: m.c.prio[other],
			Alive: alive, AliveSince: since})
	}
	m.el.SetMembers(list)
}

// Step hands the node a message from another member, with the gossip view
// brought up to date first.
func (m *electionMember) Step(now time.Time, from string, in election.Message) {
	m.sync(now)
	in.From, in.To = from, m.name
	if m.c.onRecv != nil {
		m.c.onRecv(m.name, now, in)
	}
	if m.c.amnesia && (in.Type == election.MsgVoteRequest || in.Type == election.MsgPreVoteRequest) {
		m.forget()
	}
	m.el.Step(now, in)
	m.after(now)
}

// Tick advances the node's timers, with the gossip view brought up to date
// first.
func (m *electionMember) Tick(now time.Time) {
	m.sync(now)
	m.el.Tick(now)
	m.after(now)
}

// Outbox hands the simulated network the messages queued since the last
// call.
func (m *electionMember) Outbox() []simnet.Outgoing[election.Message] {
	out := m.out
	m.out = nil
	return out
}

// after persists the hard state, records the node's state in the History and
// queues its messages: in that order, as the daemon must.
func (m *electionMember) after(now time.Time) {
	if hs, changed := m.el.HardState(); changed {
		m.c.disk[m.name] = hs
	}
	m.c.History.record(m.c, m, m.el.Status())
	for _, o := range m.el.Outbox() {
		if m.c.onSend != nil {
			m.c.onSend(m.name, now, o)
		}
		m.out = append(m.out, simnet.Outgoing[election.Message]{To: o.To, Msg: o})
	}
}

// forget is the deliberately broken voter: a process restarted without its
// hard state and without a vote floor, before every (pre-)vote request it
// gets, so it remembers neither its term nor its vote.
func (m *electionMember) forget() {
	m.el = election.New(m.opt, election.HardState{})
	m.el.SetConfig(m.c.config, partitions.TableID{})
	m.inc++
	m.lastTerm = 0
	m.view = -1
	m.sync(m.born)
}

// ---- History and checkers ----

// History records, over the whole run and across restarts, the leader of
// every term and every vote of every member, and collects violations of:
//
//   - at most one leader per term,
//   - at most one vote per member and term,
//   - a member's term never decreases (within a process, and across a
//     restart that kept the hard state).
type History struct {
	leaders map[uint64]string            // term -> leader
	votes   map[string]map[uint64]string // member -> term -> voted for
	MaxTerm uint64
	// elections lists (time, term, leader) as leaders appear.
	Elections  []Elected
	Violations []string
	reported   map[string]bool
}

// Elected is a leader seen for the first time in its term, at At since the start.
type Elected struct {
	At     time.Duration
	Term   uint64
	Leader string
}

func newHistory() *History {
	return &History{leaders: map[uint64]string{}, votes: map[string]map[uint64]string{},
		reported: map[string]bool{}}
}

func (h *History) violate(c *ElectionCluster, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if h.reported[what] {
		return // the same state seen again
	}
	h.reported[what] = true
	v := fmt.Sprintf("at %v: %s", c.Elapsed(), what)
	h.Violations = append(h.Violations, v)
	c.Logf("VIOLATION %s", v)
}

func (h *History) record(c *ElectionCluster, m *electionMember, st election.Status) {
	if st.Term < m.lastTerm {
		h.violate(c, "%s (incarnation %d): term went back from %d to %d", m.name, m.inc, m.lastTerm, st.Term)
	}
	m.lastTerm = st.Term
	h.MaxTerm = max(h.MaxTerm, st.Term)
	if st.VotedFor != "" {
		byTerm := h.votes[m.name]
		if byTerm == nil {
			byTerm = map[uint64]string{}
			h.votes[m.name] = byTerm
		}
		if prev, ok := byTerm[st.Term]; ok && prev != st.VotedFor {
			h.violate(c, "%s voted twice in term %d: for %s and for %s", m.name, st.Term, prev, st.VotedFor)
		} else if !ok {
			byTerm[st.Term] = st.VotedFor
		}
	}
	if st.Role == election.Leader {
		if prev, ok := h.leaders[st.Term]; ok && prev != m.name {
			h.violate(c, "two leaders in term %d: %s and %s", st.Term, prev, m.name)
		} else if !ok {
			h.leaders[st.Term] = m.name
			h.Elections = append(h.Elections, Elected{At: c.Elapsed(), Term: st.Term, Leader: m.name})
			c.Logf("%s leads term %d", m.name, st.Term)
		}
	}
}

// DoubleLeader reports whether a "two leaders in one term" violation was seen.
func (h *History) DoubleLeader() bool {
	return slices.ContainsFunc(h.Violations, func(v string) bool { return strings.Contains(v, "two leaders") })
}

// DoubleVote reports whether a "voted twice in one term" violation was seen.
func (h *History) DoubleVote() bool {
	return slices.ContainsFunc(h.Violations, func(v string) bool { return strings.Contains(v, "voted twice") })
}

// LeaderChanges counts how often the leader's identity changed among the
// elections after `after`.
func (h *History) LeaderChanges(after time.Duration) (elections, changes int) {
	prev := ""
	for _, e := range h.Elections {
		if e.At <= after {
			prev = e.Leader
			continue
		}
		elections++
		if e.Leader != prev {
			changes++
		}
		prev = e.Leader
	}
	return elections, changes
}

// RequireClean fails the test with the violations and the end of the trace.
func (c *ElectionCluster) RequireClean() {
	c.t.Helper()
	if len(c.History.Violations) > 0 {
		c.t.Fatalf("seed %d: %d violations, first: %s\ntrace (end):\n%s",
			c.seed, len(c.History.Violations), c.History.Violations[0], c.Trace(40))
	}
}

// SetVoters changes the configuration of every member to the given voters
// (the member set of the table they all know).
func (c *ElectionCluster) SetVoters(names ...string) {
	voters := slices.Sorted(slices.Values(names))
	c.config = election.Config{Voters: voters}
	for _, name := range c.names {
		c.nodes[name].el.SetConfig(c.config, partitions.TableID{})
	}
}

// Seed is the seed of the run.
func (c *ElectionCluster) Seed() int64 { return c.seed }

// Timing is the cluster's timing.
func (c *ElectionCluster) Timing() Timing { return c.timing }

// Start is the global time the run started at.
func (c *ElectionCluster) Start() time.Time { return c.start }

// Preempt reports whether preemption is on.
func (c *ElectionCluster) Preempt() bool { return c.preempt }

// Names returns every member's name, sorted.
func (c *ElectionCluster) Names() []string { return slices.Clone(c.names) }

// Priority is name's priority.
func (c *ElectionCluster) Priority(name string) int { return c.prio[name] }

// Priorities maps every member to its priority.
func (c *ElectionCluster) Priorities() map[string]int { return maps.Clone(c.prio) }

// Node is name's current election state machine.
func (c *ElectionCluster) Node(name string) *election.Node { return c.nodes[name].el }

// SetDiskless makes name restart without its hard state from now on.
func (c *ElectionCluster) SetDiskless(name string) { c.diskless[name] = true }

// Diskless lists the members that restart without their hard state.
func (c *ElectionCluster) Diskless() []string {
	var out []string
	for n, on := range c.diskless {
		if on {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// SetAmnesia breaks the protocol on purpose (check the checker): every
// member forgets its term and vote before every (pre-)vote request.
func (c *ElectionCluster) SetAmnesia(on bool) { c.amnesia = on }

// OnStep adds a check that runs after every step with the global time.
func (c *ElectionCluster) OnStep(check func(now time.Time)) { c.checks = append(c.checks, check) }

// ClearHooks removes every check added with OnStep.
func (c *ElectionCluster) ClearHooks() { c.checks = nil }

// OnSend makes f see every message a member sends, with its clock.
func (c *ElectionCluster) OnSend(f func(name string, now time.Time, m election.Message)) {
	c.onSend = f
}

// OnRecv makes f see every message a member gets, with its clock.
func (c *ElectionCluster) OnRecv(f func(name string, now time.Time, m election.Message)) {
	c.onRecv = f
}

// Paused reports whether name's process is paused (faults.State).
func (c *ElectionCluster) Paused(name string) bool { return c.Net.Paused(name) }

// Crashed reports whether name's process is crashed (faults.State).
func (c *ElectionCluster) Crashed(name string) bool { return c.Net.Crashed(name) }
