package core_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
	"github.com/ringd/ringd/partitions"
)

// loneOptions are the options of member a (incarnation and identity 1) of a
// 4-partition cluster with the simulation's timings, for cores driven by
// hand.
func loneOptions() core.Options {
	o := fast.Options
	o.Self, o.Incarnation, o.Identity, o.Partitions, o.Load = "a", 1, 1, 4, simcluster.Load
	o.DeadVoterTimeout, o.DeadMemberTimeout = simcluster.DeadVoterTimeout, simcluster.DeadMemberTimeout
	return o
}

// elect drives a lone core through a campaign, answering its pre-vote and
// vote requests with grants from the given voters, until it leads.
func elect(t *testing.T, c *core.Core, now time.Time, voters ...string) time.Time {
	t.Helper()
	for i := 0; i < 200 && !c.IsLeader(now); i++ {
		now = now.Add(fast.Tick)
		c.Tick(now)
		for _, out := range c.Ready().Messages {
			m := out.Env.Election
			if m == nil {
				continue
			}
			var typ election.MsgType
			switch m.Type {
			case election.MsgPreVoteRequest:
				typ = election.MsgPreVoteResponse
			case election.MsgVoteRequest:
				typ = election.MsgVoteResponse
			default:
				continue
			}
			c.Step(now, core.Envelope{From: out.To, Incarnation: 7, Identity: 7,
				Election: &election.Message{Type: typ, Term: m.Term, Granted: true}})
		}
	}
	if !c.IsLeader(now) {
		t.Fatalf("the core did not get elected")
	}
	return now
}

// TestNewLeaderDoesNotStartOldPendingGrant: a member holds a pending grant
// from an older term (its lease had lapsed when the table arrived, so it never
// started it). When it is elected, it renews its own lease: that must not
// start the old grant, which a later leader may have given to someone else
// with a higher token. (Ownership.Renew reconciles its grants, which would
// start the pending one unless startable refuses it first.)
func TestNewLeaderDoesNotStartOldPendingGrant(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := core.New(loneOptions(),
		core.Durable{})
	c.SetMembers(now, []core.MemberInfo{
		{Name: "b", Incarnation: 7, Identity: 7, Alive: true},
		{Name: "c", Incarnation: 7, Identity: 7, Alive: true},
	})
	oldTerm := uint64(5)
	voters := []string{core.ElectionName("a", 1), core.ElectionName("b", 7), core.ElectionName("c", 7)}
	c.Step(now, core.Envelope{From: "b", Incarnation: 7, Identity: 7, Table: &partitions.Table{
		ID: partitions.TableID{Term: oldTerm, Version: 3}, Leader: "b",
		Members: []string{"a", "b", "c"}, Voters: voters,
		Partitions: []partitions.Entry{
			{Owner: "a", Incarnation: 1, Token: oldTerm*1000 + 1, State: partitions.Owned},
			{Owner: "b", Incarnation: 7, Token: oldTerm*1000 + 2, State: partitions.Owned},
			{Owner: "c", Incarnation: 7, Token: oldTerm*1000 + 3, State: partitions.Owned},
			{Owner: "b", Incarnation: 7, Token: oldTerm*1000 + 4, State: partitions.Owned},
		},
	}})
	if r := c.View(now); len(r.Holdings) != 0 {
		t.Fatalf("without a lease, nothing may be visible: %v", r.Holdings)
	}
	now = elect(t, c, now, "b", "c")
	for _, h := range c.View(now).Holdings {
		if h.ID == 0 && h.Token == oldTerm*1000+1 {
			t.Fatalf("the new leader started the pending grant of partition 0 from term %d (token %d)", oldTerm, h.Token)
		}
	}
}

// coreWithVoters returns core a@1 holding a table whose voters are a@1, b@2
// and c@3, with b and c alive in gossip under the identities given.
func coreWithVoters(t *testing.T, now time.Time, bID, cID uint64) *core.Core {
	t.Helper()
	c := core.New(loneOptions(),
		core.Durable{})
	c.SetMembers(now, []core.MemberInfo{
		{Name: "b", Incarnation: bID, Identity: bID, Alive: true},
		{Name: "c", Incarnation: cID, Identity: cID, Alive: true},
	})
	c.Step(now, core.Envelope{From: "b", Incarnation: bID, Identity: bID, Table: &partitions.Table{
		ID: partitions.TableID{Term: 5, Version: 3}, Leader: "b", Members: []string{"a", "b", "c"},
		Voters:     []string{core.ElectionName("a", 1), core.ElectionName("b", 2), core.ElectionName("c", 3)},
		Partitions: make([]partitions.Entry, 4),
	}})
	return c
}

// TestRestartedMemberWithoutStateIsNotTheVoterItWas: a voter restarted
// without its state (here b, back as identity 9) may have voted before in a
// term it no longer remembers; its vote must not count as b's. Before
// identities, a restarted member had no table and voted for anyone, so a
// candidate of an old configuration could win with it on its side of a
// split (issue 7). With b's real identity the same votes elect.
func TestRestartedMemberWithoutStateIsNotTheVoterItWas(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	for _, tc := range []struct {
		bID  uint64
		wins bool
	}{{bID: 9, wins: false}, {bID: 2, wins: true}} {
		c := coreWithVoters(t, now, tc.bID, 3)
		at := now
		for i := 0; i < 200 && !c.IsLeader(at); i++ {
			at = at.Add(fast.Tick)
			c.Tick(at)
			for _, out := range c.Ready().Messages {
				m := out.Env.Election
				if m == nil || out.To != "b" {
					continue // c is cut off: only b answers
				}
				typ := map[election.MsgType]election.MsgType{
					election.MsgPreVoteRequest: election.MsgPreVoteResponse,
					election.MsgVoteRequest:    election.MsgVoteResponse,
				}[m.Type]
				if typ == 0 {
					continue
				}
				c.Step(at, core.Envelope{From: "b", Incarnation: tc.bID, Identity: tc.bID,
					Election: &election.Message{Type: typ, Term: m.Term, Granted: true}})
			}
		}
		if got := c.IsLeader(at); got != tc.wins {
			t.Errorf("b with identity %d voting for a: a leads %t, want %t", tc.bID, got, tc.wins)
		}
	}
}

// TestTablelessMemberDoesNotBootstrapBesideACluster: a member without a
// table (a first start, or a restart without state) that sees, in gossip, a
// live member belonging to a cluster waits for that cluster instead of
// bootstrapping a new one, even with --bootstrap-expect reached (issue 7:
// a restarted minority bootstrapped again).
func TestTablelessMemberDoesNotBootstrapBesideACluster(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	for _, hasTable := range []bool{true, false} {
		opt := loneOptions()
		opt.BootstrapExpect = 2
		c := core.New(opt, core.Durable{})
		c.SetMembers(now, []core.MemberInfo{{Name: "b", Incarnation: 2, Identity: 2, Alive: true, HasTable: hasTable}})
		campaigned := false
		at := now
		for i := 0; i < 100; i++ {
			at = at.Add(fast.Tick)
			c.Tick(at)
			for _, out := range c.Ready().Messages {
				if m := out.Env.Election; m != nil && (m.Type == election.MsgPreVoteRequest || m.Type == election.MsgProbe) {
					campaigned = true
				}
			}
		}
		if campaigned == hasTable {
			t.Errorf("b belongs to a cluster: %t; a campaigned to bootstrap: %t", hasTable, campaigned)
		}
	}
}
