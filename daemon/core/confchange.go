package core

import (
	"slices"
	"sort"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// confChange decides the leader's configuration changes at one moment: who
// is a member (may get partitions) and who votes. It reads what it is given
// and changes nothing.
//
// Members are admitted after their hold-down and reaped after
// --dead-member-timeout dead; that needs no majority, as members do not vote.
// The voters change by joint majority, one change at a time: a change in
// flight is finished once a majority of the old and of the new voters
// acknowledged it, and then the next one may start (see wantVoters).
type confChange struct {
	now time.Time
	opt Options
	// leaving: this leader leaves for good (Core.SetLeaving).
	leaving bool
	// table is the leader's working table: its Members, Voters, PrevVoters.
	table partitions.Table
	// jointVersion is the table version from which the change of voters in
	// flight counts as started: the version that began it, or this
	// leader's first version when it inherited the change; 0 after a
	// revert (no change in flight).
	jointVersion uint64
	gossip       memberTable
	acks         *ackTracker
}

// voterStep is what to do with the voters.
type voterStep int

const (
	// keepVoters: no change.
	keepVoters voterStep = iota
	// finishChange: majorities of the old and the new voters acknowledged
	// the change in flight; the previous voters go.
	finishChange
	// revertChange: the new voters of the change in flight lost their live
	// majority; go back to the previous voters.
	revertChange
	// startChange: begin a joint change from the voters to voterDecision.voters.
	startChange
)

// voterDecision is the next step of the voter configuration.
type voterDecision struct {
	step voterStep
	// voters is the new set, for startChange.
	voters []string
}

// members is the member list the leader works towards: live members after
// their hold-down, members dead for less than --dead-member-timeout, this
// member, and every voter, sorted.
func (cc *confChange) members() []string {
	in := map[string]bool{}
	for _, n := range cc.table.Members {
		in[n] = true
	}
	want := memberNames(slices.Concat(cc.table.Voters, cc.table.PrevVoters))
	voter := make(map[string]bool, len(want))
	for _, name := range want {
		voter[name] = true
	}
	for name, m := range cc.gossip {
		if voter[name] {
			continue
		}
		// A member away on a planned restart stays admitted while its
		// partitions are kept for it (past --dead-member-timeout), and
		// is admitted again at once when it is back.
		_, kept := cc.table.Restarting[name]
		switch {
		case name == cc.opt.Self:
			want = append(want, name)
		case m.Alive && (in[name] || kept || !m.heldDown(cc.now, cc.opt.Settle, cc.opt.FlapHoldDown)):
			want = append(want, name)
		case !m.Alive && in[name] && (kept || cc.now.Sub(m.deadSince) < cc.opt.DeadMemberTimeout):
			want = append(want, name)
		}
	}
	sort.Strings(want)
	return want
}

// voters decides the next step of the voter configuration.
func (cc *confChange) voters() voterDecision {
	if len(cc.table.PrevVoters) > 0 {
		return cc.changeInFlight()
	}
	want := cc.wantVoters()
	if slices.Equal(want, cc.table.Voters) {
		return voterDecision{step: keepVoters}
	}
	return voterDecision{step: startChange, voters: want}
}

// changeInFlight decides about the joint change in flight: finish it, go
// back, or wait.
func (cc *confChange) changeInFlight() voterDecision {
	self := cc.opt.electionName()
	joint := partitions.TableID{Term: cc.acks.term, Version: cc.jointVersion}
	acked := func(v string) bool { return v == self || !cc.acks.appliedBy(v).Less(joint) }
	halfLease := cc.opt.LeaderLease / 2
	switch {
	case cc.jointVersion != 0 && (election.Config{Voters: cc.table.Voters, Prev: cc.table.PrevVoters}).HasQuorum(acked) &&
		(slices.Contains(cc.table.Voters, self) ||
			!cc.successorInNewVoters() && cc.majorityAnsweredWithin(cc.table.Voters, halfLease)):
		// (acked counts tables of this term only: see ackTracker.ack.)
		// A leader that is not among the new voters does not end the
		// change while a new voter could take over: it hands leadership
		// over under the joint configuration and the successor ends it
		// (handOverTarget). A table whose voters exclude its holder must
		// not be left with a holder that cannot campaign: had this leader
		// lost its lease before a new voter applied that table, the new
		// voter would campaign under the joint configuration, this member
		// would refuse it (its table is newer) and could not campaign
		// itself: no leader for good (TestRollingRestartSoleVoter). Nor
		// does it end the change towards new voters that stopped
		// answering: it goes back (below) or waits.
		return voterDecision{step: finishChange}
	case !cc.majorityAnsweredWithin(cc.table.Voters, halfLease) &&
		cc.majorityAnsweredWithin(cc.table.PrevVoters, halfLease):
		// The new voters lost their live majority before the change
		// completed (one of them crashed just before it started): a
		// change that can never complete would cost the leader its lease
		// and the cluster its leader for good. Go back to the previous
		// voters, whose majority still answers, while half a leader
		// lease is left to renew it with them. Safe: every candidate
		// and every lease under the joint configuration needed a
		// majority of the previous voters too, and the newer table wins.
		return voterDecision{step: revertChange}
	}
	return voterDecision{step: keepVoters}
}

// successorInNewVoters reports whether a new voter other than this leader
// could take leadership over (alive under its identity, not draining,
// answering): see handOverTarget.
func (cc *confChange) successorInNewVoters() bool {
	self := cc.opt.electionName()
	for _, v := range cc.table.Voters {
		if m := cc.gossip[memberOf(v)]; v != self && cc.gossip.aliveAs(v) && !m.Draining &&
			cc.acks.responsive(cc.now, m.Name, cc.opt.Lease) {
			return true
		}
	}
	return false
}

// wantVoters is the voter set the leader works towards, sticky: a voter stays
// a voter while it is alive, not leaving, and has the identity it was made a
// voter with (a member that only drains keeps its vote).
//
//   - A leaving voter is removed at once, replaced or not: it is going away
//     for good and can still acknowledge the change, and several leaving at
//     once (a rollout with maxUnavailable > 1) would otherwise take the
//     majority with them.
//   - A dead voter stays for --dead-voter-timeout: it may be restarting, or
//     cut off for a moment, and come back with its state. After that (or at
//     once when it came back without its state, under a new identity that
//     then usually takes its place) it stays only to keep min(3, --voters)
//     voters, so that a member merely restarting never shrinks the voters
//     to two that could not lose anyone.
//   - Caught-up live non-voters join, best-ranked first, until there are
//     --voters voters or every live member votes, keeping the count odd (an
//     even count tolerates no more failures than one fewer).
//   - The new set must have a majority of live members that answer this
//     leader: dead voters are dropped (the longest dead first) until it
//     does; without one the voters stay as they are.
//   - Only an excess over --voters demotes voters: dead ones first, then the
//     lowest-ranked live ones (after a bootstrap of more members).
func (cc *confChange) wantVoters() []string {
	now, self, maxVoters := cc.now, cc.opt.electionName(), cc.opt.maxVoters()
	var live, dead, expired []string
	deadSince := map[string]time.Time{}
	for _, v := range cc.table.Voters {
		m := cc.gossip[memberOf(v)]
		current := cc.gossip.hasIdentity(v)
		switch {
		case v == self:
			if !cc.leaving {
				live = append(live, v)
			}
		case current && m.Alive && cc.acks.silentFor(now, v) >= cc.opt.DeadVoterTimeout:
			// Alive in gossip but not answering this leader under that
			// identity (a stuck loop, a one-way cut): as good as dead.
			expired = append(expired, v)
		case current && m.Alive:
			if !m.Leaving {
				live = append(live, v)
			}
		case !current && m != nil && m.Alive:
			// Back without its state: the old identity never returns.
			expired = append(expired, v)
		default:
			since := cc.acks.electedAt
			if m != nil && m.deadSince.After(since) {
				since = m.deadSince
			}
			deadSince[v] = since
			if now.Sub(since) < cc.opt.DeadVoterTimeout {
				dead = append(dead, v)
			} else {
				expired = append(expired, v)
			}
		}
	}
	// The longest dead go first wherever dead voters must go.
	sort.SliceStable(dead, func(i, j int) bool { return deadSince[dead[i]].After(deadSince[dead[j]]) })
	if len(live) > maxVoters {
		cc.gossip.sortByRank(live, self)
		live = live[:maxVoters]
	}
	want := slices.Concat(live, dead)
	if len(want) > maxVoters {
		want = want[:maxVoters]
	}
	// The candidates (every other member, ranked) are listed only when a
	// place is free: with the voters whole, as nearly always, a leader of
	// 500 members ranked 500 members on every report for nothing (issue
	// 11, figure e).
	var cands []string
	listed, kept := false, slices.Clone(want)
	candidates := func() []string {
		if !listed {
			cands, listed = cc.voterCandidates(kept), true
		}
		return cands
	}
	if len(want) < maxVoters {
		target := min(maxVoters, len(want)+len(candidates()))
		if target%2 == 0 {
			target--
		}
		for len(want) < target && len(cands) > 0 {
			want = append(want, cands[0])
			cands = cands[1:]
		}
	}
	for _, v := range expired {
		if len(want) < min(3, maxVoters) && cc.liveMajority(append(slices.Clone(want), v)) {
			want = append(want, v)
		}
	}
	// A live voter (by gossip) that has not answered lately may have just
	// crashed: decide nothing until it answers or gossip calls it dead.
	// Shrinking the set around it (dropping dead voters to regain a
	// majority) would commit to a set that needs it.
	for _, v := range want {
		if cc.gossip.aliveAs(v) && !cc.fresh(v) {
			return slices.Clone(cc.table.Voters)
		}
	}
	for !cc.liveMajority(want) && len(want) > len(live) {
		// Drop the longest-dead voter still in the set.
		drop := -1
		for i, v := range want {
			if slices.Contains(dead, v) && (drop < 0 || deadSince[v].Before(deadSince[want[drop]])) {
				drop = i
			}
		}
		if drop < 0 {
			break
		}
		want = slices.Delete(want, drop, drop+1)
		// A freed slot goes to a candidate when the count allows.
		if t := min(maxVoters, len(want)+len(candidates())); len(want) < t-1+t%2 && len(cands) > 0 {
			want = append(want, cands[0])
			cands = cands[1:]
		}
	}
	if len(want) == 0 || !cc.liveMajority(want) {
		return slices.Clone(cc.table.Voters)
	}
	sort.Strings(want)
	return want
}

// voterCandidates lists, best-ranked first, the members that may become
// voters besides voters: admitted, alive, not draining, past their
// hold-down (unless a voter of that name lost its identity: it takes its
// place at once), answering heartbeats, and caught up (they acknowledged a
// table of this term, so they know the configuration they would vote in).
func (cc *confChange) voterCandidates(voters []string) []string {
	var out []string
	for _, name := range cc.table.Members {
		m := cc.gossip[name]
		if m == nil || name == cc.opt.Self {
			continue
		}
		el := ElectionName(name, m.Identity)
		wasVoter := slices.ContainsFunc(cc.table.Voters, func(v string) bool { return memberOf(v) == name })
		if slices.Contains(voters, el) || !m.Alive || m.Draining || m.Leaving ||
			!cc.acks.responsive(cc.now, name, cc.opt.Lease) ||
			(!wasVoter && m.heldDown(cc.now, cc.opt.Settle, cc.opt.FlapHoldDown)) ||
			cc.acks.appliedBy(el).Term != cc.acks.term {
			continue
		}
		out = append(out, el)
	}
	cc.gossip.sortByRank(out, cc.opt.electionName())
	return out
}

// liveMajority reports whether a majority of the voters in set answered
// this leader's heartbeats lately (fresh) under that very identity: a set
// without one would cost the leader its lease, and a joint change towards it
// could never complete.
func (cc *confChange) liveMajority(set []string) bool {
	return cc.majorityAnsweredWithin(set, 3*cc.opt.HeartbeatInterval)
}

// majorityAnsweredWithin reports whether a majority of set acknowledged a
// heartbeat of this leader within d, each under the identity it votes with.
func (cc *confChange) majorityAnsweredWithin(set []string, d time.Duration) bool {
	return election.Config{Voters: set}.HasQuorum(func(v string) bool { return cc.answeredWithin(v, d) })
}

// fresh reports whether election name v (this leader, or a member under
// that identity) acknowledged a heartbeat within three heartbeat intervals.
// A voter that crashed a moment ago may still look alive to gossip for
// seconds; counting it would let a change start towards a set that needs
// it, and a joint change that cannot complete costs the cluster its leader
// for good. Three intervals leave room for a late ack on a busy machine:
// a late ack only delays a change.
func (cc *confChange) fresh(v string) bool {
	return cc.answeredWithin(v, 3*cc.opt.HeartbeatInterval)
}

// answeredWithin reports whether election name v is this leader, or a live
// member under that identity that acknowledged a heartbeat within d.
func (cc *confChange) answeredWithin(v string, d time.Duration) bool {
	return v == cc.opt.electionName() || cc.gossip.aliveAs(v) && cc.acks.heardWithin(cc.now, v, d)
}
