package core

import (
	"sort"
	"time"

	"github.com/ringd/ringd/election"
)

// memberState adds what the core tracks over time to what gossip says.
type memberState struct {
	MemberInfo
	// aliveSince is when gossip last saw the member come alive (or come
	// back as a new process); the election's settle rule reads it.
	aliveSince time.Time
	deadSince  time.Time
	// returns is the member's record of outages within its process, which
	// decides how long it waits before it gets partitions (holdDown).
	returns returnRecord
	// elName caches ElectionName(Name, Identity) for the identity
	// elNameIdentity: the election's member list is rebuilt on every
	// gossip change, for every member.
	elName         string
	elNameIdentity uint64
}

// electionName is the member's election name.
func (m *memberState) electionName() string {
	if m.elName == "" || m.elNameIdentity != m.Identity || memberOf(m.elName) != m.Name {
		m.elName, m.elNameIdentity = ElectionName(m.Name, m.Identity), m.Identity
	}
	return m.elName
}

// returnRecord counts a member's flaps: returns after an outage within one
// incarnation. An outage is gossip calling the member dead, or the leader
// not hearing from it for a lease (then its lease ran out and its
// partitions went elsewhere, whatever gossip says). A restart is a new
// incarnation and starts a new record: a new process is a new member, not a
// flaky one.
type returnRecord struct {
	incarnation uint64
	// out: the member is in an outage now.
	out bool
	// flaps counts returns within the incarnation since the count was last
	// forgiven (see back).
	flaps int
	// backAt is when the member last came back from an outage, outAt when
	// the current or last outage began.
	backAt, outAt time.Time
}

// Damping bounds (see docs/architecture.md, "Flapping members").
const (
	// flapDoublingsMax caps the hold-down at FlapHoldDown × 2^4: a member
	// that keeps flapping waits minutes, not hours, once it is stable.
	flapDoublingsMax = 4
	// flapForgiveHoldDowns: a member that stayed in for this many of its
	// hold-downs since its last return starts counting again from one at
	// its next return. Long, so that a member flapping with a period just
	// above its hold-down does not earn its way back after every flap.
	flapForgiveHoldDowns = 10
)

// flapHoldDown is how long a member with flaps flaps waits, once back,
// before it gets partitions again: base (FlapHoldDown) doubled per flap
// after the first, capped. Zero for no flaps, and when damping is off
// (base 0).
func flapHoldDown(flaps int, base time.Duration) time.Duration {
	if flaps <= 0 || base <= 0 {
		return 0
	}
	return base << min(flaps-1, flapDoublingsMax)
}

// restart starts the record of a new process, first seen at now.
func (r *returnRecord) restart(inc uint64) { *r = returnRecord{incarnation: inc} }

// wentOut records the start of an outage at now.
func (r *returnRecord) wentOut(now time.Time) {
	if !r.out {
		r.out, r.outAt = true, now
	}
}

// back records the end of an outage at now, a flap. A member that had
// stayed in for flapForgiveHoldDowns hold-downs after its last return,
// until this outage, is forgiven its earlier flaps: this is the only place
// the count decays, so asking for the hold-down never changes it.
func (r *returnRecord) back(now time.Time, base time.Duration) {
	if !r.out {
		return
	}
	if r.flaps > 0 && r.outAt.Sub(r.backAt) >= flapForgiveHoldDowns*flapHoldDown(r.flaps, base) {
		r.flaps = 0
	}
	r.out = false
	r.flaps++
	r.backAt = now
}

// observe updates m from what gossip says now. A new incarnation is a new
// process: it starts clean, whatever the old one did. A member first seen
// dead is not in an outage: it was never seen in.
func (m *memberState) observe(now time.Time, info MemberInfo, base time.Duration) {
	switch {
	case m.Name == "" || info.Incarnation != m.Incarnation || m.returns.incarnation != info.Incarnation:
		m.returns.restart(info.Incarnation)
		if info.Alive {
			m.aliveSince = now
		}
	case info.Alive && !m.Alive:
		m.aliveSince = now
		m.returns.back(now, base)
	case !info.Alive && m.Alive:
		m.returns.wentOut(now)
	}
	if !info.Alive && (m.Alive || m.Name == "") {
		m.deadSince = now
	}
	m.MemberInfo = info
}

// gone records that gossip no longer lists the member at all: dead.
func (m *memberState) gone(now time.Time) {
	if m.Alive {
		m.Alive = false
		m.deadSince = now
		m.returns.wentOut(now)
	}
}

// noteAnswers updates the outages the leader sees in acks (see heardFrom)
// for every member but self; hiccup is the leader timeout.
func (ms memberTable) noteAnswers(now time.Time, self string, acks *ackTracker, lease, hiccup, base time.Duration) {
	for name, m := range ms {
		if name == self {
			continue
		}
		at, acked := acks.lastAck[name]
		answered := acked && at.After(acks.electedAt) && now.Sub(at) < lease
		if !acked || at.Before(acks.electedAt) {
			at = acks.electedAt
		}
		m.heardFrom(now, now.Sub(at), answered, lease, hiccup, base)
	}
}

// heardFrom updates the member's outage from the leader's acks at now:
// quiet is how long it has not acknowledged a heartbeat (since the
// election at most), answered that it did within a lease in this term.
//
// A member quiet for a lease is in an outage even while gossip calls it
// alive: its lease ran out and its partitions go elsewhere. Silence within
// a lease of its coming alive or back does not count: it gets a lease to
// answer, so one outage seen by gossip and by the leader is counted once,
// and a new member is not out before its first ack.
//
// A member in its flap hold-down must answer like a healthy one: quiet for
// hiccup (a leader timeout, five heartbeats by default) restarts its
// hold-down, without counting a flap. A lossy member loses a lease's worth
// of heartbeats now and then but a leader timeout's worth often; without
// this it would sit out its hold-down between two lost leases and take its
// partitions back only to lose them again.
func (m *memberState) heardFrom(now time.Time, quiet time.Duration, answered bool, lease, hiccup, base time.Duration) {
	r := &m.returns
	switch {
	case !m.Alive:
	case quiet >= lease && !r.out && now.Sub(later(m.aliveSince, r.backAt)) >= lease:
		r.wentOut(now)
	case r.flaps > 0 && !r.out && quiet >= hiccup && now.Sub(r.backAt) < flapHoldDown(r.flaps, base):
		r.backAt = now
	case answered:
		r.back(now, base)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// holdDown is how long after it came alive (or back) a member waits
// before it gets partitions, and since when; until then it is left out of
// the assignment. A new member or a new process waits settle; a member that
// flapped waits the flap hold-down (when longer) from its last return.
// It only reads m.
func (m *memberState) holdDown(settle, base time.Duration) (since time.Time, wait time.Duration) {
	since, wait = m.aliveSince, settle
	if m.returns.flaps > 0 && m.returns.backAt.After(since) {
		since = m.returns.backAt
	}
	return since, max(wait, flapHoldDown(m.returns.flaps, base))
}

// heldDown reports whether the member is within its hold-down at now, or
// in an outage.
func (m *memberState) heldDown(now time.Time, settle, base time.Duration) bool {
	since, wait := m.holdDown(settle, base)
	return m.returns.out || now.Sub(since) < wait
}

// memberTable is the gossip view by member name, this member included. The
// core updates it (SetMembers); the leader reads it.
type memberTable map[string]*memberState

// current reports whether member name is alive in incarnation inc: the
// process a grant was made to is still the one gossip sees.
func (ms memberTable) current(name string, inc uint64) bool {
	m := ms[name]
	return m != nil && m.Alive && m.Incarnation == inc
}

// hasIdentity reports whether gossip knows the member of election name v
// under that very identity (alive or not): a member that came back without
// its state has a new one, and the old voter never returns.
func (ms memberTable) hasIdentity(v string) bool {
	m := ms[memberOf(v)]
	return m != nil && ElectionName(m.Name, m.Identity) == v
}

// aliveAs reports whether election name v is a live member under that very
// identity.
func (ms memberTable) aliveAs(v string) bool {
	return ms.hasIdentity(v) && ms[memberOf(v)].Alive
}

// sortByRank sorts election names in ring order (rank 0 first); dead and
// unknown members, and identities a member no longer has, go last. self,
// this member's election name, counts as alive.
func (ms memberTable) sortByRank(names []string, self string) {
	alive := func(n string) bool { return n == self || ms.aliveAs(n) }
	prio := func(n string) int {
		if m := ms[memberOf(n)]; m != nil {
			return m.Priority
		}
		return 0
	}
	sort.SliceStable(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if alive(a) != alive(b) {
			return alive(a)
		}
		return election.Outranks(a, prio(a), b, prio(b))
	})
}
