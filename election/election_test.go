package election_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
)

// The timing of every election test.
var fast = simcluster.FastElection()

// firstElectionBound is how long a fresh cluster may take to elect its first
// leader: every member waits LeaderTimeout from its first tick, then the top
// member campaigns at once (nobody outranks it) while the others probe it
// and step back; a pre-vote and a vote round trip take a few ticks more
// (the first leader shows up at 330-450ms). 60 ticks leave room for
// delays of up to 20ms per message.
var firstElectionBound = 60 * fast.Tick

// ranked is three voters ranked a > b > c by priority.
var ranked = []simcluster.ElectionSpec{{Name: "a", Prio: 2}, {Name: "b", Prio: 1}, {Name: "c", Prio: 0}}

func TestBasicElection(t *testing.T) {
	cases := []struct {
		name    string
		members []simcluster.ElectionSpec
	}{
		{"one voter", []simcluster.ElectionSpec{{Name: "solo", Prio: 0}}},
		{"three equal priorities", simcluster.Voters(3, 0)},
		{"three, lowest name loses to priority", []simcluster.ElectionSpec{{Name: "a", Prio: 0}, {Name: "b", Prio: 0}, {Name: "c", Prio: 5}}},
		{"five with tied top priority", []simcluster.ElectionSpec{{Name: "a", Prio: 1}, {Name: "b", Prio: 3}, {Name: "c", Prio: 3}, {Name: "d", Prio: 0}, {Name: "e", Prio: 3}}},
		{"seven mixed, negative priorities", []simcluster.ElectionSpec{
			{Name: "zeta", Prio: 2}, {Name: "alpha", Prio: 1}, {Name: "mu", Prio: 2}, {Name: "omega", Prio: -1}, {Name: "beta", Prio: 0}, {Name: "kappa", Prio: 2}, {Name: "nu", Prio: -3}}},
	}
	for _, tc := range cases {
		for _, preempt := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/preempt=%v", tc.name, preempt), func(t *testing.T) {
				names := make([]string, len(tc.members))
				prio := map[string]int{}
				for i, s := range tc.members {
					names[i], prio[s.Name] = s.Name, s.Prio
				}
				want := simcluster.Rightful(prio, names)
				for seed := int64(1); seed <= 5; seed++ {
					c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionPreempt(preempt),
						simcluster.ElectionMembers(tc.members...))
					c.Net.SetDefaultDelay(0, 20*time.Millisecond)
					if !c.RunUntil(firstElectionBound, func() bool { return len(c.Leaders()) > 0 }) {
						t.Fatalf("seed %d: no leader after %v\n%s", seed, firstElectionBound, c.Trace(30))
					}
					// After stabilization: one leader, the top of the ring,
					// followed by everyone, and no election since the first.
					c.Run(2 * time.Second)
					got, ok := c.StableLeader()
					if !ok || got != want {
						t.Fatalf("seed %d: stable leader %q (stable %v), want %q\n%s", seed, got, ok, want, c.Trace(30))
					}
					if n := len(c.History.Elections); n != 1 {
						t.Errorf("seed %d: %d elections in a healthy cluster, want 1: %v", seed, n, c.History.Elections)
					}
					c.RequireClean()
				}
			})
		}
	}
}

// TestRingOrder compares election.Ring and Outranks with the reference rule
// (priority desc, then name asc) on random member sets.
func TestRingOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.IntN(8)
		var ms []election.Member
		prio := map[string]int{}
		var names []string
		for i := range n {
			name := fmt.Sprintf("m%d", rng.IntN(100)*10+i) // distinct names
			p := rng.IntN(3) - 1
			ms = append(ms, election.Member{Name: name, Priority: p})
			prio[name] = p
			names = append(names, name)
		}
		ring := election.Ring(ms)
		left := slices.Clone(names)
		for i, m := range ring {
			want := simcluster.Rightful(prio, left)
			if m.Name != want {
				t.Fatalf("Ring(%v)[%d] = %s, want %s", ms, i, m.Name, want)
			}
			left = slices.DeleteFunc(left, func(s string) bool { return s == want })
			if i > 0 && !election.Outranks(ring[i-1].Name, ring[i-1].Priority, m.Name, m.Priority) {
				t.Fatalf("Outranks(%v, %v) = false for neighbours in ring order", ring[i-1], m)
			}
			if i > 0 && election.Outranks(m.Name, m.Priority, ring[i-1].Name, ring[i-1].Priority) {
				t.Fatalf("Outranks(%v, %v) = true against ring order", m, ring[i-1])
			}
		}
	}
}

// TestNonVoterNeverLeads: a member outside the configuration follows but
// never campaigns, however highly it ranks.
func TestNonVoterNeverLeads(t *testing.T) {
	c := simcluster.NewElections(t, simcluster.ElectionSeed(3),
		simcluster.ElectionMembers(simcluster.ElectionSpec{Name: "a", Prio: 9}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0}, simcluster.ElectionSpec{Name: "d", Prio: 0}))
	c.SetVoters("b", "c", "d")
	c.OnStep(func(time.Time) {
		if c.Status("a").Role != election.Follower {
			t.Fatalf("non-voter a became %v", c.Status("a").Role)
		}
	})
	c.Run(3 * time.Second)
	if got, ok := c.StableLeader(); !ok || got != "b" {
		t.Fatalf("stable leader %q (%v), want b", got, ok)
	}
	if st := c.Status("a"); st.Leader != "b" {
		t.Fatalf("non-voter a follows %q, want b (heartbeats reach non-voters too)", st.Leader)
	}
	c.RequireClean()
}

// TestMajorityPartition: with 5 voters split 3|2 only the 3 side has a
// leader, a leader cut off on the 2 side gives up within its lease, and
// healing leaves exactly one leader.
func TestMajorityPartition(t *testing.T) {
	members := []simcluster.ElectionSpec{{Name: "a", Prio: 4}, {Name: "b", Prio: 3}, {Name: "c", Prio: 2}, {Name: "d", Prio: 1}, {Name: "e", Prio: 0}}
	for _, gossipFollows := range []bool{false, true} {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("gossip follows partition=%v/seed=%d", gossipFollows, seed), func(t *testing.T) {
				c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionMembers(members...))
				c.Net.SetDefaultDelay(0, 15*time.Millisecond)
				if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("no stable leader a before the partition\n%s", c.Trace(30))
				}
				minority, majority := []string{"a", "e"}, []string{"b", "c", "d"}
				c.Net.Partition(minority, majority)
				if gossipFollows {
					c.GossipPartition(minority, majority)
				}
				cutAt := c.Elapsed()
				c.Logf("partition %v | %v", minority, majority)

				// a's last acked heartbeat was sent before the cut, so its lease
				// ends by cutAt+LeaderLease; Tick turns it into a follower
				// within one more tick.
				var both []string
				c.OnStep(func(time.Time) {
					since := c.Elapsed() - cutAt
					for _, n := range minority {
						if since >= fast.LeaderLease && c.IsLeader(n) {
							t.Fatalf("%s on the minority side holds a leader lease %v after the cut", n, since)
						}
						if since >= fast.LeaderLease+fast.Tick && c.Status(n).Role == election.Leader {
							t.Fatalf("%s on the minority side still has role leader %v after the cut", n, since)
						}
					}
					// No preemption or transfer happens here, so while gossip
					// still shows a alive the leases do not even overlap in
					// time: b's voters wait LeaderTimeout > LeaderLease after
					// a's last heartbeat. (When gossip declares a dead they
					// vote after ElectionTimeout; then the new leader's
					// grants wait out the old lease instead, see "Why at most one
					// owner" in docs/architecture.md.)
					if l := c.Leaders(); len(l) > 1 && !gossipFollows {
						both = l
					}
				})
				if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeaderAmong(majority); return ok && l == "b" }) {
					t.Fatalf("majority side elected no stable leader b within 2s\n%s", c.Trace(40))
				}
				c.Logf("majority has leader b after %v", c.Elapsed()-cutAt)
				electionsBefore := len(c.History.Elections)
				c.Run(20 * time.Second)
				if l, ok := c.StableLeaderAmong(majority); !ok || l != "b" {
					t.Fatalf("after 20s of partition the majority's leader is %q (%v), want b still", l, ok)
				}
				if n := len(c.History.Elections) - electionsBefore; n != 0 {
					t.Errorf("%d more elections during a stable partition: %v", n, c.History.Elections[electionsBefore:])
				}
				if both != nil {
					t.Errorf("two members held a leader lease at the same instant: %v", both)
				}
				c.ClearHooks()

				c.Net.Heal()
				c.GossipHeal()
				c.Logf("heal")
				if !c.RunUntil(5*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
					l, ok := c.StableLeader()
					t.Fatalf("after heal: stable leader %q (%v), want exactly one, a (preemption on)\n%s", l, ok, c.Trace(40))
				}
				c.RequireClean()
			})
		}
	}
}

// TestSmallSideNeverLeads: a side of a partition without a majority never
// has a leader, also when it is one member; a leader there steps down.
func TestSmallSideNeverLeads(t *testing.T) {
	cases := []struct {
		voters   int
		minority []string
	}{
		{3, []string{"a"}},      // the leader alone
		{3, []string{"c"}},      // a follower alone
		{5, []string{"a"}},      // the leader alone among 5
		{5, []string{"d"}},      // a follower alone among 5
		{5, []string{"c", "d"}}, // two followers
		{7, []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d voters, %v cut off", tc.voters, tc.minority), func(t *testing.T) {
			c := simcluster.NewElections(t, simcluster.ElectionSeed(int64(tc.voters)),
				simcluster.ElectionMembers(simcluster.Voters(tc.voters, 0)...))
			c.Net.SetDefaultDelay(0, 10*time.Millisecond)
			if !c.RunUntil(2*time.Second, func() bool { _, ok := c.StableLeader(); return ok }) {
				t.Fatal("no stable leader")
			}
			var rest []string
			for _, n := range c.Names() {
				if !slices.Contains(tc.minority, n) {
					rest = append(rest, n)
				}
			}
			c.Net.Partition(tc.minority, rest)
			cutAt := c.Elapsed()
			c.OnStep(func(time.Time) {
				for _, n := range tc.minority {
					if c.Elapsed()-cutAt >= fast.LeaderLease+fast.Tick && c.Status(n).Role == election.Leader {
						t.Fatalf("%s leads on a side of %d of %d voters, %v after the cut",
							n, len(tc.minority), tc.voters, c.Elapsed()-cutAt)
					}
				}
			})
			c.Run(10 * time.Second)
			want := simcluster.Rightful(map[string]int{}, rest)
			if l, ok := c.StableLeaderAmong(rest); !ok || l != want {
				t.Fatalf("majority side leader %q (%v), want %s", l, ok, want)
			}
			c.RequireClean()
		})
	}
}

// TestLeaseFromSendTime: the leader lease runs from when the newest
// majority-acknowledged heartbeat was SENT, never from when an ack arrived.
// Acks to the leader are delayed by 100-150ms: the lease must still hold
// (each heartbeat is acked well within LeaderLease), and LeaseStart must be
// the send time of a heartbeat (or vote request) that a majority answered,
// at least 100ms in the leader's past. Then acks take longer than the lease
// itself: the leader can never hold it again.
func TestLeaseFromSendTime(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionPreempt(false),
				simcluster.ElectionMembers(ranked...))
			type key struct {
				term, seq uint64
			}
			sentAt := map[key]time.Time{}       // a's heartbeats by (term, seq)
			ackers := map[key]map[string]bool{} // who acked them, as received by a
			voteSent := map[uint64]time.Time{}  // a's vote requests by term
			voteGrant := map[uint64]map[string]bool{}
			c.OnSend(func(name string, now time.Time, m election.Message) {
				if name != "a" {
					return
				}
				switch m.Type {
				case election.MsgHeartbeat:
					k := key{m.Term, m.Seq}
					if _, ok := sentAt[k]; !ok {
						sentAt[k] = now // a re-send to a prober keeps the first time
					}
				case election.MsgVoteRequest:
					voteSent[m.Term] = now
				}
			})
			c.OnRecv(func(name string, now time.Time, m election.Message) {
				if name != "a" {
					return
				}
				switch {
				case m.Type == election.MsgHeartbeatAck:
					k := key{m.Term, m.Seq}
					if ackers[k] == nil {
						ackers[k] = map[string]bool{}
					}
					ackers[k][m.From] = true
				case m.Type == election.MsgVoteResponse && m.Granted:
					if voteGrant[m.Term] == nil {
						voteGrant[m.Term] = map[string]bool{}
					}
					voteGrant[m.Term][m.From] = true
				}
			})
			minAge := time.Duration(0) // how old LeaseStart must be, by a's clock
			var lost time.Duration     // when a lost its lease, since start
			checked := 0
			c.OnStep(func(time.Time) {
				if !c.Up("a") {
					return
				}
				st, now := c.Status("a"), c.Now("a")
				if st.Role != election.Leader {
					return
				}
				if c.IsLeader("a") != now.Before(st.LeaseStart.Add(fast.LeaderLease)) {
					t.Fatalf("IsLeader(%v) = %v with LeaseStart %v", now, c.IsLeader("a"), st.LeaseStart)
				}
				if st.LeaseStart.IsZero() {
					return
				}
				checked++
				// The lease start must be a send time that a majority (a itself
				// and one of b, c: with three voters the newest send time a
				// majority reached is one that b or c acked itself) answered.
				ok := false
				for k, at := range sentAt {
					if k.term == st.Term && at.Equal(st.LeaseStart) && len(ackers[k]) >= 1 {
						ok = true
					}
				}
				if at, sent := voteSent[st.Term]; sent && at.Equal(st.LeaseStart) && len(voteGrant[st.Term]) >= 1 {
					ok = true
				}
				if !ok {
					t.Fatalf("at %v: LeaseStart %v is not the send time of a heartbeat or vote request a majority answered",
						c.Elapsed(), st.LeaseStart.Sub(c.Start()))
				}
				if age := now.Sub(st.LeaseStart); age < minAge {
					t.Fatalf("at %v: LeaseStart is only %v old with acks delayed by at least %v", c.Elapsed(), age, minAge)
				}
			})
			if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
				t.Fatal("no stable leader a")
			}
			c.Net.SetDelay("b", "a", 100*time.Millisecond, 150*time.Millisecond)
			c.Net.SetDelay("c", "a", 100*time.Millisecond, 150*time.Millisecond)
			changed := c.Elapsed()
			c.OnStep(func(time.Time) {
				// Once every ack in flight at the change is in, the newest
				// acked heartbeat is at least 100ms old (plus the tick the
				// heartbeat took to reach the follower).
				if c.Elapsed()-changed > 200*time.Millisecond {
					minAge = 100 * time.Millisecond
				}
				if !c.IsLeader("a") && lost == 0 {
					lost = c.Elapsed()
				}
			})
			c.Run(5 * time.Second)
			if lost != 0 {
				t.Fatalf("a lost its lease at %v although every ack arrived within 160ms of its heartbeat", lost)
			}

			// Acks slower than the lease: every heartbeat a majority acks is
			// already older than LeaderLease when the ack arrives.
			c.Net.SetDelay("b", "a", 300*time.Millisecond, 320*time.Millisecond)
			c.Net.SetDelay("c", "a", 300*time.Millisecond, 320*time.Millisecond)
			slowAt := c.Elapsed()
			c.OnStep(func(time.Time) {
				if c.Elapsed()-slowAt >= fast.LeaderLease+fast.Tick && c.IsLeader("a") {
					t.Fatalf("a holds a leader lease %v after its acks became slower than the lease", c.Elapsed()-slowAt)
				}
			})
			// The others, whose links are fast, elect one of themselves.
			if !c.RunUntil(3*time.Second, func() bool { return c.IsLeader("b") || c.IsLeader("c") }) {
				t.Fatalf("neither b nor c took over from a leader whose acks are too slow\n%s", c.Trace(30))
			}
			c.Run(3 * time.Second)
			if checked == 0 {
				t.Fatal("the lease check never ran")
			}
			c.RequireClean()
		})
	}
}

// TestPreemption: with Preempt on, a higher-ranked member that comes up
// takes over once it has been alive for Settle (not before); with Preempt
// off the sitting leader stays.
func TestPreemption(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		for seed := int64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("preempt=%v/seed=%d", preempt, seed), func(t *testing.T) {
				c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionPreempt(preempt),
					simcluster.ElectionMembers(ranked...))
				c.Net.SetDefaultDelay(0, 10*time.Millisecond)
				c.Crash("a", true)
				if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "b" }) {
					t.Fatalf("b did not lead while a was down\n%s", c.Trace(30))
				}
				bTerm := c.Status("b").Term
				c.Run(time.Second)
				c.Restart("a", 0, false)
				joined := c.Elapsed()
				if !preempt {
					c.Run(10 * time.Second)
					if l, ok := c.StableLeader(); !ok || l != "b" || c.Status("b").Term != bTerm {
						t.Fatalf("without preemption: leader %q (stable %v; b in term %d), want b in term %d still",
							l, ok, c.Status("b").Term, bTerm)
					}
					c.RequireClean()
					return
				}
				if !c.RunUntil(fast.Settle+time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("a did not take over within Settle+1s of joining\n%s", c.Trace(30))
				}
				var aElected time.Duration
				for _, e := range c.History.Elections {
					if e.Leader == "a" && e.At > joined {
						aElected = e.At
						break
					}
				}
				if wait := aElected - joined; wait < fast.Settle {
					t.Fatalf("a took over %v after joining, before Settle (%v)", wait, fast.Settle)
				}
				c.RequireClean()
			})
		}
	}
}

// TestTransfer: Transfer hands leadership to the named member promptly;
// errors for a follower and for targets outside the configuration or dead.
func TestTransfer(t *testing.T) {
	for _, preempt := range []bool{false, true} {
		for _, target := range []string{"b", "c"} {
			t.Run(fmt.Sprintf("preempt=%v/to=%s", preempt, target), func(t *testing.T) {
				c := simcluster.NewElections(t, simcluster.ElectionSeed(7), simcluster.ElectionPreempt(preempt),
					simcluster.ElectionMembers(ranked...))
				c.Net.SetDefaultDelay(0, 10*time.Millisecond)
				if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
					t.Fatal("no stable leader a")
				}
				if err := c.Node("b").Transfer(c.Now("b"), "c"); !errors.Is(err, election.ErrNotLeader) {
					t.Fatalf("Transfer on a follower: %v, want ErrNotLeader", err)
				}
				if err := c.Node("a").Transfer(c.Now("a"), "nobody"); !errors.Is(err, election.ErrUnknownMember) {
					t.Fatalf("Transfer to a non-member: %v, want ErrUnknownMember", err)
				}
				if !c.IsLeader("a") {
					t.Fatal("a failed Transfer made a give up")
				}
				if err := c.Node("a").Transfer(c.Now("a"), target); err != nil {
					t.Fatalf("Transfer(%s): %v", target, err)
				}
				if c.Status("a").Role != election.Follower {
					t.Fatalf("a is %v right after Transfer, want follower", c.Status("a").Role)
				}
				// TimeoutNow, the vote round trip and a heartbeat: a few ticks.
				if !c.RunUntil(15*fast.Tick, func() bool { l, ok := c.StableLeader(); return ok && l == target }) {
					t.Fatalf("%s not the stable leader within %v of the transfer\n%s", target, 15*fast.Tick, c.Trace(30))
				}
				if !preempt {
					c.Run(5 * time.Second)
					if l, ok := c.StableLeader(); !ok || l != target {
						t.Fatalf("without preemption leadership moved from %s to %q", target, l)
					}
				}
				c.RequireClean()
			})
		}
	}
	t.Run("target down", func(t *testing.T) {
		c := simcluster.NewElections(t, simcluster.ElectionSeed(8), simcluster.ElectionPreempt(false),
			simcluster.ElectionMembers(ranked...))
		if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
			t.Fatal("no stable leader a")
		}
		c.Crash("c", true)
		c.Run(fast.Tick)
		if err := c.Node("a").Transfer(c.Now("a"), "c"); !errors.Is(err, election.ErrUnknownMember) {
			t.Fatalf("Transfer to a dead member: %v, want ErrUnknownMember", err)
		}
		if err := c.Node("a").Transfer(c.Now("a"), "a"); err != nil || !c.IsLeader("a") {
			t.Fatalf("Transfer to self: %v, leader %v; want a no-op", err, c.IsLeader("a"))
		}
	})
}

// TestOneWayLoss: the leader still reaches everyone but hears from nobody
// (every follower -> leader link cut). Its lease runs out, it steps down
// within LeaderLease (+ a tick), and the others elect a new leader that
// stays, although the old one keeps campaigning with rising terms.
func TestOneWayLoss(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := simcluster.NewElections(t, simcluster.ElectionSeed(seed),
				simcluster.ElectionMembers(simcluster.Voters(5, 0)...))
			c.Net.SetDefaultDelay(0, 15*time.Millisecond)
			if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
				t.Fatal("no stable leader a")
			}
			for _, f := range c.Names()[1:] {
				c.Net.Cut(f, "a")
			}
			cutAt := c.Elapsed()
			c.OnStep(func(time.Time) {
				since := c.Elapsed() - cutAt
				if since >= fast.LeaderLease && c.IsLeader("a") {
					t.Fatalf("a holds its lease %v after losing every ack", since)
				}
				if since >= fast.LeaderLease+fast.Tick && c.Status("a").Role == election.Leader {
					t.Fatalf("a still has role leader %v after losing every ack", since)
				}
			})
			others := c.Names()[1:]
			if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeaderAmong(others); return ok && l == "b" }) {
				t.Fatalf("the others did not elect b within 2s\n%s", c.Trace(40))
			}
			n := len(c.History.Elections)
			c.Run(10 * time.Second)
			if l, ok := c.StableLeaderAmong(others); !ok || l != "b" {
				t.Fatalf("after 10s the others' leader is %q (%v), want b", l, ok)
			}
			if extra := len(c.History.Elections) - n; extra != 0 {
				t.Errorf("the cut-off old leader caused %d more elections: %v", extra, c.History.Elections[n:])
			}
			c.RequireClean()
		})
	}
}

// TestFlakyMemberDoesNotDepose: a member whose links all drop 50% of
// messages both ways must not keep deposing the healthy leader of the
// others. Over 60s of virtual time per run we count elections after the
// first leader.
//
// The bound: none is needed while the leader is healthy. The flaky member
// does time out (six heartbeats in a row lost happens every few seconds),
// but with pre-vote it bumps its term only if a majority would vote for it,
// and the healthy majority hears the leader and refuses (stickiness). We
// allow one election per run and two over all runs of a case, so the test
// does not hang on one unlucky schedule; the code before pre-vote (a321770),
// where the flaky member's higher term deposed the leader through its
// heartbeat acks, had about 1.4 elections per minute and up to 6.
//
// A flaky member that outranks everyone is the exception when Preempt is on:
// it loses its lease, a healthy member takes over, and it preempts again
// after Settle, over and over (bully preemption has no hold-down for a
// member that just lost its lease). That case runs here with Preempt off
// only: the flaky member loses the lead once and does not get it back.
func TestFlakyMemberDoesNotDepose(t *testing.T) {
	cases := []struct {
		flaky   string
		preempt bool
		// maxElections per run and in all; leaderChanges per run.
		perRun, total, changes int
	}{
		{"e", true, 1, 2, 0},  // lowest ranked
		{"c", true, 1, 2, 0},  // middle
		{"b", true, 1, 2, 0},  // second, outranks all but the leader
		{"e", false, 1, 2, 0}, // lowest ranked, no preemption
		// The leader itself is flaky: it cannot keep a majority of acks and
		// loses the lead; as the top of the ring it may win it back a time
		// or two before a healthy member wins, who then keeps it (over 100
		// seeds: 1 election in 88 runs, 2 in 11, 3 in 1).
		{"a", false, 3, 12, 1},
		// Flaky leader with preemption on: it loses its lease, a healthy
		// member takes over, and it tries to preempt back. Each lost lease
		// and each takeover that failed at the vote doubles its hold-down
		// (2×Settle = 1s, 2s, 4s...), so over 8 seeds we measured 6–10
		// elections and 1–7 leader changes a minute (without damping: ~29
		// and ~15).
		{"a", true, 12, 80, 8},
	}
	const seeds = 8
	for _, tc := range cases {
		t.Run(fmt.Sprintf("flaky=%s/preempt=%v", tc.flaky, tc.preempt), func(t *testing.T) {
			total := 0
			for seed := int64(1); seed <= seeds; seed++ {
				c := simcluster.NewElections(t, simcluster.ElectionSeed(seed), simcluster.ElectionPreempt(tc.preempt),
					simcluster.ElectionMembers(simcluster.Voters(5, 0)...))
				c.Net.SetDefaultDelay(time.Millisecond, 10*time.Millisecond)
				if !c.RunUntil(2*time.Second, func() bool { l, ok := c.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("seed %d: no stable leader a", seed)
				}
				warm := c.Elapsed()
				for _, o := range c.Names() {
					if o != tc.flaky {
						c.Net.SetDrop(tc.flaky, o, 0.5)
						c.Net.SetDrop(o, tc.flaky, 0.5)
					}
				}
				c.Run(60 * time.Second)
				elections, changes := c.History.LeaderChanges(warm)
				total += elections
				if elections > tc.perRun || changes > tc.changes {
					t.Errorf("seed %d: %d elections and %d leader changes in 60s with flaky %s; want at most %d and %d: %v",
						seed, elections, changes, tc.flaky, tc.perRun, tc.changes, c.History.Elections)
				}
				var healthy []string
				for _, n := range c.Names() {
					if n != tc.flaky {
						healthy = append(healthy, n)
					}
				}
				if l := c.Leaders(); len(l) != 1 || l[0] == tc.flaky {
					t.Errorf("seed %d: leaders at the end %v; want one healthy leader", seed, l)
				}
				if _, ok := c.StableLeaderAmong(healthy); !ok {
					t.Errorf("seed %d: the healthy members do not follow one leader at the end", seed)
				}
				c.RequireClean()
			}
			if total > tc.total {
				t.Errorf("%d elections over %d runs of 60s, want at most %d", total, seeds, tc.total)
			}
		})
	}
}
