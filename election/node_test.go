package election_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// Direct tests of one Node, driven by hand: the cases the randomized runs
// reach only rarely.

var t0 = time.Unix(1_700_000_000, 0)

// lone returns a node for self in the voter set {a, b, c}, everyone alive
// since long ago, with the given priority for self (the others have 0).
func lone(self string, prio int, preempt bool, hs election.HardState) *election.Node {
	n := election.New(election.Options{
		Self: self, Priority: prio,
		HeartbeatInterval: fast.HeartbeatInterval, LeaderTimeout: fast.LeaderTimeout,
		ElectionTimeout: fast.ElectionTimeout, LeaderLease: fast.LeaderLease,
		Settle: fast.Settle, Preempt: preempt,
	}, hs)
	var ms []election.Member
	for _, name := range []string{"a", "b", "c"} {
		p := 0
		if name == self {
			p = prio
		}
		ms = append(ms, election.Member{Name: name, Priority: p, Alive: true, AliveSince: t0.Add(-time.Hour)})
	}
	n.SetMembers(ms)
	n.SetConfig(election.Config{Voters: []string{"a", "b", "c"}}, partitions.TableID{})
	return n
}

// tickUntil ticks n every tick from `from` until it sends a message of type
// want (returned with the time), or fails after limit.
func tickUntil(t *testing.T, n *election.Node, from time.Time, limit time.Duration, want election.MsgType) ([]election.Message, time.Time) {
	t.Helper()
	for now := from; now.Sub(from) <= limit; now = now.Add(fast.Tick) {
		n.Tick(now)
		var got []election.Message
		for _, m := range n.Outbox() {
			if m.Type == want {
				got = append(got, m)
			}
		}
		if len(got) > 0 {
			return got, now
		}
	}
	t.Fatalf("no %v within %v", want, limit)
	return nil, time.Time{}
}

// TestVoteFloorCoversOwnVote: after a restart without a data dir, with the
// vote floor at 10, the member's own campaign must not vote for itself in a
// term at or below 10 either (it may have voted for someone else there).
func TestVoteFloorCoversOwnVote(t *testing.T) {
	for _, termFloor := range []uint64{0, 10} {
		n := lone("a", 5, true, election.HardState{})
		n.SetVoteFloor(10)
		n.SetTermFloor(termFloor)
		pre, now := tickUntil(t, n, t0, 2*fast.LeaderTimeout, election.MsgPreVoteRequest)
		if pre[0].Term <= 10 {
			t.Fatalf("term floor %d: pre-vote for term %d, at or below the vote floor 10", termFloor, pre[0].Term)
		}
		for _, from := range []string{"b", "c"} {
			n.Step(now.Add(fast.Tick), election.Message{Type: election.MsgPreVoteResponse, From: from, To: "a",
				Term: pre[0].Term, Granted: true})
		}
		st := n.Status()
		if st.VotedFor != "a" || st.Term <= 10 {
			t.Fatalf("term floor %d: after the pre-vote: term %d, voted for %q; want a vote for itself above term 10",
				termFloor, st.Term, st.VotedFor)
		}
	}
}

// TestPreVoteRefusalTeachesTerm: a candidate behind the voters learns from
// their refusals which term it must exceed (their term, or their vote floor),
// instead of proposing a term they can never grant, forever.
func TestPreVoteRefusalTeachesTerm(t *testing.T) {
	cases := []struct {
		name      string
		voterHard election.HardState
		voteFloor uint64
		wantAbove uint64 // the candidate's next pre-vote must be for a term above this
	}{
		{"voter already in the proposed term", election.HardState{Term: 5}, 0, 5},
		{"voter further ahead", election.HardState{Term: 8}, 0, 8},
		{"voter's vote floor above the proposed term", election.HardState{}, 9, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The candidate a is in term 4 and proposes term 5.
			cand := lone("a", 5, true, election.HardState{Term: 4})
			voter := lone("b", 0, true, tc.voterHard)
			voter.SetVoteFloor(tc.voteFloor)
			voter.Tick(t0)

			pre, now := tickUntil(t, cand, t0, 2*fast.LeaderTimeout, election.MsgPreVoteRequest)
			if pre[0].Term != 5 {
				t.Fatalf("first pre-vote for term %d, want 5", pre[0].Term)
			}
			req := pre[0]
			req.To = "b"
			voter.Step(now, req)
			var resp *election.Message
			for _, m := range voter.Outbox() {
				if m.Type == election.MsgPreVoteResponse {
					resp = &m
				}
			}
			if resp == nil || resp.Granted {
				t.Fatalf("voter answered %+v, want a refusal", resp)
			}
			if st := voter.Status(); st.Term != tc.voterHard.Term {
				t.Fatalf("a pre-vote changed the voter's term to %d", st.Term)
			}
			cand.Step(now.Add(fast.Tick), *resp)
			next, _ := tickUntil(t, cand, now.Add(2*fast.Tick), 4*time.Second, election.MsgPreVoteRequest)
			if next[0].Term <= tc.wantAbove {
				t.Fatalf("next pre-vote for term %d, want above %d", next[0].Term, tc.wantAbove)
			}
		})
	}
}

// TestPreemptingPreVoteCarriesFlag: a member that outranks the sitting
// leader and has been alive for Settle campaigns with Preempt set, so that
// voters who still hear the leader may grant it.
func TestPreemptingPreVoteCarriesFlag(t *testing.T) {
	n := lone("a", 5, true, election.HardState{})
	n.Tick(t0)
	n.Step(t0.Add(fast.Tick), election.Message{Type: election.MsgHeartbeat, From: "b", To: "a", Term: 1, Seq: 1})
	if st := n.Status(); st.Leader != "b" || st.Term != 1 {
		t.Fatalf("after b's heartbeat: %+v", st)
	}
	n.Outbox()
	pre, _ := tickUntil(t, n, t0.Add(2*fast.Tick), fast.HeartbeatInterval, election.MsgPreVoteRequest)
	for _, m := range pre {
		if !m.Preempt || m.Term != 2 {
			t.Fatalf("preempting pre-vote %+v: want Preempt set and term 2", m)
		}
	}
}

// TestPreVoteAnswersMatchTheProposedTerm: with a wall-clock term floor, the
// floor moves while pre-vote answers travel; answers granted for the term the
// pre-vote proposed must still count (with the old rule, comparing against
// the moving next term, no election ever finished under a millisecond floor).
func TestPreVoteAnswersMatchTheProposedTerm(t *testing.T) {
	n := lone("a", 0, false, election.HardState{})
	n.SetTermFloor(1000)
	reqs, at := tickUntil(t, n, t0, 5*time.Second, election.MsgPreVoteRequest)
	proposed := reqs[0].Term
	if proposed != 1000 {
		t.Fatalf("pre-vote proposed term %d, want the floor 1000", proposed)
	}
	// The wall clock moved on before the answer came back.
	n.SetTermFloor(1005)
	at = at.Add(fast.Tick)
	n.Step(at, election.Message{Type: election.MsgPreVoteResponse, From: "b", To: "a", Term: proposed, Granted: true})
	var votes []election.Message
	for _, m := range n.Outbox() {
		if m.Type == election.MsgVoteRequest {
			votes = append(votes, m)
		}
	}
	if len(votes) == 0 {
		t.Fatal("a majority of pre-votes (a, b) did not start the real vote")
	}
	if votes[0].Term < 1005 {
		t.Fatalf("real vote in term %d, want at least the current floor 1005", votes[0].Term)
	}
}

// TestCampaignStartsAboveTheTablesTerm: a member that lost its hard state
// (term 0) but applied a table of term 5000, with a wall clock behind that,
// campaigns above 5000: tokens are term*1000+n, and a campaign below the term
// of an applied table would mint tokens below that table's (issue 7:
// nextTerm ignored the table's own term).
func TestCampaignStartsAboveTheTablesTerm(t *testing.T) {
	n := lone("a", 5, false, election.HardState{})
	n.SetConfig(election.Config{Voters: []string{"a", "b", "c"}}, partitions.TableID{Term: 5000, Version: 7})
	n.SetTermFloor(100) // the wall clock, behind the table
	msgs, _ := tickUntil(t, n, t0, 10*time.Second, election.MsgPreVoteRequest)
	for _, m := range msgs {
		if m.Type == election.MsgPreVoteRequest && m.Term <= 5000 {
			t.Fatalf("pre-vote for term %d, not above the table's term 5000", m.Term)
		}
	}
}
