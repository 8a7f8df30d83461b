package core

import (
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// TestRestartedVoterKeepsNewestAppliedTable: a voter stores the id of every
// table it applies, not only of those that change the voters, so that after
// a restart it still refuses its vote to a candidate older than a table the
// leader may have counted its acknowledgement of (committed; found by a
// review: a voter that restarted could elect a leader whose table still
// listed a partition the old leader had given away).
func TestRestartedVoterKeepsNewestAppliedTable(t *testing.T) {
	now := time.Unix(10_000, 0)
	opt := Options{Self: "m1", Incarnation: 1, Identity: 1, Partitions: 4, Load: 1.25,
		HeartbeatInterval: 100 * time.Millisecond, LeaderTimeout: 500 * time.Millisecond,
		ElectionTimeout: 300 * time.Millisecond, LeaderLease: time.Second, Lease: 2 * time.Second,
		Settle: 100 * time.Millisecond, ReleaseTimeout: time.Second}
	voters := []string{ElectionName("m0", 1), ElectionName("m1", 1), ElectionName("m2", 1)}
	table := func(version uint64) partitions.Table {
		return partitions.Table{ID: partitions.TableID{Term: 5, Version: version}, Leader: "m0",
			Members: []string{"m0", "m1", "m2"}, Voters: voters, Partitions: make([]partitions.Entry, 4)}
	}
	t1, t2 := table(1), table(2)

	c := New(opt, Durable{})
	c.SetMembers(now, nil)
	c.Step(now, Envelope{From: "m0", Incarnation: 1, Identity: 1, Table: &t1})
	c.Advance(c.Ready())
	c.Step(now, Envelope{From: "m0", Incarnation: 1, Identity: 1, Table: &t2})
	r := c.Ready()
	if r.Durable == nil || r.Durable.Config.Table != t2.ID {
		t.Fatalf("durable state after applying %v (same voters as %v): %+v", t2.ID, t1.ID, r.Durable)
	}
	kept := *r.Durable

	// After a restart, a candidate with t1 does not get the vote; one with
	// t2 does.
	vote := func(last partitions.TableID) bool {
		opt := opt
		opt.Incarnation = 2
		c := New(opt, kept)
		c.SetMembers(now, nil)
		c.Step(now, Envelope{From: "m2", Incarnation: 1, Identity: 1, Election: &election.Message{
			Type: election.MsgVoteRequest, Term: 6, LastTable: last}})
		for _, m := range c.Ready().Messages {
			if e := m.Env.Election; e != nil && e.Type == election.MsgVoteResponse {
				return e.Granted
			}
		}
		t.Fatalf("no vote response to a candidate with %v", last)
		return false
	}
	if vote(t1.ID) {
		t.Fatalf("a restarted voter that applied %v voted for a candidate with %v", t2.ID, t1.ID)
	}
	if !vote(t2.ID) {
		t.Fatalf("a restarted voter refused a candidate with its own newest table %v", t2.ID)
	}
}
