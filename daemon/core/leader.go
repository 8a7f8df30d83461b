package core

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

// leaderState is the leader's working table for one term and the parts that
// keep it: what every process may still hold (holderTracker), who answers
// and what they applied (ackTracker), fencing tokens (tokenMinter), plans
// (planCache) and configuration changes (confChange). It decides; the Core
// feeds it (see Core.leaderTick) and publishes its tables.
type leaderState struct {
	opt Options
	// members is the Core's gossip view, shared: the leader reads it and
	// records in it the outages it sees in acks (noteAnswers).
	members memberTable
	emit    func(Event)

	term      uint64
	electedAt time.Time
	table     partitions.Table
	// holders knows when the safe wait after the election ends
	// (holderTracker.safeUntil): nothing is granted before.
	holders holderTracker
	acks    ackTracker
	tokens  tokenMinter
	plans   planCache
	// restartSeen is, per member, the process whose planned restart this
	// leader began keeping partitions for: once per process, so that a
	// grace that ended is not begun again while that process lingers.
	restartSeen map[string]uint64
	// published is, per partition, the first table version of this term
	// that listed the current entry: a report from the owner only proves a
	// release when it was written after applying that version.
	published []uint64
	// dest is, per releasing partition, where it goes next.
	dest []string
	// moveStart is when a planned move of the partition began (releasing).
	moveStart []time.Time
	// granted is when the partition last got an owner in this term
	// (Options.MoveCooldown).
	granted []time.Time
	// planCurrent and planMembers are plan's scratch space, kept between
	// ticks: the leader plans on every tick, and fresh ones were most of
	// an idle leader's garbage.
	planCurrent []string
	planMembers map[string]bool
	// settled lets plan skip a table that is as planned (settledPlan).
	settled settledPlan
	// owners caches, for one pass over the table, what the leader knows of
	// each owning process (see ownerFacts).
	owners ownerCache
	// proofsAt is holders.proofs at the last pass of freeReleased
	// (proofsSeen: there was one).
	proofsAt   uint64
	proofsSeen bool
	// jointVersion is the version that started the change of voters in
	// flight (PrevVoters set).
	jointVersion uint64
	// early marks the partitions that the previous leader held itself,
	// when the votes bound its holdings (predecessors.prevKnown): no other
	// process can hold them (see selfFreed), so they may be granted once
	// that leader's holdings ended, before the safe wait is over.
	early []bool
	// silentPrev is the previous leader when the votes bounded its holdings
	// (it fell silent before this election): no partitions for it until it
	// answers this leader.
	silentPrev string
	// selfFreed is, per partition this leader's own process let go of,
	// the table version that shows it free. It is granted to another
	// member only once a majority of the voters applied that version
	// (committed): then every possible successor's table shows it out of
	// this leader's hands, which is what lets a successor grant the
	// partitions still listed as this leader's before the safe wait ends.
	selfFreed []uint64
	// dirty: the table changed since it was last published.
	dirty bool
	// inherited are the longest leases an older leader may have running
	// (predecessors.bounds): the safe wait is counted with them, and the
	// heartbeats carry them until it is over (heartbeatBounds).
	inherited LeaseBounds
}

// setPin pins partition p to member (member "": unpins it) in the next
// table, as member by asked.
func (l *leaderState) setPin(now time.Time, p int, member, by string) {
	if p < 0 || p >= l.opt.Partitions || l.table.Pins[p] == member {
		return
	}
	l.table.Pins = withEntry(l.table.Pins, p, member, member != "")
	l.dirty, l.settled.valid = true, false
	l.emit(Event{Kind: EventPinned, At: now, Partition: p, To: member, From: by})
}

// setExcluded keeps member from owning partitions (on) or lets it again, in
// the next table, as member by asked.
func (l *leaderState) setExcluded(now time.Time, member string, on bool, by string) {
	if member == "" || slices.Contains(l.table.Excluded, member) == on {
		return
	}
	excluded := slices.Clone(l.table.Excluded)
	if on {
		excluded = append(excluded, member)
		slices.Sort(excluded)
	} else {
		excluded = slices.DeleteFunc(excluded, func(m string) bool { return m == member })
	}
	if len(excluded) == 0 {
		excluded = nil
	}
	l.table.Excluded = excluded
	l.dirty, l.settled.valid = true, false
	kind := EventIncluded
	if on {
		kind = EventExcluded
	}
	l.emit(Event{Kind: kind, At: now, To: member, From: by})
}

// setFrozen freezes or unfreezes the assignment in the next table, as member
// by asked (itself, or another member that forwarded an operator's request).
func (l *leaderState) setFrozen(now time.Time, frozen bool, by string) {
	if l.table.Frozen == frozen {
		return
	}
	l.table.Frozen = frozen
	l.dirty = true
	l.settled.valid = false
	kind := EventUnfrozen
	if frozen {
		kind = EventFrozen
	}
	l.emit(Event{Kind: kind, At: now, From: by})
}

// heartbeatBounds are the LeaseBounds a heartbeat sent at now carries: this
// leader's own settings (it grants member leases of its --lease and renews
// itself for its --leader-lease), widened by an older leader's longer ones
// until the safe wait is over, when every lease an older leader granted
// surely ended. A voter keeps them (lastAck) and hands them to the next
// leader with its vote.
func (l *leaderState) heartbeatBounds(now time.Time) LeaseBounds {
	if now.Before(l.holders.safeUntil) {
		return l.opt.ownBounds().widen(l.inherited)
	}
	return l.opt.ownBounds()
}

// newLeaderState starts term, won at now. base is the newest table this
// member applied; elected is the configuration it was elected by, used when
// it has no table (the bootstrap one, or the one saved before a restart);
// reports are the holdings its voters sent with their votes, and its own.
func newLeaderState(opt Options, members memberTable, emit func(Event), now time.Time, term uint64,
	base partitions.Table, elected election.Config, forced bool, reports map[string]partitions.Report, pred predecessors) *leaderState {
	P := opt.Partitions
	l := &leaderState{
		opt: opt, members: members, emit: emit,
		term: term, electedAt: now,
		holders:   newHolderTracker(pred.leasesEnd.Add(scale(pred.bounds.Lease, opt.Drift)+opt.SafetyMargin), opt.leaseSafe()),
		inherited: pred.bounds,
		acks:      newAckTracker(now, term, opt.Self, members),
		tokens:    newTokenMinter(term, P),
		plans:     planCache{cfg: rebalance.Config{Partitions: P, Load: opt.Load}},
		published: make([]uint64, P),
		dest:      make([]string, P),
		moveStart: make([]time.Time, P),
		granted:   make([]time.Time, P),
		early:     make([]bool, P),
		selfFreed: make([]uint64, P),
	}
	voters, prev := base.VoterSet()
	t := partitions.Table{
		ID:         partitions.TableID{Term: term, Version: base.ID.Version + 1},
		Leader:     opt.Self,
		Members:    slices.Clone(base.Members),
		Voters:     slices.Clone(voters),
		PrevVoters: slices.Clone(prev),
		Partitions: make([]partitions.Entry, P),
		Frozen:     base.Frozen,
		Pins:       maps.Clone(base.Pins),
		Excluded:   slices.Clone(base.Excluded),
		Reserved:   maps.Clone(base.Reserved),
		Restarting: maps.Clone(base.Restarting),
	}
	if len(base.Standbys) == P {
		t.Standbys = slices.Clone(base.Standbys)
	}
	t.Reserved, t.Restarting = inheritRestarts(now, base, P)
	switch {
	case len(base.Partitions) == P && forced:
		// Elected by a configuration an operator forced: the first table
		// carries it, and every member adopts it from there.
		copy(t.Partitions, base.Partitions)
		t.Voters, t.PrevVoters = slices.Clone(elected.Voters), nil
		for _, name := range memberNames(elected.Voters) {
			if !slices.Contains(t.Members, name) {
				t.Members = append(t.Members, name)
			}
		}
		sort.Strings(t.Members)
	case len(base.Partitions) == P:
		copy(t.Partitions, base.Partitions)
	default:
		t.Voters, t.PrevVoters = slices.Clone(elected.Voters), slices.Clone(elected.Prev)
		t.Members = memberNames(elected.All())
	}
	if len(t.PrevVoters) > 0 {
		l.jointVersion = t.ID.Version
	}
	l.table = t
	// Start from what is really held: the voters' reports (and ours).
	names := make([]string, 0, len(reports))
	for name := range reports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := reports[name]
		l.holders.report(name, r)
		for _, h := range r.Items {
			if h.ID < 0 || h.ID >= P {
				continue
			}
			e := &l.table.Partitions[h.ID]
			if e.Owner != "" && e.Token > h.Token && e.Owner != name {
				continue // the newer grant wins; the stale one expires
			}
			st := partitions.Owned
			if h.State == partitions.Releasing {
				st = partitions.Releasing
			}
			*e = partitions.Entry{Owner: name, Incarnation: r.Incarnation, Token: h.Token, State: st}
		}
	}
	// An entry that names this process but that its own report does not
	// show (same token) is not held by it: an older leader may have moved
	// it on in a table this member never saw. Listed as ours in this
	// term's tables, a successor would take it for a partition only we can
	// hold (early, below); freed here, it waits for the safe wait instead.
	own := map[int]uint64{}
	for _, h := range reports[opt.Self].Items {
		own[h.ID] = h.Token
	}
	for p, e := range l.table.Partitions {
		if e.Owner == opt.Self && e.Incarnation == opt.Incarnation {
			if tok, ok := own[p]; !ok || tok != e.Token {
				l.table.Partitions[p] = partitions.Entry{}
			}
		}
	}
	for p, e := range l.table.Partitions {
		if e.Owner != "" {
			l.published[p] = t.ID.Version
		}
	}
	// The previous leader, silent so far: its own holdings end by
	// prevUntil, and nobody else can hold what its own table lists as its
	// (docs/architecture.md, "How soon a new leader grants"). Only its own
	// table says so: an older leader's may list it for a partition that
	// leader moved on.
	if prev := pred.prev; pred.prevKnown && base.ID.Term == pred.prevTerm && base.Leader == prev.name &&
		prev != l.selfKey() && l.holders.views[prev] == nil {
		l.holders.bound(prev, pred.prevUntil)
		l.silentPrev = prev.name
		for p, e := range l.table.Partitions {
			l.early[p] = e.Owner == prev.name && e.Incarnation == prev.inc
		}
	}
	l.dirty = true
	return l
}

// electedEvent reports the election won at now, with the waits it starts.
func (l *leaderState) electedEvent(now time.Time) Event {
	ev := Event{Kind: EventElected, At: now, Took: max(l.holders.safeUntil.Sub(now), 0)}
	for p, early := range l.early {
		if early {
			e := l.table.Partitions[p]
			ev.From = e.Owner
			ev.Partition++
			if h := l.holders.views[holderKey{e.Owner, e.Incarnation}]; h != nil {
				ev.Bound = max(h.boundUntil.Sub(now), 0)
			}
		}
	}
	return ev
}

// selfKey is this process's holder key.
func (l *leaderState) selfKey() holderKey { return holderKey{l.opt.Self, l.opt.Incarnation} }

// selfReport updates the leader's view of its own holdings; leading: it
// holds a valid leader lease, which renews its own.
func (l *leaderState) selfReport(now time.Time, r partitions.Report, leading bool) {
	l.holders.report(l.opt.Self, r)
	if leading {
		l.holders.renew(l.selfKey(), now, 0)
	}
}

// onReport records a member's holdings report, and the table it applied
// before writing it: a member reports as soon as it applies a new table,
// so a partition this leader freed (selfFreed) is committed one round trip
// after the table, not at the next heartbeat's acks.
func (l *leaderState) onReport(env Envelope, r partitions.Report) {
	l.holders.report(env.From, r)
	l.acks.tableApplied(ElectionName(env.From, env.Identity), r.Applied)
}

// onAck handles a heartbeat ack: the member's applied table, and its lease
// renewal, which only a leader with a valid lease (leading) that knows what
// the member holds may grant.
func (l *leaderState) onAck(now time.Time, env Envelope, leading bool) {
	k := holderKey{env.From, env.Incarnation}
	l.acks.ack(now, env.From, ElectionName(env.From, env.Identity), env.TableID)
	l.holders.appliedTable(k, env.HoldingsSeq, env.TableID)
	if leading {
		l.holders.renew(k, now, env.AckSeq)
	}
}

// fillHeartbeat adds the per-member lease and table fields to a heartbeat.
func (l *leaderState) fillHeartbeat(now time.Time, env *Envelope, to string) {
	env.TableID = l.table.ID
	lease, bounds := l.opt.Lease, l.heartbeatBounds(now)
	env.Lease, env.Bounds = &lease, &bounds
	m := l.members[to]
	if m == nil {
		return
	}
	renewed, seq, known := l.holders.heartbeatFields(holderKey{to, m.Incarnation})
	env.Renewed = renewed
	if known {
		env.KnownHoldings = seq
		env.KnownIncarnation = m.Incarnation
	}
}

// leaderTick runs the leader's duties: configuration changes, freeing
// released or expired grants, planning, granting, publishing the table,
// and giving leadership up when that is due.
func (c *Core) leaderTick(now time.Time) {
	l := c.leader
	l.selfReport(now, c.own.Report(), c.el.IsLeader(now))
	// Outages seen in acks count as flaps (members.go) before anyone is admitted or assigned.
	l.members.noteAnswers(now, l.opt.Self, &l.acks, l.opt.Lease, l.opt.LeaderTimeout, l.opt.FlapHoldDown)
	l.maintainConfig(now, c.leaving)
	l.freeReleased(now)
	l.plan(now)
	if l.dirty {
		c.publishTable(now)
	}
	if l.tokens.ranOut {
		// Some partition has no tokens left in this term: step down so
		// that a new term (and a fresh count) begins.
		c.el.StepDown(now)
		return
	}
	// A draining leader hands over once its partitions moved on: released,
	// and granted to their next owners (a partition it freed waits for a
	// majority to apply that, see selfFreed; a successor could only grant
	// it after its safe wait).
	movedOn := len(c.own.Report().Items) == 0 && !l.awaitingCommit()
	// A leader stopping for a planned restart hands over as one leaving
	// does, and keeps its vote (maintainConfig is told it stays).
	if to := l.handOverTarget(now, c.leaving || c.restarting, c.draining && !movedOn); to != "" {
		if c.el.Transfer(now, to) == nil {
			c.emit(Event{Kind: EventHandedOver, At: now, To: memberOf(to)})
		}
		// Otherwise the next tick tries again.
	}
}

// publishTable makes the leader's table the next version, applies it here,
// and sends it to every member and voter.
func (c *Core) publishTable(now time.Time) {
	t := c.leader.nextTable()
	if c.own.Apply(now, c.startable(t)) { // our own stale grants too
		c.saveConfig(t)
	}
	c.syncElectionConfig()
	for _, name := range c.leader.recipients() {
		tt := t
		c.send(name, true, Envelope{Table: &tt})
	}
}

// nextTable returns a copy of the table as its next version, to publish.
func (l *leaderState) nextTable() partitions.Table {
	l.dirty = false
	l.table.ID.Version++
	return l.table.Clone()
}

// recipients are every member and voter of the table, and every live
// member, other than self.
func (l *leaderState) recipients() []string {
	var alive []string
	for name, m := range l.members {
		if m.Alive {
			alive = append(alive, name)
		}
	}
	listed := memberNames(slices.Concat(l.table.Members, l.table.Voters, l.table.PrevVoters))
	return election.Peers(l.opt.Self, listed, alive)
}

// handOverTarget is the voter to hand leadership to now, or "". A leader
// that is no longer a voter (it leaves, so the voters replaced it), or that
// leaves and stays a voter for want of anyone else, hands leadership to the
// best-ranked other live voter once no change is in flight (or, when it is
// not among the new voters, during the change: its successor ends it, see
// changeInFlight) and, when draining, once its own partitions moved away (drainingWithPartitions
// false; moves are quickest while it still leads: a successor must first
// wait out what it cannot vouch for). The successor campaigns at once,
// instead of everyone waiting for this leader's heartbeats to stop.
func (l *leaderState) handOverTarget(now time.Time, leaving, drainingWithPartitions bool) string {
	self := l.opt.electionName()
	voter := slices.Contains(l.table.Voters, self)
	// During a change, only a leader that is not among the new voters hands
	// over (to a new voter, which finishes the change): see changeInFlight.
	if (len(l.table.PrevVoters) > 0 && voter) || (voter && !leaving) || drainingWithPartitions {
		return ""
	}
	voters := slices.Clone(l.table.Voters)
	l.members.sortByRank(voters, self)
	for _, v := range voters {
		if v == self {
			continue
		}
		// Only to a voter that applied our newest table: with an older
		// one, the others would refuse it their votes (up-to-date rule)
		// and the hand-over would cost a leader timeout instead of
		// saving one. A lagging best-ranked voter is worth a heartbeat's
		// wait; skipping it for the next would invite its preemption.
		if m := l.members[memberOf(v)]; l.members.aliveAs(v) && !m.Draining && l.acks.responsive(now, m.Name, l.opt.Lease) {
			if l.acks.appliedBy(v).Less(l.table.ID) {
				return ""
			}
			return v
		}
	}
	return ""
}

// confChange is the configuration change's view of this leader at now.
func (l *leaderState) confChange(now time.Time, leaving bool) *confChange {
	return &confChange{now: now, opt: l.opt, leaving: leaving, table: l.table,
		jointVersion: l.jointVersion, gossip: l.members, acks: &l.acks}
}

// maintainConfig applies the configuration change due now (see confChange).
func (l *leaderState) maintainConfig(now time.Time, leaving bool) {
	if members := l.confChange(now, leaving).members(); !slices.Equal(members, l.table.Members) {
		l.table.Members = members
		l.dirty = true
	}
	d := l.confChange(now, leaving).voters()
	switch d.step {
	case keepVoters:
		return
	case finishChange:
		l.table.PrevVoters = nil
	case revertChange:
		l.table.Voters, l.table.PrevVoters = l.table.PrevVoters, nil
		l.jointVersion = 0
		l.emit(Event{Kind: EventConfigChanged, At: now, Members: l.table.Voters})
	case startChange:
		l.table.PrevVoters = l.table.Voters
		l.table.Voters = d.voters
		l.jointVersion = l.table.ID.Version + 1
		l.emit(Event{Kind: EventConfigChanged, At: now, Members: d.voters})
	}
	l.dirty = true
}

// freeReleased frees the entries whose owner proved it let go, or whose
// owner's lease surely ran out.
func (l *leaderState) freeReleased(now time.Time) {
	l.owners.reset()
	// A release is proved only by a report or an ack that came after the
	// entry was listed (holderView.released needs the table that listed
	// it applied, and every grant lists it in a table not yet sent), so
	// without a new one since the last pass only the owners' leases,
	// which run out with time, can free anything.
	proofs := l.holders.proofs
	lookForProofs := !l.proofsSeen || proofs != l.proofsAt
	l.proofsSeen, l.proofsAt = true, proofs
	for p, e := range l.table.Partitions {
		if e.Owner == "" {
			continue
		}
		o := l.owners.of(l, now, e.Owner, e.Incarnation)
		// The deliberately broken mode does not wait for a release, nor for
		// the lease of an owner gossip calls gone. Skipping only canGrant's
		// checks would not do: it would still wait here, grant nothing
		// early, and give the ownership checker nothing to catch.
		unsafe := l.opt.UnsafeGrantWithoutWaiting && (e.State == partitions.Releasing || !o.alive)
		if !unsafe && o.mayHold && !lookForProofs {
			continue
		}
		listedIn := partitions.TableID{Term: l.term, Version: l.published[p]}
		if unsafe || !o.mayHold || o.view.released(p, e.Token, listedIn) {
			if o.key == l.selfKey() {
				l.selfFreed[p] = l.table.ID.Version + 1 // the version nextTable publishes
			}
			l.table.Partitions[p] = partitions.Entry{}
			l.dirty = true
		}
	}
}

// ownerFacts is what freeReleased and plan ask of each owning process, once
// per pass instead of once per partition: a leader of 1024 partitions walks
// its table on every tick, and the map lookups by name were most of an idle
// leader's CPU (figure g of docs/benchmarks.md).
type ownerFacts struct {
	key holderKey
	// alive: gossip sees this very process (memberTable.current).
	alive bool
	// mayHold: its lease may still run (holderTracker.mayHoldAnything).
	mayHold bool
	view    *holderView
}

// ownerCache holds the ownerFacts of one pass; neighbouring partitions
// often share an owner, so the last hit is tried before the index.
type ownerCache struct {
	facts []ownerFacts
	last  int
	// index finds a process's facts: a pass looks up every partition's
	// owner, and a scan of the facts made a pass over 1024 partitions of
	// 500 members cost half a million comparisons (issue 11, figure e).
	index map[holderKey]int
}

func (oc *ownerCache) reset() {
	oc.facts, oc.last = oc.facts[:0], 0
	clear(oc.index)
}

// of returns the facts of process (name, inc), looking them up on first use
// in this pass.
func (oc *ownerCache) of(l *leaderState, now time.Time, name string, inc uint64) *ownerFacts {
	if oc.last < len(oc.facts) {
		if f := &oc.facts[oc.last]; f.key.name == name && f.key.inc == inc {
			return f
		}
	}
	k := holderKey{name, inc}
	if i, ok := oc.index[k]; ok {
		oc.last = i
		return &oc.facts[i]
	}
	if oc.index == nil {
		oc.index = map[holderKey]int{}
	}
	oc.index[k] = len(oc.facts)
	oc.facts = append(oc.facts, ownerFacts{key: k, alive: l.members.current(name, inc),
		mayHold: l.holders.mayHoldAnything(now, k), view: l.holders.views[k]})
	oc.last = len(oc.facts) - 1
	return &oc.facts[oc.last]
}

// assignable lists the members that may get partitions: in the
// configuration, alive, not draining, answering, past their hold-down (or
// still holding partitions: a member that kept its lease through a gossip
// flap keeps what it has, see heldDownAndEmpty).
func (l *leaderState) assignable(now time.Time) []string {
	var out []string
	for _, name := range l.table.Members {
		m := l.members[name]
		if m == nil || !m.Alive || m.Draining || !l.acks.responsive(now, name, l.opt.Lease) {
			continue
		}
		if name == l.silentPrev && !l.acks.heard(name) {
			// The previous leader fell silent before the election (the
			// votes say so) and gossip may call it alive for seconds
			// more: its partitions would go back to it, unanswered.
			continue
		}
		if name != l.opt.Self && !l.acks.heard(name) && now.Sub(l.acks.electedAt) >= unheardGrace(l.opt) {
			// Silent since the election for a few heartbeats: gossip may
			// call a crashed member alive for seconds (most of a minute
			// with the WAN profile), and partitions planned for it stayed
			// unowned for a lease before they moved on (figure e). Until
			// then it stays in, so that the planner's shares do not
			// change twice as the first acknowledgements arrive; and
			// canGrant gives it nothing before it answers.
			continue
		}
		if _, back := l.table.Restarting[name]; back && name != l.opt.Self {
			// A member back from a planned restart skips the hold-down
			// (its partitions wait for it, owned by nobody), but not
			// before this leader renewed its new process's lease: a
			// grant to a process the leader never renewed would be
			// freed again at once (it may hold nothing).
			if k := (holderKey{name, m.Incarnation}); l.holders.views[k] == nil || !l.holders.mayHoldAnything(now, k) {
				continue
			}
		} else if name != l.opt.Self && heldDownAndEmpty(now, l.opt, m, l.table) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// weightsOf is the planner's weights of members (--weight from their
// gossip), nil when every one weighs 1: the unweighted plan. A weight out of
// rebalance's bounds (gossip is not to be trusted with the plan) counts as 1.
func (l *leaderState) weightsOf(members []string) map[string]float64 {
	var out map[string]float64
	for _, name := range members {
		m := l.members[name]
		if m == nil || m.Weight == 1 || !(m.Weight >= rebalance.MinWeight && m.Weight <= rebalance.MaxWeight) {
			continue
		}
		if out == nil {
			out = map[string]float64{}
		}
		out[name] = m.Weight
	}
	return out
}

// standbysAfter is the table's next standby lists given the planner's
// (res): a partition not yet owned by its planned owner (its owner failed
// and its lease runs out, or it waits for a grant) keeps its list until
// then, so that the planner keeps giving it to that list's first standby
// (the planner's lists are for the owners it plans, and would name another).
func (l *leaderState) standbysAfter(res rebalance.Result) [][]string {
	planned := res.Standbys
	if planned == nil || len(l.table.Standbys) != len(planned) {
		return planned
	}
	var (
		out      [][]string
		isMember map[string]bool
	)
	for p, e := range l.table.Partitions {
		settled := e.State == partitions.Owned && e.Owner == res.Target[p]
		if settled || slices.Equal(planned[p], l.table.Standbys[p]) {
			continue
		}
		if out == nil {
			out = slices.Clone(planned)
			isMember = make(map[string]bool, len(l.table.Members))
			for _, m := range l.table.Members {
				isMember[m] = true
			}
		}
		// Only members: the envelope carries the lists as member indexes.
		out[p] = slices.DeleteFunc(slices.Clone(l.table.Standbys[p]), func(m string) bool { return !isMember[m] })
	}
	if out == nil {
		return planned
	}
	return out
}

// zonesOf is the planner's zones of members (--zone from their gossip),
// nil when none has one.
func (l *leaderState) zonesOf(members []string) map[string]string {
	var out map[string]string
	for _, name := range members {
		if m := l.members[name]; m != nil && m.Zone != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = m.Zone
		}
	}
	return out
}

// MaxRejoinGrace bounds how long a leader keeps partitions for a member
// on a planned restart, whatever its gossip asks.
const MaxRejoinGrace = time.Hour

// keepForRestarts starts keeping partitions for members that announced a
// planned restart (their reservations begin when their partitions are
// released, in plan), and stops for members whose grace ran out or that an
// operator excluded.
func (l *leaderState) keepForRestarts(now time.Time) {
	for _, name := range l.table.Members {
		m := l.members[name]
		if m == nil || !m.Alive || !m.Restarting || m.RejoinGrace <= 0 {
			continue
		}
		_, kept := l.table.Restarting[name]
		seen := l.restartSeen[name] == m.Incarnation
		if l.restartSeen == nil {
			l.restartSeen = map[string]uint64{}
		}
		l.restartSeen[name] = m.Incarnation // an inherited entry counts too
		if kept || seen {
			continue // kept already, or kept and ended: once per process
		}
		grace := min(m.RejoinGrace, MaxRejoinGrace)
		l.table.Restarting = withEntry(l.table.Restarting, name, now.Add(grace), true)
		l.dirty = true
		l.emit(Event{Kind: EventRestartKept, At: now, To: name, Took: grace})
	}
	for _, name := range slices.Sorted(maps.Keys(l.table.Restarting)) {
		if now.Before(l.table.Restarting[name]) && !slices.Contains(l.table.Excluded, name) {
			continue
		}
		l.emit(Event{Kind: EventRestartEnded, At: now, To: name, Partition: l.endRestart(name)})
	}
}

// inheritRestarts is what a new leader keeps of the planned restarts in the
// table it was elected with: reservations of partitions in range for
// members it still keeps partitions for, and each deadline read by this
// leader's clock (the table carries wall-clock instants) and cut to at most
// MaxRejoinGrace from now, so that a clock stepped forward on an earlier
// leader cannot keep partitions unowned for long.
func inheritRestarts(now time.Time, base partitions.Table, P int) (map[int]string, map[string]time.Time) {
	var restarting map[string]time.Time
	for name, until := range base.Restarting {
		if name == "" {
			continue
		}
		left := min(max(until.Sub(now), 0), MaxRejoinGrace)
		restarting = withEntry(restarting, name, now.Add(left), true)
	}
	var reserved map[int]string
	for p, name := range base.Reserved {
		if _, ok := restarting[name]; ok && p >= 0 && p < P {
			if reserved == nil {
				reserved = map[int]string{}
			}
			reserved[p] = name
		}
	}
	return reserved, restarting
}

// endRestart stops keeping partitions for member name and returns how many
// were still kept.
func (l *leaderState) endRestart(name string) int {
	kept := 0
	for p, m := range l.table.Reserved {
		if m == name {
			l.setReserved(p, "")
			kept++
		}
	}
	l.table.Restarting = withEntry(l.table.Restarting, name, time.Time{}, false)
	l.dirty = true
	return kept
}

// withEntry returns a copy of m with k set to v (set) or removed (!set), nil
// when empty: maps of a published table are never changed in place.
func withEntry[K comparable, V any](m map[K]V, k K, v V, set bool) map[K]V {
	out := maps.Clone(m)
	if set {
		if out == nil {
			out = map[K]V{}
		}
		out[k] = v
	} else {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// restartingOwner reports whether entry e's owner is the process that
// announced a planned restart the leader keeps partitions for.
func (l *leaderState) restartingOwner(e partitions.Entry) bool {
	m := l.members[e.Owner]
	_, kept := l.table.Restarting[e.Owner]
	return kept && m != nil && m.Restarting && m.Incarnation == e.Incarnation
}

// setReserved keeps partition p for member name ("": no longer). It changes
// the map in place: published tables are clones (nextTable), and the
// planner gets the reservations in a map of their own (planPins), so no
// one else holds it; a restart of a big member reserves thousands at once.
func (l *leaderState) setReserved(p int, name string) {
	if l.table.Reserved[p] == name {
		return
	}
	switch {
	case name != "" && l.table.Reserved == nil:
		l.table.Reserved = map[int]string{p: name}
	case name != "":
		l.table.Reserved[p] = name
	default:
		delete(l.table.Reserved, p)
		if len(l.table.Reserved) == 0 {
			l.table.Reserved = nil
		}
	}
	l.dirty = true
}

// planPins are the planner's pins: the operators' pins, and partitions
// kept for a member back from a planned restart (isMember), which go back
// to it.
func (l *leaderState) planPins(isMember map[string]bool) map[int]string {
	if len(l.table.Reserved) == 0 {
		return l.table.Pins
	}
	pins := maps.Clone(l.table.Pins)
	for p, name := range l.table.Reserved {
		// An operator's pin wins, unless its member cannot own now (the
		// planner would ignore it): then the partition goes back to the
		// member it was kept for.
		if pinned, ok := pins[p]; (!ok || !isMember[pinned]) && isMember[name] {
			if pins == nil {
				pins = map[int]string{}
			}
			pins[p] = name
		}
	}
	return pins
}

// unheardGrace is how long after its election a leader keeps planning for a
// member it has not heard from: three heartbeats, time for every live
// member to answer the first ones.
func unheardGrace(opt Options) time.Duration { return 3 * opt.HeartbeatInterval }

// plan asks the planner where every partition should be, grants the free
// ones that may be granted, and starts the planned moves.
func (l *leaderState) plan(now time.Time) {
	l.keepForRestarts(now)
	members := l.assignable(now)
	if len(l.table.Excluded) > 0 {
		members = slices.DeleteFunc(slices.Clone(members), func(m string) bool { return slices.Contains(l.table.Excluded, m) })
	}
	if l.settled.holds(l, members) {
		return
	}
	l.settled.valid = false
	if len(l.planCurrent) != l.opt.Partitions {
		l.planCurrent = make([]string, l.opt.Partitions)
	}
	current := l.planCurrent
	clear(current)
	if l.planMembers == nil {
		l.planMembers = map[string]bool{}
	}
	isMember := l.planMembers
	clear(isMember)
	for _, m := range members {
		isMember[m] = true
	}
	l.owners.reset()
	for p, e := range l.table.Partitions {
		switch {
		case e.State == partitions.Owned && isMember[e.Owner] && l.owners.of(l, now, e.Owner, e.Incarnation).alive:
			current[p] = e.Owner
		case e.State == partitions.Releasing && isMember[l.dest[p]]:
			current[p] = l.dest[p]
		}
	}
	cfg := l.plans.cfg
	cfg.Weights, cfg.Pins, cfg.Zones = l.weightsOf(members), l.planPins(isMember), l.zonesOf(members)
	cfg.Standbys, cfg.Warm = l.opt.Standbys, nil
	if len(l.table.Standbys) == l.opt.Partitions {
		cfg.Warm = l.table.Standbys
	}
	res, computed, err := l.plans.plan(current, members, cfg)
	if err != nil {
		// Nothing is granted or moved until the inputs change: report it
		// once per set of inputs, not on every tick.
		if computed {
			l.emit(Event{Kind: EventPlanFailed, At: now, Err: err})
		}
		return
	}
	// Rebalancing moves in flight, for the move budget.
	moving := 0
	if l.opt.MoveBudget > 0 {
		for _, e := range l.table.Partitions {
			if e.State == partitions.Releasing && isMember[e.Owner] {
				moving++
			}
		}
	}
	for p, e := range l.table.Partitions {
		target := res.Target[p]
		kept, reserved := l.table.Reserved[p]
		switch {
		case e.Owner == "" && reserved && !isMember[kept]:
			// Kept for a member away on a planned restart: nobody gets
			// it until that member is back, or its grace ends.
		case e.Owner == "":
			if target != "" && l.canGrant(now, p, target) && l.grant(p, target) {
				l.granted[p] = now
				ev := Event{Kind: EventGranted, At: now, Partition: p, To: target, Token: l.table.Partitions[p].Token,
					Standby:  len(l.table.Standbys) == len(l.table.Partitions) && slices.Contains(l.table.Standbys[p], target),
					Rejoined: reserved && kept == target}
				if reserved {
					l.setReserved(p, "")
				}
				if !l.moveStart[p].IsZero() {
					ev.Kind, ev.Took = EventMoveFinished, now.Sub(l.moveStart[p])
					l.moveStart[p] = time.Time{}
				}
				l.emit(ev)
			}
		case e.State == partitions.Owned && l.restartingOwner(e):
			// A planned restart: the owner's app lets go, and the
			// partition is kept, owned by nobody, for the member's next
			// process.
			l.setReserved(p, e.Owner)
			l.table.Partitions[p].State = partitions.Releasing
			l.dest[p] = ""
			// Not a move (EventRestartKept said it): its grant back is a
			// rejoin, not a handoff to time or count as started.
			l.moveStart[p] = time.Time{}
			l.dirty = true
		case e.State == partitions.Owned && target != e.Owner && l.members.current(e.Owner, e.Incarnation) &&
			!now.Before(l.holders.safeUntil):
			// A planned move: the owner's app finishes and lets go first.
			// Not during the safe wait after an election: nothing can be
			// granted then, and the partition would sit released with no
			// holder until the wait ends (a gap in every rolling update,
			// as each leader hand-over starts a wait).
			if isMember[e.Owner] {
				// A rebalance (the owner stays): not while frozen, and
				// within the budget and the cooldown. A drain or a
				// leave (the owner is no longer among the members) is
				// never held back.
				if l.table.Frozen || l.opt.MoveBudget > 0 && moving >= l.opt.MoveBudget ||
					l.opt.MoveCooldown > 0 && !l.granted[p].IsZero() && now.Sub(l.granted[p]) < l.opt.MoveCooldown {
					continue
				}
				moving++
			}
			l.table.Partitions[p].State = partitions.Releasing
			l.dest[p] = target
			l.moveStart[p] = now
			l.dirty = true
			l.emit(Event{Kind: EventMoveStarted, At: now, Partition: p, From: e.Owner, To: target})
		case e.State == partitions.Releasing && reserved && !isMember[kept]:
			l.dest[p] = ""
		case e.State == partitions.Releasing:
			l.dest[p] = target
		}
	}
	if next := l.standbysAfter(res); !slices.EqualFunc(next, l.table.Standbys, slices.Equal) {
		l.table.Standbys = next // never changed in place, like every published list
		l.dirty = true
	}
	// A member back from its restart, with nothing more kept for it.
	if len(l.table.Restarting) > 0 {
		stillKept := map[string]bool{}
		for _, name := range l.table.Reserved {
			stillKept[name] = true
		}
		for name := range l.table.Restarting {
			if isMember[name] && !stillKept[name] {
				l.endRestart(name)
			}
		}
	}
	l.settled.note(l, members, res.Target)
}

// settledPlan remembers the inputs of a plan that found the table as
// planned: every partition owned where the planner wants it. Until the
// table, the assignable members or their processes change, planning again
// finds the same and does nothing, so an idle leader skips it (figure g of
// docs/benchmarks.md): nothing in it depends on the clock when no partition
// is free or moving.
type settledPlan struct {
	valid   bool
	table   partitions.TableID
	members []holderKey
}

// holds reports whether the table and members are still those of the
// settled plan.
func (sp *settledPlan) holds(l *leaderState, members []string) bool {
	if !sp.valid || l.dirty || sp.table != l.table.ID || len(members) != len(sp.members) {
		return false
	}
	for i, name := range members {
		m := l.members[name]
		if m == nil || sp.members[i] != (holderKey{name, m.Incarnation}) {
			return false
		}
	}
	return true
}

// note records a plan's inputs when the table is as planned (target).
func (sp *settledPlan) note(l *leaderState, members []string, target []string) {
	sp.valid = false
	if l.dirty {
		return
	}
	for p, e := range l.table.Partitions {
		if e.State != partitions.Owned || e.Owner != target[p] {
			return
		}
	}
	sp.valid, sp.table = true, l.table.ID
	sp.members = sp.members[:0]
	for _, name := range members {
		sp.members = append(sp.members, holderKey{name, l.members[name].Incarnation})
	}
}

// canGrant: no process other than the grantee may still hold p.
func (l *leaderState) canGrant(now time.Time, p int, to string) bool {
	if l.opt.UnsafeGrantWithoutWaiting {
		return true
	}
	if now.Before(l.holders.safeUntil) && !l.early[p] {
		return false
	}
	m := l.members[to]
	if m == nil || (to != l.opt.Self && !l.acks.heard(to)) {
		return false // a member gets new grants once it answered this leader (assignable)
	}
	if v := l.selfFreed[p]; v != 0 && to != l.opt.Self {
		if !l.committed(v) {
			return false
		}
		l.selfFreed[p] = 0
	}
	return !l.holders.othersMayHold(now, p, holderKey{to, m.Incarnation})
}

// awaitingCommit reports whether a partition this leader let go of waits
// for a majority to apply the table that freed it.
func (l *leaderState) awaitingCommit() bool {
	for _, v := range l.selfFreed {
		if v != 0 && !l.committed(v) {
			return true
		}
	}
	return false
}

// committed reports whether a majority of the voters (of both sets during
// a change) applied version of this term's table.
func (l *leaderState) committed(version uint64) bool {
	id := partitions.TableID{Term: l.term, Version: version}
	self := l.opt.electionName()
	cfg := election.Config{Voters: l.table.Voters, Prev: l.table.PrevVoters}
	return cfg.HasQuorum(func(v string) bool { return v == self || !l.acks.appliedBy(v).Less(id) })
}

// grant gives partition p to member to with a new token, or reports false
// when this term has no token left for p (tokens.ranOut).
func (l *leaderState) grant(p int, to string) bool {
	token, ok := l.tokens.next(p)
	if !ok {
		return false
	}
	l.table.Partitions[p] = partitions.Entry{Owner: to, Incarnation: l.members[to].Incarnation,
		Token: token, State: partitions.Owned}
	l.published[p] = l.table.ID.Version + 1
	l.dest[p] = ""
	l.early[p] = false
	l.dirty = true
	return true
}
