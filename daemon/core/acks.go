package core

import (
	"time"

	"github.com/ringd/ringd/partitions"
)

// ackTracker is what one leader term learned from heartbeat acks: who
// answers (a member silent for a lease gets no partitions: its own lease has
// run out, so failover does not wait for gossip to declare it dead), under
// which voter identity (voter changes count only members heard from under
// the very identity they vote with), and which table each voter applied (a
// change of voters completes, and leadership is handed over, only on that).
type ackTracker struct {
	term      uint64
	electedAt time.Time
	// self is this member's name: the leader always answers itself.
	self string
	// lastAck is when each member last acknowledged a heartbeat.
	lastAck map[string]time.Time
	// voterAck is when each election name (member and identity) last
	// acknowledged a heartbeat.
	voterAck map[string]time.Time
	// applied is the newest table of this term each election name
	// acknowledged.
	applied map[string]partitions.TableID
}

// newAckTracker starts a term elected at now. Every member gossip knows
// counts as answering for a lease after the election, as if it had just
// acknowledged.
func newAckTracker(now time.Time, term uint64, self string, members memberTable) ackTracker {
	a := ackTracker{term: term, electedAt: now, self: self,
		lastAck: map[string]time.Time{}, voterAck: map[string]time.Time{}, applied: map[string]partitions.TableID{}}
	for name := range members {
		a.lastAck[name] = now
	}
	return a
}

// ack records a heartbeat ack received at now from member under election
// name voter, which had applied table. Applied tables count per voter
// identity (a member that lost its state does not vouch for what its old
// identity acknowledged), and only tables of this term count (an ack of an
// older leader's table proves nothing about this leader's changes).
func (a *ackTracker) ack(now time.Time, member, voter string, table partitions.TableID) {
	a.lastAck[member] = now
	a.voterAck[voter] = now
	a.tableApplied(voter, table)
}

// tableApplied records that election name voter applied table, as an ack
// or a holdings report (written after applying it) says.
func (a *ackTracker) tableApplied(voter string, table partitions.TableID) {
	if table.Term == a.term && a.applied[voter].Less(table) {
		a.applied[voter] = table
	}
}

// responsive reports whether member name (or this member) acknowledged a
// heartbeat within lease.
func (a *ackTracker) responsive(now time.Time, name string, lease time.Duration) bool {
	if name == a.self {
		return true
	}
	at, ok := a.lastAck[name]
	if !ok {
		at = a.electedAt
	}
	return now.Sub(at) < lease
}

// heard reports whether member name acknowledged a heartbeat of this term
// (not only the election's benefit of the doubt, newAckTracker).
func (a *ackTracker) heard(name string) bool {
	return a.lastAck[name].After(a.electedAt)
}

// heardWithin reports whether election name v acknowledged a heartbeat
// within d.
func (a *ackTracker) heardWithin(now time.Time, v string, d time.Duration) bool {
	at, ok := a.voterAck[v]
	return ok && now.Sub(at) < d
}

// silentFor is how long election name v has not acknowledged a heartbeat
// (counted from the election at the most). The leader sends itself no
// heartbeats, so for its own name this only grows: callers decide about
// the leader before they ask (wantVoters does).
func (a *ackTracker) silentFor(now time.Time, v string) time.Duration {
	at := a.electedAt
	if t, ok := a.voterAck[v]; ok && t.After(at) {
		at = t
	}
	return now.Sub(at)
}

// appliedBy is the newest table of this term election name v acknowledged
// (zero when none).
func (a *ackTracker) appliedBy(v string) partitions.TableID { return a.applied[v] }
