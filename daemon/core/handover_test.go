package core

import (
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

var handoverOpt = Options{LeaderLease: time.Second, Lease: 3 * time.Second, Drift: 0.05, SafetyMargin: 200 * time.Millisecond}

// ackOf is a vote's record of a heartbeat of leader "x" (incarnation 7) in
// term 5, acknowledged age ago, whose tail was tail.
func ackOf(age, tail time.Duration) *AckRecord {
	return &AckRecord{Age: age, Known: true, Term: 5, Leader: "x", Incarnation: 7, Tail: tail, TailKnown: true, PriorTerm: 5}
}

func TestFromVotesBoundsOlderLeasesByTheNewestAck(t *testing.T) {
	now := time.Unix(1000, 0)
	// No record (a voter of an older version): an older lease may have
	// been renewed a moment ago.
	if got, want := fromVotes(now, handoverOpt, []*AckRecord{nil}).leasesEnd, now.Add(1050*time.Millisecond); !got.Equal(want) {
		t.Errorf("leasesEnd without records = %v, want %v", got.Sub(now), want.Sub(now))
	}
	// The newest acknowledgement (smallest age) counts: 840 ms by the
	// voter's clock is at least 800 ms here.
	p := fromVotes(now, handoverOpt, []*AckRecord{ackOf(2*time.Second, time.Second), ackOf(840*time.Millisecond, time.Second)})
	if got, want := p.leasesEnd.Sub(now), 250*time.Millisecond; got != want {
		t.Errorf("leasesEnd = now+%v, want now+%v (1.05s - 840ms/1.05)", got, want)
	}
	// Acknowledged longer ago than a leader lease: no older lease runs.
	if p := fromVotes(now, handoverOpt, []*AckRecord{ackOf(2*time.Second, time.Second)}); !p.leasesEnd.Equal(now) {
		t.Errorf("leasesEnd = now+%v, want now", p.leasesEnd.Sub(now))
	}
}

func TestFromVotesBoundsThePreviousLeadersHoldings(t *testing.T) {
	now := time.Unix(1000, 0)
	p := fromVotes(now, handoverOpt, []*AckRecord{ackOf(1050*time.Millisecond, time.Second), ackOf(2*time.Second, 3*time.Second)})
	if !p.prevKnown || p.prev != (holderKey{"x", 7}) {
		t.Fatalf("prev = %+v known=%v, want x/7", p.prev, p.prevKnown)
	}
	// max(1.05s - 1s, 3.15s - 1.905s) + 200ms margin = 1.445s.
	ago := 2 * time.Second
	want := 3150*time.Millisecond - time.Duration(float64(ago)/1.05) + 200*time.Millisecond
	if got := p.prevUntil.Sub(now); got != want {
		t.Errorf("prevUntil = now+%v, want now+%v (the latest bound of any vote)", got, want)
	}
}

func TestFromVotesKnowsNoPreviousLeaderWhenItCannotProveOne(t *testing.T) {
	now := time.Unix(1000, 0)
	base := func() []*AckRecord {
		return []*AckRecord{ackOf(time.Second, time.Second), ackOf(time.Second, time.Second)}
	}
	cases := map[string]func(v []*AckRecord){
		// A newer term began after the last heartbeat: a leader of that
		// term may have renewed x as an ordinary member, for a whole lease.
		"a voter was in a newer term": func(v []*AckRecord) { v[1].PriorTerm = 6 },
		"a vote carries no record":    func(v []*AckRecord) { v[1] = nil },
		// Restarted: an earlier process of it may have acked anyone.
		"a voter acked nobody since it started":   func(v []*AckRecord) { v[1] = &AckRecord{Age: time.Second, PriorTerm: 5} },
		"the leader sent no tail (older version)": func(v []*AckRecord) { v[1].TailKnown = false },
		"two leaders claim the term":              func(v []*AckRecord) { v[1].Incarnation = 8 },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			v := base()
			spoil(v)
			if p := fromVotes(now, handoverOpt, v); p.prevKnown {
				t.Errorf("prevKnown with %s", name)
			}
		})
	}
	// An older term acknowledged by one voter does not matter: the newest
	// term's votes bound its leader.
	v := base()
	v[1].Term, v[1].Leader = 4, "w"
	if p := fromVotes(now, handoverOpt, v); !p.prevKnown || p.prev.name != "x" {
		t.Errorf("prev = %+v known=%v, want x", p.prev, p.prevKnown)
	}
}

// TestLeaderGrantsWhatItFreedOnlyOnceCommitted: a partition the leader
// itself let go of goes to another member only after a majority of the
// voters applied the table that shows it free, so that a successor never
// sees it still listed as the leader's while another member holds it.
func TestLeaderGrantsWhatItFreedOnlyOnceCommitted(t *testing.T) {
	now := time.Unix(10_000, 0)
	opt := Options{Self: "a", Incarnation: 1, Identity: 1, Partitions: 2, Load: 1.25,
		LeaderLease: time.Second, Lease: 2 * time.Second, SafetyMargin: 100 * time.Millisecond}
	members := memberTable{}
	for _, n := range []string{"a", "b", "c"} {
		members[n] = &memberState{MemberInfo: MemberInfo{Name: n, Incarnation: 1, Identity: 1, Alive: true}}
	}
	voters := []string{el("a"), el("b"), el("c")}
	base := partitions.Table{ID: partitions.TableID{Term: 3, Version: 4}, Leader: "a", Members: []string{"a", "b", "c"},
		Voters: voters, Partitions: []partitions.Entry{
			{Owner: "a", Incarnation: 1, Token: 3001, State: partitions.Owned},
			{Owner: "b", Incarnation: 1, Token: 3001, State: partitions.Owned}}}
	hold := func(items ...partitions.Holding) partitions.Report {
		return partitions.Report{Incarnation: 1, Seq: uint64(len(items) + 1), Applied: base.ID, Items: items}
	}
	l := newLeaderState(opt, members, func(Event) {}, now, 9, base, election.Config{Voters: voters}, false,
		map[string]partitions.Report{"a": hold(ownedHolding(0, 3001)), "b": hold(ownedHolding(1, 3001)), "c": hold()},
		fromVotes(now, opt, nil))
	later := now.Add(time.Hour) // long past every wait
	published := l.nextTable().ID
	l.acks.ack(later, "b", el("b"), published)
	l.acks.ack(later, "c", el("c"), published)

	l.selfReport(later, partitions.Report{Incarnation: 1, Seq: 9, Applied: published}, true) // a let go of 0
	l.freeReleased(later)
	if l.table.Partitions[0].Owner != "" {
		t.Fatalf("partition 0 not freed: %+v", l.table.Partitions[0])
	}
	if l.canGrant(later, 0, "c") {
		t.Fatal("partition 0 may go to c before any voter applied the table that freed it")
	}
	freed := l.nextTable().ID
	l.acks.ack(later, "b", el("b"), freed)
	if !l.canGrant(later, 0, "c") {
		t.Fatal("partition 0 may not go to c although a and b (a majority) applied the table that freed it")
	}
}

// TestNewLeaderListsAsItsOwnOnlyWhatItHolds: a base table entry naming the
// new leader that its own report does not show is freed in its first
// table. Kept, a successor would take it for a partition only this leader
// could hold, while an older leader may have moved it on in a table this
// leader never saw.
func TestNewLeaderListsAsItsOwnOnlyWhatItHolds(t *testing.T) {
	now := time.Unix(10_000, 0)
	opt := Options{Self: "b", Incarnation: 1, Identity: 1, Partitions: 2, Load: 1.25,
		LeaderLease: time.Second, Lease: 2 * time.Second}
	members := memberTable{"b": {MemberInfo: MemberInfo{Name: "b", Incarnation: 1, Identity: 1, Alive: true}}}
	base := partitions.Table{ID: partitions.TableID{Term: 1, Version: 10}, Leader: "a", Members: []string{"a", "b"},
		Voters: []string{el("b")}, Partitions: []partitions.Entry{
			{Owner: "b", Incarnation: 1, Token: 1001, State: partitions.Releasing},
			{Owner: "b", Incarnation: 1, Token: 1002, State: partitions.Owned}}}
	l := newLeaderState(opt, members, func(Event) {}, now, 2, base, election.Config{Voters: []string{el("b")}}, false,
		map[string]partitions.Report{"b": {Incarnation: 1, Seq: 3, Applied: base.ID, Items: []partitions.Holding{ownedHolding(1, 1002)}}},
		fromVotes(now, opt, nil))
	if e := l.table.Partitions[0]; e.Owner != "" {
		t.Errorf("partition 0, which b let go of, is still listed as b's: %+v", e)
	}
	if e := l.table.Partitions[1]; e.Owner != "b" || e.Token != 1002 {
		t.Errorf("partition 1, which b holds, is listed as %+v", e)
	}
}

// TestVoteCountsAsAcknowledgement: a voter's last acknowledgement is its
// vote once it gave one (the winner's lease runs from its request), and a
// vote has no tail, so a successor cannot bound that leader's holdings from
// it.
func TestVoteCountsAsAcknowledgement(t *testing.T) {
	now := time.Unix(1000, 0)
	var a lastAck
	tail := time.Second
	own := handoverOpt.ownBounds()
	a.ackedHeartbeat(now, 5, "x", 7, &tail, own, own)
	a.votedFor(now.Add(2*time.Second), 6, "y", 3, own)
	rec := a.record(now.Add(2500*time.Millisecond), 6)
	if rec.Age != 500*time.Millisecond || rec.Term != 6 || rec.Leader != "y" || rec.TailKnown {
		t.Fatalf("record after a vote = %+v, want age 500ms, term 6, leader y, no tail", rec)
	}
	if p := fromVotes(now, handoverOpt, []*AckRecord{&rec}); p.prevKnown {
		t.Error("a leader known only from a vote has bounded holdings")
	}
}

// TestBoundsFollowTheLongestLeases: while members run different --lease and
// --leader-lease (a rolling change), a new leader counts its waits with the
// longest leases its votes tell of, never with shorter ones of its own.
func TestBoundsFollowTheLongestLeases(t *testing.T) {
	now := time.Unix(1000, 0)
	long := LeaseBounds{Lease: 8 * time.Second, LeaderLease: 3 * time.Second}
	v := ackOf(0, time.Second)
	v.Bounds = &long
	p := fromVotes(now, handoverOpt, []*AckRecord{ackOf(0, time.Second), v})
	if p.bounds != long {
		t.Errorf("bounds = %+v, want the longer %+v", p.bounds, long)
	}
	if got, want := p.leasesEnd.Sub(now), 3150*time.Millisecond; got != want {
		t.Errorf("leasesEnd = now+%v, want now+%v (the older leader's 3s leader lease × 1.05)", got, want)
	}
	// Shorter bounds than this leader's own settings never shorten a wait.
	short := LeaseBounds{Lease: time.Second, LeaderLease: 100 * time.Millisecond}
	v.Bounds = &short
	if p := fromVotes(now, handoverOpt, []*AckRecord{v}); p.bounds != handoverOpt.ownBounds() {
		t.Errorf("bounds = %+v, want our own %+v", p.bounds, handoverOpt.ownBounds())
	}
}

// TestLastAckKeepsBounds: a heartbeat's bounds replace what a member kept
// (that leader covered the older leaders' leases), a vote only widens it (the
// leases the last heartbeat told of may outlive the vote), and a member's
// own settings are the floor.
func TestLastAckKeepsBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	own := handoverOpt.ownBounds()
	a := lastAck{bounds: own}
	long := LeaseBounds{Lease: 9 * time.Second, LeaderLease: 4 * time.Second}
	a.ackedHeartbeat(now, 5, "x", 7, nil, long, own)
	short := LeaseBounds{Lease: time.Second, LeaderLease: 200 * time.Millisecond}
	a.votedFor(now.Add(time.Second), 6, "y", 3, short)
	if rec := a.record(now.Add(time.Second), 6); rec.Bounds == nil || *rec.Bounds != long {
		t.Errorf("bounds after a vote = %v, want the heartbeat's %+v kept", rec.Bounds, long)
	}
	a.ackedHeartbeat(now.Add(2*time.Second), 6, "y", 3, nil, short, own)
	if rec := a.record(now.Add(2*time.Second), 6); *rec.Bounds != own {
		t.Errorf("bounds after a shorter heartbeat = %+v, want our own %+v as the floor", *rec.Bounds, own)
	}
}

// TestHeartbeatBoundsEndWithTheSafeWait: a leader's heartbeats carry an older
// leader's longer leases until its safe wait is over, its own after, so that
// a finished rolling change stops costing longer failovers.
func TestHeartbeatBoundsEndWithTheSafeWait(t *testing.T) {
	now := time.Unix(1000, 0)
	long := LeaseBounds{Lease: 8 * time.Second, LeaderLease: 3 * time.Second}
	l := &leaderState{opt: handoverOpt, inherited: long, holders: newHolderTracker(now.Add(5*time.Second), handoverOpt.leaseSafe())}
	if got := l.heartbeatBounds(now); got != long {
		t.Errorf("during the safe wait: %+v, want %+v", got, long)
	}
	if got := l.heartbeatBounds(now.Add(5 * time.Second)); got != handoverOpt.ownBounds() {
		t.Errorf("after the safe wait: %+v, want %+v", got, handoverOpt.ownBounds())
	}
}
