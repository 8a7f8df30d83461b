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
}

// lastAck is the member side: the newest heartbeat this process
// acknowledged, or its start time when none.
type lastAck struct {
	at    time.Time
	known bool
	rec   AckRecord // Term, Leader, Incarnation, Tail, TailKnown
}

// votedFor records a vote granted at now to candidate (member name and
// incarnation) for term: a vote extends the winner's lease like an
// acknowledgement (its lease runs from when it asked), with no tail known.
func (a *lastAck) votedFor(now time.Time, term uint64, candidate string, inc uint64) {
	a.at, a.known = now, true
	a.rec = AckRecord{Term: term, Leader: candidate, Incarnation: inc}
}

// ackedHeartbeat records an acknowledgement of a heartbeat sent at now.
func (a *lastAck) ackedHeartbeat(now time.Time, term uint64, leader string, inc uint64, tail *time.Duration) {
	a.at, a.known = now, true
	a.rec = AckRecord{Term: term, Leader: leader, Incarnation: inc}
	if tail != nil {
		a.rec.Tail, a.rec.TailKnown = *tail, true
	}
}

// record is the AckRecord for a vote sent at now by a member whose term
// before the vote was prior.
func (a *lastAck) record(now time.Time, prior uint64) AckRecord {
	r := a.rec
	r.Age = max(now.Sub(a.at), 0)
	r.Known = a.known
	r.PriorTerm = prior
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
	// The newest acknowledgement any voter made is at most now - minAge;
	// an older leader's lease ran at most LeaderLease past it.
	wait := max(scale(opt.LeaderLease, opt.Drift)-shrink(minAge), 0)
	p := predecessors{leasesEnd: now.Add(wait)}

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
