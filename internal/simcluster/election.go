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
	c      *simnet.Cluster[election.Message]

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

// NewElections builds a cluster where every member is a voter, with the
// FastElection timing.
func NewElections(t testing.TB, seed int64, preempt bool, members ...ElectionSpec) *ElectionCluster {
	t.Helper()
	net := simnet.New[election.Message](seed)
	w := &ElectionCluster{
		seed: seed, timing: FastElection(), Net: net, c: simnet.NewCluster(net),
		start: net.Now(), preempt: preempt,
		tracer: tracer{t: t, start: net.Now(), now: net.Now},
		prio:   map[string]int{}, nodes: map[string]*electionMember{},
		disk: map[string]election.HardState{}, diskless: map[string]bool{},
		dead: map[string]bool{}, hidden: map[[2]string]bool{},
		History: newHistory(),
	}
	for _, s := range members {
		w.prio[s.Name] = s.Prio
		w.names = append(w.names, s.Name)
	}
	sort.Strings(w.names)
	w.config = election.Config{Voters: slices.Clone(w.names)}
	for _, name := range w.names {
		m := w.newMember(name, election.HardState{})
		w.nodes[name] = m
		w.c.Add(name, m)
	}
	w.c.Observe = func(now time.Time) {
		for _, check := range w.checks {
			check(now)
		}
	}
	return w
}

// Voters returns names with priorities: a, b, c, ... all at priority prio.
func Voters(n, prio int) []ElectionSpec {
	var out []ElectionSpec
	for i := range n {
		out = append(out, ElectionSpec{string(rune('a' + i)), prio})
	}
	return out
}

func (w *ElectionCluster) options(name string) election.Options {
	tm := w.timing
	return election.Options{
		Self: name, Priority: w.prio[name],
		HeartbeatInterval: tm.HeartbeatInterval, LeaderTimeout: tm.LeaderTimeout,
		ElectionTimeout: tm.ElectionTimeout, LeaderLease: tm.LeaderLease,
		Settle: tm.Settle, Preempt: w.preempt,
	}
}

func (w *ElectionCluster) newMember(name string, hs election.HardState) *electionMember {
	m := &electionMember{w: w, name: name, opt: w.options(name),
		alive: map[string]bool{}, since: map[string]time.Time{}, view: -1,
		lastTerm: hs.Term}
	m.el = election.New(m.opt, hs)
	m.el.SetConfig(w.config, partitions.TableID{})
	if old := w.nodes[name]; old != nil {
		m.inc = old.inc + 1
	}
	return m
}

// Run runs the cluster for d.
func (w *ElectionCluster) Run(d time.Duration) { w.c.RunFor(d, w.timing.Tick) }

// RunUntil runs until cond holds or limit passes and reports whether it held.
func (w *ElectionCluster) RunUntil(limit time.Duration, cond func() bool) bool {
	return w.c.RunUntil(limit, w.timing.Tick, cond)
}

// Up reports whether name's process runs (neither crashed nor paused).
func (w *ElectionCluster) Up(name string) bool {
	return !w.Net.Crashed(name) && !w.Net.Paused(name)
}

// Now is name's clock reading.
func (w *ElectionCluster) Now(name string) time.Time { return w.Net.NodeNow(name) }

// Status is name's election status.
func (w *ElectionCluster) Status(name string) election.Status { return w.nodes[name].el.Status() }

// IsLeader reports whether name runs and leads with a valid lease.
func (w *ElectionCluster) IsLeader(name string) bool {
	return w.Up(name) && w.nodes[name].el.IsLeader(w.Now(name))
}

// StableLeader returns the member that leads with a valid lease while every
// other running member follows it in the same term, if there is one.
func (w *ElectionCluster) StableLeader() (string, bool) { return w.StableLeaderAmong(w.names) }

// StableLeaderAmong is stableLeader restricted to a group of members (one
// side of a partition).
func (w *ElectionCluster) StableLeaderAmong(group []string) (string, bool) {
	leader := ""
	for _, name := range group {
		if w.IsLeader(name) {
			if leader != "" {
				return "", false
			}
			leader = name
		}
	}
	if leader == "" {
		return "", false
	}
	term := w.Status(leader).Term
	for _, name := range group {
		if name == leader || !w.Up(name) {
			continue
		}
		st := w.Status(name)
		if st.Role != election.Follower || st.Leader != leader || st.Term != term {
			return "", false
		}
	}
	return leader, true
}

// Leaders returns the running members that hold a valid leader lease now.
func (w *ElectionCluster) Leaders() []string {
	var out []string
	for _, name := range w.names {
		if w.IsLeader(name) {
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

func (w *ElectionCluster) sees(observer, target string) bool {
	if observer == target {
		return true
	}
	return !w.dead[target] && !w.hidden[[2]string{observer, target}]
}

// setDead makes everyone see name dead (true) or alive again (false).
func (w *ElectionCluster) setDead(name string, dead bool) {
	if w.dead[name] != dead {
		w.dead[name] = dead
		w.view++
	}
}

// Hide makes observer see target dead, or alive again.
func (w *ElectionCluster) Hide(observer, target string, hidden bool) {
	k := [2]string{observer, target}
	if w.hidden[k] != hidden {
		if hidden {
			w.hidden[k] = true
		} else {
			delete(w.hidden, k)
		}
		w.view++
	}
}

// GossipPartition makes members of different groups see each other dead.
func (w *ElectionCluster) GossipPartition(groups ...[]string) {
	group := map[string]int{}
	for i, g := range groups {
		for _, n := range g {
			group[n] = i
		}
	}
	for _, a := range w.names {
		for _, b := range w.names {
			ga, oka := group[a]
			gb, okb := group[b]
			if a != b && (!oka || !okb || ga != gb) {
				w.Hide(a, b, true)
			}
		}
	}
}

// GossipHeal clears every hidden pair (dead members stay dead).
func (w *ElectionCluster) GossipHeal() {
	if len(w.hidden) > 0 {
		clear(w.hidden)
		w.view++
	}
}

// ---- faults on processes ----

// Crash kills name's process; gossip notices if noticed is true.
func (w *ElectionCluster) Crash(name string, noticed bool) {
	w.Net.Crash(name)
	if noticed {
		w.setDead(name, true)
	}
	w.Logf("crash %s (gossip notices: %v)", name, noticed)
}

// Restart starts a fresh process for name: with its persisted hard state,
// or, for a diskless member, with none and a vote floor above every term
// used so far (termFloor too if withTermFloor, as the daemon does).
func (w *ElectionCluster) Restart(name string, floorExtra uint64, withTermFloor bool) {
	w.Net.Crash(name) // messages in flight to the old process are lost
	var m *electionMember
	if w.diskless[name] {
		m = w.newMember(name, election.HardState{})
		floor := w.History.MaxTerm + floorExtra
		m.el.SetVoteFloor(floor)
		if withTermFloor {
			m.el.SetTermFloor(floor)
		}
		w.Logf("restart %s without hard state, vote floor %d (term floor: %v)", name, floor, withTermFloor)
	} else {
		hs := w.disk[name]
		m = w.newMember(name, hs)
		w.Logf("restart %s with hard state %+v", name, hs)
	}
	w.nodes[name] = m
	w.c.Replace(name, m)
	w.setDead(name, false)
}

// ---- member: election.Node as a simnet.Node ----

type electionMember struct {
	w    *ElectionCluster
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
	if m.view == m.w.view {
		return
	}
	m.view = m.w.view
	list := make([]election.Member, 0, len(m.w.names))
	for _, other := range m.w.names {
		alive := m.w.sees(m.name, other)
		if alive && !m.alive[other] {
			m.since[other] = now
		}
		m.alive[other] = alive
		since := m.since[other]
		if other == m.name {
			since = m.born
		}
		list = append(list, election.Member{Name: other, Priority: m.w.prio[other],
			Alive: alive, AliveSince: since})
	}
	m.el.SetMembers(list)
}

func (m *electionMember) Step(now time.Time, from string, in election.Message) {
	m.sync(now)
	in.From, in.To = from, m.name
	if m.w.onRecv != nil {
		m.w.onRecv(m.name, now, in)
	}
	if m.w.amnesia && (in.Type == election.MsgVoteRequest || in.Type == election.MsgPreVoteRequest) {
		m.forget()
	}
	m.el.Step(now, in)
	m.after(now)
}

func (m *electionMember) Tick(now time.Time) {
	m.sync(now)
	m.el.Tick(now)
	m.after(now)
}

func (m *electionMember) Outbox() []simnet.Outgoing[election.Message] {
	out := m.out
	m.out = nil
	return out
}

// after persists the hard state, records the node's state in the History and
// queues its messages: in that order, as the daemon must.
func (m *electionMember) after(now time.Time) {
	if hs, changed := m.el.HardState(); changed {
		m.w.disk[m.name] = hs
	}
	m.w.History.record(m.w, m, m.el.Status())
	for _, o := range m.el.Outbox() {
		if m.w.onSend != nil {
			m.w.onSend(m.name, now, o)
		}
		m.out = append(m.out, simnet.Outgoing[election.Message]{To: o.To, Msg: o})
	}
}

// forget is the deliberately broken voter: a process restarted without its
// hard state and without a vote floor, before every (pre-)vote request it
// gets, so it remembers neither its term nor its vote.
func (m *electionMember) forget() {
	m.el = election.New(m.opt, election.HardState{})
	m.el.SetConfig(m.w.config, partitions.TableID{})
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

func (h *History) violate(w *ElectionCluster, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if h.reported[what] {
		return // the same state seen again
	}
	h.reported[what] = true
	v := fmt.Sprintf("at %v: %s", w.Elapsed(), what)
	h.Violations = append(h.Violations, v)
	w.Logf("VIOLATION %s", v)
}

func (h *History) record(w *ElectionCluster, m *electionMember, st election.Status) {
	if st.Term < m.lastTerm {
		h.violate(w, "%s (incarnation %d): term went back from %d to %d", m.name, m.inc, m.lastTerm, st.Term)
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
			h.violate(w, "%s voted twice in term %d: for %s and for %s", m.name, st.Term, prev, st.VotedFor)
		} else if !ok {
			byTerm[st.Term] = st.VotedFor
		}
	}
	if st.Role == election.Leader {
		if prev, ok := h.leaders[st.Term]; ok && prev != m.name {
			h.violate(w, "two leaders in term %d: %s and %s", st.Term, prev, m.name)
		} else if !ok {
			h.leaders[st.Term] = m.name
			h.Elections = append(h.Elections, Elected{At: w.Elapsed(), Term: st.Term, Leader: m.name})
			w.Logf("%s leads term %d", m.name, st.Term)
		}
	}
}

// DoubleLeader reports whether a "two leaders in one term" violation was seen.
func (h *History) DoubleLeader() bool {
	return slices.ContainsFunc(h.Violations, func(v string) bool { return strings.Contains(v, "two leaders") })
}

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
func (w *ElectionCluster) RequireClean() {
	w.t.Helper()
	if len(w.History.Violations) > 0 {
		w.t.Fatalf("seed %d: %d violations, first: %s\ntrace (end):\n%s",
			w.seed, len(w.History.Violations), w.History.Violations[0], w.Trace(40))
	}
}

// SetVoters changes the configuration of every member to the given voters
// (the member set of the table they all know).
func (w *ElectionCluster) SetVoters(names ...string) {
	voters := slices.Sorted(slices.Values(names))
	w.config = election.Config{Voters: voters}
	for _, name := range w.names {
		w.nodes[name].el.SetConfig(w.config, partitions.TableID{})
	}
}

// RecordStatus hands the history a status of name as if its node had just
// reported it (check the checker with hand-made histories).
func (w *ElectionCluster) RecordStatus(name string, st election.Status) {
	w.History.record(w, w.nodes[name], st)
}

// Seed is the seed of the run.
func (w *ElectionCluster) Seed() int64 { return w.seed }

// Timing is the cluster's timing.
func (w *ElectionCluster) Timing() Timing { return w.timing }

// Start is the global time the run started at.
func (w *ElectionCluster) Start() time.Time { return w.start }

// Preempt reports whether preemption is on.
func (w *ElectionCluster) Preempt() bool { return w.preempt }

// Names returns every member's name, sorted.
func (w *ElectionCluster) Names() []string { return slices.Clone(w.names) }

// Priority is name's priority.
func (w *ElectionCluster) Priority(name string) int { return w.prio[name] }

// Priorities maps every member to its priority.
func (w *ElectionCluster) Priorities() map[string]int { return maps.Clone(w.prio) }

// Node is name's current election state machine.
func (w *ElectionCluster) Node(name string) *election.Node { return w.nodes[name].el }

// SetDiskless makes name restart without its hard state from now on.
func (w *ElectionCluster) SetDiskless(name string) { w.diskless[name] = true }

// Diskless lists the members that restart without their hard state.
func (w *ElectionCluster) Diskless() []string {
	var out []string
	for n, on := range w.diskless {
		if on {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// SetAmnesia breaks the protocol on purpose (check the checker): every
// member forgets its term and vote before every (pre-)vote request.
func (w *ElectionCluster) SetAmnesia(on bool) { w.amnesia = on }

// OnStep adds a check that runs after every step with the global time.
func (w *ElectionCluster) OnStep(check func(now time.Time)) { w.checks = append(w.checks, check) }

// ClearHooks removes every check added with OnStep.
func (w *ElectionCluster) ClearHooks() { w.checks = nil }

// OnSend makes f see every message a member sends, with its clock.
func (w *ElectionCluster) OnSend(f func(name string, now time.Time, m election.Message)) {
	w.onSend = f
}

// OnRecv makes f see every message a member gets, with its clock.
func (w *ElectionCluster) OnRecv(f func(name string, now time.Time, m election.Message)) {
	w.onRecv = f
}

// Paused reports whether name's process is paused (faults.State).
func (w *ElectionCluster) Paused(name string) bool { return w.Net.Paused(name) }

// Crashed reports whether name's process is crashed (faults.State).
func (w *ElectionCluster) Crashed(name string) bool { return w.Net.Crashed(name) }
