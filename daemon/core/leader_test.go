package core

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

func TestPlanFailureReportedOncePerInputs(t *testing.T) {
	now := time.Unix(10_000, 0)
	// Load 0 is refused by rebalance.Plan: every plan fails.
	opt := Options{Self: "m0", Incarnation: 1, Identity: 1, Partitions: 4, Load: 0,
		Lease: 2 * time.Second, Settle: time.Second}
	members := memberTable{"m0": {MemberInfo: MemberInfo{Name: "m0", Incarnation: 1, Identity: 1, Alive: true}}}
	var events []Event
	l := newLeaderState(opt, members, func(e Event) { events = append(events, e) }, now, 9,
		partitions.Table{}, election.Config{Voters: []string{el("m0")}}, false,
		map[string]partitions.Report{"m0": {Incarnation: 1}}, fromVotes(now, opt, nil))
	failures := func() int {
		n := 0
		for _, e := range events {
			if e.Kind == EventPlanFailed {
				if !errors.Is(e.Err, rebalance.ErrInvalidConfig) {
					t.Errorf("plan failed with %v, want ErrInvalidConfig", e.Err)
				}
				n++
			}
		}
		return n
	}
	l.plan(now)
	l.plan(now.Add(100 * time.Millisecond))
	if n := failures(); n != 1 {
		t.Fatalf("%d plan failures reported for the same inputs, want 1", n)
	}
	members["m1"] = &memberState{MemberInfo: MemberInfo{Name: "m1", Incarnation: 1, Identity: 1, Alive: true},
		aliveSince: now.Add(-time.Hour)}
	l.table.Members = append(l.table.Members, "m1")
	l.acks.lastAck["m1"] = now.Add(150 * time.Millisecond) // it answered: new grants may go to it
	l.plan(now.Add(200 * time.Millisecond))
	if n := failures(); n != 2 {
		t.Fatalf("%d plan failures reported after the members changed, want 2", n)
	}
}

func TestRefusedTransferRequestIsReported(t *testing.T) {
	now := time.Unix(10_000, 0)
	c := New(Options{Self: "m0", Incarnation: 1, Identity: 1, Partitions: 4, Load: 1.25,
		HeartbeatInterval: 100 * time.Millisecond, LeaderTimeout: 500 * time.Millisecond,
		ElectionTimeout: 300 * time.Millisecond, LeaderLease: time.Second, Lease: 2 * time.Second,
		Settle: 100 * time.Millisecond, ReleaseTimeout: time.Second, BootstrapAlone: true}, Durable{})
	c.SetMembers(now, nil)
	for deadline := now.Add(time.Minute); c.Status().Role != election.Leader; {
		if now = now.Add(10 * time.Millisecond); now.After(deadline) {
			t.Fatal("a lone bootstrapping member did not become leader within a minute")
		}
		c.Tick(now)
	}
	c.Advance(c.Ready())
	// Another member forwards an operator's request for a member that
	// does not exist.
	c.Step(now, Envelope{From: "m1", Incarnation: 1, Identity: 1, TransferTo: "nobody"})
	var got []Event
	for _, e := range c.Ready().Events {
		if e.Kind == EventTransferFailed {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].From != "m1" || got[0].To != "nobody" || !errors.Is(got[0].Err, election.ErrUnknownMember) {
		t.Fatalf("transfer-failed events %+v, want one from m1 to nobody with ErrUnknownMember", got)
	}
	if c.Status().Role != election.Leader {
		t.Error("a refused transfer request changed the leadership")
	}
}

// TestNoNewGrantsToAMemberThatDidNotAnswer: a new leader grants nothing to
// a member before it acknowledges one of its heartbeats (gossip may still
// call a crashed member alive, and partitions granted to it would stay
// unowned for a lease), and plans without a member still silent a few
// heartbeats after the election.
func TestNoNewGrantsToAMemberThatDidNotAnswer(t *testing.T) {
	now := time.Unix(10_000, 0)
	opt := Options{Self: "m0", Incarnation: 1, Identity: 1, Partitions: 8, Load: 1.25,
		HeartbeatInterval: 100 * time.Millisecond, Lease: 2 * time.Second, Settle: time.Second}
	members := memberTable{}
	for _, n := range []string{"m0", "m1", "m2"} {
		members[n] = &memberState{MemberInfo: MemberInfo{Name: n, Incarnation: 1, Identity: 1, Alive: true},
			aliveSince: now.Add(-time.Hour)}
	}
	table := partitions.Table{ID: partitions.TableID{Term: 8, Version: 3}, Leader: "m9", Members: []string{"m0", "m1", "m2"},
		Voters: []string{el("m0"), el("m1"), el("m2")}, Partitions: make([]partitions.Entry, 8)}
	l := newLeaderState(opt, members, func(Event) {}, now, 9, table, election.Config{Voters: table.Voters}, false,
		map[string]partitions.Report{"m0": {Incarnation: 1}}, fromVotes(now, opt, nil))
	if got := l.assignable(now); !slices.Equal(got, []string{"m0", "m1", "m2"}) {
		t.Fatalf("assignable right after the election = %v, want all three", got)
	}
	l.holders.safeUntil = now // as if the safe wait were over: only answering matters here
	l.acks.lastAck["m1"] = now.Add(50 * time.Millisecond)
	l.plan(now.Add(100 * time.Millisecond))
	granted := 0
	for p, e := range l.table.Partitions {
		if e.Owner == "m2" {
			t.Fatalf("partition %d granted to m2, which never answered: %+v", p, l.table.Partitions)
		}
		if e.Owner != "" {
			granted++
		}
	}
	if granted == 0 {
		t.Fatalf("nothing granted to the members that answered: %+v", l.table.Partitions)
	}
	if got := l.assignable(now.Add(unheardGrace(opt))); !slices.Equal(got, []string{"m0", "m1"}) {
		t.Fatalf("assignable three heartbeats after the election = %v, want [m0 m1] (m2 still silent)", got)
	}
	l.acks.lastAck["m2"] = now.Add(400 * time.Millisecond)
	if got := l.assignable(now.Add(500 * time.Millisecond)); !slices.Equal(got, []string{"m0", "m1", "m2"}) {
		t.Fatalf("assignable after m2 answered = %v, want all three", got)
	}
}
