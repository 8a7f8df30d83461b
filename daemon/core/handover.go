package core

import (
	"time"
)

// What a new leader learns from its votes about the leaders before it
// (docs/architecture.md, "How soon a new leader grants").
//
// Every member remembers the last heartbeat it acknowledged (lastAck); a
// granted vote carries it as an AckRecord. From the votes of a majority the
// new leader bounds two things without waiting for gossip or for a whole
// lease:
//
//   - when every older leader's leader lease surely ended (leasesEnd), and
//     with it every renewal an older leader could grant: an older leader
//     renews its lease only from heartbeats a majority acknowledged, that
//     majority shares a voter with ours, and that voter acknowledged nothing
//     after its vote;
//     A granted vote counts as an acknowledgement too: the winner's lease
//     runs from when it asked for the votes.
//   - when the previous leader's own holdings surely ended (prevUntil):
//     a leader's own lease is renewed only by its leader lease, and each
//     heartbeat says how long after its send time the leader's holdings may
//     still run (Envelope.LeaderTail). This holds only when the votes show
//     that no leader was elected between that leader's term and ours
//     (every voter's term before its vote is at most that leader's term):
//     such a leader could have renewed the previous one as an ordinary
//     member, for a whole lease.
//
// Leaders need not share --lease and --leader-lease (a rolling change of
// them): a leader's member leases run its own --lease (the member takes
// the length from the heartbeat that renews it), and every heartbeat and
// vote request carries LeaseBounds, which the voters keep in their
// AckRecords, so that the new leader's bounds above use the longest leases
// an older leader may still have running rather than its own settings.

// LeaseBounds bound the leases that may still run when a message is sent:
// every member lease an older or the sending leader granted is at most Lease
// long, every leader lease at most LeaderLease.
type LeaseBounds struct {
	Lease       time.Duration `json:"lease"`
	LeaderLease time.Duration `json:"leaderLease"`
}

// widen is the larger of b and o, field by field.
func (b LeaseBounds) widen(o LeaseBounds) LeaseBounds {
	return LeaseBounds{Lease: max(b.Lease, o.Lease), LeaderLease: max(b.LeaderLease, o.LeaderLease)}
}

// orOwn is the bounds a message carried, or, from a member of an older
// version that sends none, this member's own settings: members of an older
// version refuse members whose timing settings differ from theirs (the
// config fingerprint), so theirs are ours.
func orOwn(b *LeaseBounds, opt Options) LeaseBounds {
	if b == nil || b.Lease <= 0 || b.LeaderLease <= 0 {
		return opt.ownBounds()
	}
	return *b
}

// ownBounds are this member's own lease settings.
func (o Options) ownBounds() LeaseBounds {
	return LeaseBounds{Lease: o.Lease, LeaderLease: o.LeaderLease}
}

// AckRecord is what a voter tells the candidate it votes for about the last
// leader heartbeat it acknowledged.
type AckRecord struct {
	// Age is how long before this vote was sent the voter acknowledged that
	// heartbeat, by its own clock; when it acknowledged none since it
	// started (Known false), how long it has been running: any ack of an
	// earlier process of this voter came before that.
	Age   time.Duration `json:"age"`
	Known bool          `json:"known,omitempty"`
	// Term and Leader (member name and incarnation) are the heartbeat's.
	Term        uint64 `json:"term,omitempty"`
	Leader      string `json:"leader,omitempty"`
	Incarnation uint64 `json:"inc,omitempty"`
	// Tail is the LeaderTail the heartbeat carried; TailKnown is false when
	// it carried none (a leader of an older version).
	Tail      time.Duration `json:"tail,omitempty"`
	TailKnown bool          `json:"tailKnown,omitempty"`
	// PriorTerm is the voter's term before it took the term of this vote.
	PriorTerm uint64 `json:"prior"`
	// Bounds are the LeaseBounds of that heartbeat, or, when the last
	// thing acknowledged was a vote, the candidate's own widened by what
	// the voter knew before it (the leases running then may outlive the
	// vote); nil from a voter of an older version.
	Bounds *LeaseBounds `json:"bounds,omitempty"`
}

// lastAck is the member side: the newest heartbeat this process
// acknowledged, or its start time when none.
type lastAck struct {
	at    time.Time
	known bool
	rec   AckRecord // Term, Leader, Incarnation, Tail, TailKnown
	// bounds are rec's LeaseBounds, never below this member's own
	// settings. They are kept on disk (Durable.Bounds, stored before the ack
	// or vote that carries them): a voter that restarts with shorter flags
	// in a rolling change must still hand the longer bounds it acknowledged
	// to the next leader.
	bounds LeaseBounds
}

// votedFor records a vote granted at now to candidate (member name and
// incarnation) for term: a vote extends the winner's lease like an
// acknowledgement (its lease runs from when it asked), with no tail known.
// The candidate's bounds (its own settings, from the vote request) widen
// the ones kept: the leases the last acknowledged heartbeat told of may
// still run.
func (a *lastAck) votedFor(now time.Time, term uint64, candidate string, inc uint64, cand LeaseBounds) {
	a.at, a.known = now, true
	a.rec = AckRecord{Term: term, Leader: candidate, Incarnation: inc}
	a.bounds = a.bounds.widen(cand)
}

// ackedHeartbeat records an acknowledgement of a heartbeat sent at now. The
// heartbeat's bounds replace the ones kept: its leader's bounds cover every
// older leader's leases that may still run (leaderState.heartbeatBounds).
func (a *lastAck) ackedHeartbeat(now time.Time, term uint64, leader string, inc uint64, tail *time.Duration, hb, own LeaseBounds) {
	a.at, a.known = now, true
	a.rec = AckRecord{Term: term, Leader: leader, Incarnation: inc}
	if tail != nil {
		a.rec.Tail, a.rec.TailKnown = *tail, true
	}
	a.bounds = hb.widen(own)
}

// record is the AckRecord for a vote sent at now by a member whose term
// before the vote was prior.
func (a *lastAck) record(now time.Time, prior uint64) AckRecord {
	r := a.rec
	r.Age = max(now.Sub(a.at), 0)
	r.Known = a.known
	r.PriorTerm = prior
	b := a.bounds
	r.Bounds = &b
	return r
}

// predecessors is what the votes tell a new leader elected at now.
type predecessors struct {
	// leasesEnd: every older leader's lease (so every renewal it granted)
	// ended before it. Add the SafetyMargin before relying on it.
	leasesEnd time.Time
	// prev is the previous leader, when the votes prove it was the last one
	// (prevKnown), and prevTerm its term; its own holdings ended by
	// prevUntil.
	prev      holderKey
	prevTerm  uint64
	prevUntil time.Time
	prevKnown bool
	// bounds are the longest leases an older leader may have running: the
	// votes' bounds and this leader's own settings.
	bounds LeaseBounds
}

// fromVotes bounds the predecessors of a leader elected at now from the
// AckRecords of the votes it got (its own included; nil for a vote that
// carried none). Every bound is by this leader's clock: an age measured by
// another clock is at least age/(1+drift) here, a duration measured by the
// previous leader at most duration*(1+drift).
func fromVotes(now time.Time, opt Options, votes []*AckRecord) predecessors {
	shrink := func(d time.Duration) time.Duration { return time.Duration(float64(d) / (1 + opt.Drift)) }
	var minAge time.Duration
	for i, v := range votes {
		age := time.Duration(0)
		if v != nil {
			age = max(v.Age, 0) // a peer's negative age is no age
		}
		if i == 0 || age < minAge {
			minAge = age
		}
	}
	bounds := opt.ownBounds()
	for _, v := range votes {
		if v != nil {
			bounds = bounds.widen(orOwn(v.Bounds, opt))
		}
	}
	// The newest acknowledgement any voter made is at most now - minAge;
	// an older leader's lease ran at most bounds.LeaderLease past it.
	wait := max(scale(bounds.LeaderLease, opt.Drift)-shrink(minAge), 0)
	p := predecessors{leasesEnd: now.Add(wait), bounds: bounds}

	var newest uint64
	for _, v := range votes {
		if v == nil || !v.Known {
			return p // a voter that cannot say whom it acknowledged last
		}
		newest = max(newest, v.Term)
	}
	if newest == 0 {
		return p
	}
	var until time.Time
	for _, v := range votes {
		if v.PriorTerm > newest {
			return p // a newer term began: its leader may have renewed the previous one
		}
		if v.Term != newest {
			continue
		}
		if !v.TailKnown || p.prev.name != "" && (v.Leader != p.prev.name || v.Incarnation != p.prev.inc) {
			return p
		}
		p.prev = holderKey{v.Leader, v.Incarnation}
		if end := now.Add(scale(v.Tail, opt.Drift) - shrink(v.Age)); end.After(until) {
			until = end
		}
	}
	p.prevTerm = newest
	p.prevUntil = until.Add(opt.SafetyMargin)
	if p.prevUntil.Before(now) {
		p.prevUntil = now
	}
	p.prevKnown = p.prev.name != ""
	return p
}
