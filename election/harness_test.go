package election_test

// The harness runs election.Node state machines as simnet nodes, with a
// "gossip truth" that the test controls, and records what it sees in a
// history that the checkers judge. Everything is single-goroutine and
// deterministic for a given seed.

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simnet"
	"github.com/ringd/ringd/partitions"
)

var seedFlag = flag.Int64("seed", 0,
	"replay one seeded election run (randomized safety test) with this seed and log its trace")

// Protocol timing used by every test: a virtual tick of 10ms and the
// election's timeouts. LeaderLease < LeaderTimeout: a follower that acked a
// heartbeat refuses other candidates for longer than the leader trusts that
// ack.
const (
	tick            = 10 * time.Millisecond
	heartbeat       = 50 * time.Millisecond
	leaderTimeout   = 300 * time.Millisecond
	electionTimeout = 100 * time.Millisecond
	leaderLease     = 250 * time.Millisecond
	settle          = 500 * time.Millisecond
)

type msg = election.Message

// world is a simulated cluster of election nodes plus the test's knowledge of
// it: priorities, the configuration, the gossip truth, the persisted hard
// states and the history of everything the nodes did.
type world struct {
	t    testing.TB
	seed int64
	net  *simnet.Network[msg]
	c    *simnet.Cluster[msg]

	start   time.Time
	preempt bool
	names   []string // every member, sorted; voters and non-voters
	prio    map[string]int
	config  election.Config

	nodes map[string]*member
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

	hist *history
	// checks run after every step (Cluster.Observe) with the global time.
	checks []func(now time.Time)
	// onSend and onRecv, if set, see every message a member sends or gets,
	// with the member's own clock.
	onSend func(name string, now time.Time, m msg)
	onRecv func(name string, now time.Time, m msg)

	trace []string
	// verbose logs the trace as it happens (when replaying one seed).
	verbose bool
}

// spec describes a member: name and priority.
type spec struct {
	name string
	prio int
}

// newWorld builds a cluster where every member is a voter.
func newWorld(t testing.TB, seed int64, preempt bool, members ...spec) *world {
	t.Helper()
	net := simnet.New[msg](seed)
	w := &world{
		t: t, seed: seed, net: net, c: simnet.NewCluster(net),
		start: net.Now(), preempt: preempt,
		prio: map[string]int{}, nodes: map[string]*member{},
		disk: map[string]election.HardState{}, diskless: map[string]bool{},
		dead: map[string]bool{}, hidden: map[[2]string]bool{},
		hist: newHistory(),
	}
	for _, s := range members {
		w.prio[s.name] = s.prio
		w.names = append(w.names, s.name)
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

// voters returns names with priorities: a, b, c, ... all at priority prio.
func voters(n, prio int) []spec {
	var out []spec
	for i := range n {
		out = append(out, spec{string(rune('a' + i)), prio})
	}
	return out
}

func (w *world) options(name string) election.Options {
	return election.Options{
		Self: name, Priority: w.prio[name],
		HeartbeatInterval: heartbeat, LeaderTimeout: leaderTimeout,
		ElectionTimeout: electionTimeout, LeaderLease: leaderLease,
		Settle: settle, Preempt: w.preempt,
	}
}

func (w *world) newMember(name string, hs election.HardState) *member {
	m := &member{w: w, name: name, opt: w.options(name),
		alive: map[string]bool{}, since: map[string]time.Time{}, view: -1,
		lastTerm: hs.Term}
	m.el = election.New(m.opt, hs)
	m.el.SetConfig(w.config, partitions.TableID{})
	if old := w.nodes[name]; old != nil {
		m.inc = old.inc + 1
	}
	return m
}

// logf adds a line to the trace, stamped with the virtual time since start.
func (w *world) logf(format string, args ...any) {
	line := fmt.Sprintf("%8v  ", w.elapsed()) + fmt.Sprintf(format, args...)
	w.trace = append(w.trace, line)
	if w.verbose {
		w.t.Log(line)
	}
}

func (w *world) elapsed() time.Duration { return w.net.Now().Sub(w.start) }

// dumpTrace returns the last n lines of the trace.
func (w *world) dumpTrace(n int) string {
	tr := w.trace
	if len(tr) > n {
		tr = tr[len(tr)-n:]
	}
	return strings.Join(tr, "\n")
}

// run runs the cluster for d.
func (w *world) run(d time.Duration) { w.c.RunFor(d, tick) }

// runUntil runs until cond holds or limit passes and reports whether it held.
func (w *world) runUntil(limit time.Duration, cond func() bool) bool {
	return w.c.RunUntil(limit, tick, cond)
}

// up reports whether name's process runs (neither crashed nor paused).
func (w *world) up(name string) bool {
	return !w.net.Crashed(name) && !w.net.Paused(name)
}

func (w *world) now(name string) time.Time { return w.net.NodeNow(name) }

func (w *world) status(name string) election.Status { return w.nodes[name].el.Status() }

func (w *world) isLeader(name string) bool {
	return w.up(name) && w.nodes[name].el.IsLeader(w.now(name))
}

// stableLeader returns the member that leads with a valid lease while every
// other running member follows it in the same term, if there is one.
func (w *world) stableLeader() (string, bool) { return w.stableLeaderAmong(w.names) }

// stableLeaderAmong is stableLeader restricted to a group of members (one
// side of a partition).
func (w *world) stableLeaderAmong(group []string) (string, bool) {
	leader := ""
	for _, name := range group {
		if w.isLeader(name) {
			if leader != "" {
				return "", false
			}
			leader = name
		}
	}
	if leader == "" {
		return "", false
	}
	term := w.status(leader).Term
	for _, name := range group {
		if name == leader || !w.up(name) {
			continue
		}
		st := w.status(name)
		if st.Role != election.Follower || st.Leader != leader || st.Term != term {
			return "", false
		}
	}
	return leader, true
}

// leaders returns the running members that hold a valid leader lease now.
func (w *world) leaders() []string {
	var out []string
	for _, name := range w.names {
		if w.isLeader(name) {
			out = append(out, name)
		}
	}
	return out
}

// rightful is the reference for the bully rule: among the given members,
// the one with the highest priority, ties broken by the smaller name.
func rightful(prio map[string]int, names []string) string {
	best := ""
	for _, n := range names {
		if best == "" || prio[n] > prio[best] || (prio[n] == prio[best] && n < best) {
			best = n
		}
	}
	return best
}

// ---- gossip truth ----

func (w *world) sees(observer, target string) bool {
	if observer == target {
		return true
	}
	return !w.dead[target] && !w.hidden[[2]string{observer, target}]
}

// setDead makes everyone see name dead (true) or alive again (false).
func (w *world) setDead(name string, dead bool) {
	if w.dead[name] != dead {
		w.dead[name] = dead
		w.view++
	}
}

// hide makes observer see target dead, or alive again.
func (w *world) hide(observer, target string, hidden bool) {
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

// gossipPartition makes members of different groups see each other dead.
func (w *world) gossipPartition(groups ...[]string) {
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
				w.hide(a, b, true)
			}
		}
	}
}

// gossipHeal clears every hidden pair (dead members stay dead).
func (w *world) gossipHeal() {
	if len(w.hidden) > 0 {
		clear(w.hidden)
		w.view++
	}
}

// ---- faults on processes ----

// crash kills name's process; gossip notices if noticed is true.
func (w *world) crash(name string, noticed bool) {
	w.net.Crash(name)
	if noticed {
		w.setDead(name, true)
	}
	w.logf("crash %s (gossip notices: %v)", name, noticed)
}

// restart starts a fresh process for name: with its persisted hard state,
// or, for a diskless member, with none and a vote floor above every term
// used so far (termFloor too if withTermFloor, as the daemon does).
func (w *world) restart(name string, floorExtra uint64, withTermFloor bool) {
	w.net.Crash(name) // messages in flight to the old process are lost
	var m *member
	if w.diskless[name] {
		m = w.newMember(name, election.HardState{})
		floor := w.hist.maxTerm + floorExtra
		m.el.SetVoteFloor(floor)
		if withTermFloor {
			m.el.SetTermFloor(floor)
		}
		w.logf("restart %s without hard state, vote floor %d (term floor: %v)", name, floor, withTermFloor)
	} else {
		hs := w.disk[name]
		m = w.newMember(name, hs)
		w.logf("restart %s with hard state %+v", name, hs)
	}
	w.nodes[name] = m
	w.c.Replace(name, m)
	w.setDead(name, false)
}

// ---- member: election.Node as a simnet.Node ----

type member struct {
	w    *world
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
	out      []simnet.Outgoing[msg]
}

var _ simnet.Node[msg] = (*member)(nil)

// sync hands the node the gossip truth when it changed since the last input.
func (m *member) sync(now time.Time) {
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

func (m *member) Step(now time.Time, from string, in msg) {
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

func (m *member) Tick(now time.Time) {
	m.sync(now)
	m.el.Tick(now)
	m.after(now)
}

func (m *member) Outbox() []simnet.Outgoing[msg] {
	out := m.out
	m.out = nil
	return out
}

// after persists the hard state, records the node's state in the history and
// queues its messages: in that order, as the daemon must.
func (m *member) after(now time.Time) {
	if hs, changed := m.el.HardState(); changed {
		m.w.disk[m.name] = hs
	}
	m.w.hist.record(m.w, m, m.el.Status())
	for _, o := range m.el.Outbox() {
		if m.w.onSend != nil {
			m.w.onSend(m.name, now, o)
		}
		m.out = append(m.out, simnet.Outgoing[msg]{To: o.To, Msg: o})
	}
}

// forget is the deliberately broken voter: a process restarted without its
// hard state and without a vote floor, before every (pre-)vote request it
// gets, so it remembers neither its term nor its vote.
func (m *member) forget() {
	m.el = election.New(m.opt, election.HardState{})
	m.el.SetConfig(m.w.config, partitions.TableID{})
	m.inc++
	m.lastTerm = 0
	m.view = -1
	m.sync(m.born)
}

// ---- history and checkers ----

// history records, over the whole run and across restarts, the leader of
// every term and every vote of every member, and collects violations of:
//
//   - at most one leader per term,
//   - at most one vote per member and term,
//   - a member's term never decreases (within a process, and across a
//     restart that kept the hard state).
type history struct {
	leaders map[uint64]string            // term -> leader
	votes   map[string]map[uint64]string // member -> term -> voted for
	maxTerm uint64
	// elections lists (time, term, leader) as leaders appear.
	elections  []elected
	violations []string
	reported   map[string]bool
}

type elected struct {
	at     time.Duration
	term   uint64
	leader string
}

func newHistory() *history {
	return &history{leaders: map[uint64]string{}, votes: map[string]map[uint64]string{},
		reported: map[string]bool{}}
}

func (h *history) violate(w *world, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if h.reported[what] {
		return // the same state seen again
	}
	h.reported[what] = true
	v := fmt.Sprintf("at %v: %s", w.elapsed(), what)
	h.violations = append(h.violations, v)
	w.logf("VIOLATION %s", v)
}

func (h *history) record(w *world, m *member, st election.Status) {
	if st.Term < m.lastTerm {
		h.violate(w, "%s (incarnation %d): term went back from %d to %d", m.name, m.inc, m.lastTerm, st.Term)
	}
	m.lastTerm = st.Term
	h.maxTerm = max(h.maxTerm, st.Term)
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
			h.elections = append(h.elections, elected{w.elapsed(), st.Term, m.name})
			w.logf("%s leads term %d", m.name, st.Term)
		}
	}
}

// doubleLeader reports whether a "two leaders in one term" violation was seen.
func (h *history) doubleLeader() bool {
	return slices.ContainsFunc(h.violations, func(v string) bool { return strings.Contains(v, "two leaders") })
}

func (h *history) doubleVote() bool {
	return slices.ContainsFunc(h.violations, func(v string) bool { return strings.Contains(v, "voted twice") })
}

// leaderChanges counts how often the leader's identity changed among the
// elections after `after`.
func (h *history) leaderChanges(after time.Duration) (elections, changes int) {
	prev := ""
	for _, e := range h.elections {
		if e.at <= after {
			prev = e.leader
			continue
		}
		elections++
		if e.leader != prev {
			changes++
		}
		prev = e.leader
	}
	return elections, changes
}

// requireClean fails the test with the violations and the end of the trace.
func (w *world) requireClean() {
	w.t.Helper()
	if len(w.hist.violations) > 0 {
		w.t.Fatalf("seed %d: %d violations, first: %s\ntrace (end):\n%s",
			w.seed, len(w.hist.violations), w.hist.violations[0], w.dumpTrace(40))
	}
}

// setVoters changes the configuration of every member to the given voters
// (the member set of the table they all know).
func (w *world) setVoters(names ...string) {
	voters := slices.Sorted(slices.Values(names))
	w.config = election.Config{Voters: voters}
	for _, name := range w.names {
		w.nodes[name].el.SetConfig(w.config, partitions.TableID{})
	}
}
