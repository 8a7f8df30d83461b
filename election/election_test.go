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
					w := simcluster.NewElections(t, seed, preempt, tc.members...)
					w.Net.SetDefaultDelay(0, 20*time.Millisecond)
					if !w.RunUntil(firstElectionBound, func() bool { return len(w.Leaders()) > 0 }) {
						t.Fatalf("seed %d: no leader after %v\n%s", seed, firstElectionBound, w.Trace(30))
					}
					// After stabilization: one leader, the top of the ring,
					// followed by everyone, and no election since the first.
					w.Run(2 * time.Second)
					got, ok := w.StableLeader()
					if !ok || got != want {
						t.Fatalf("seed %d: stable leader %q (stable %v), want %q\n%s", seed, got, ok, want, w.Trace(30))
					}
					if n := len(w.History.Elections); n != 1 {
						t.Errorf("seed %d: %d elections in a healthy cluster, want 1: %v", seed, n, w.History.Elections)
					}
					w.RequireClean()
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
	w := simcluster.NewElections(t, 3, true, simcluster.ElectionSpec{Name: "a", Prio: 9}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0}, simcluster.ElectionSpec{Name: "d", Prio: 0})
	w.SetVoters("b", "c", "d")
	w.OnStep(func(time.Time) {
		if w.Status("a").Role != election.Follower {
			t.Fatalf("non-voter a became %v", w.Status("a").Role)
		}
	})
	w.Run(3 * time.Second)
	if got, ok := w.StableLeader(); !ok || got != "b" {
		t.Fatalf("stable leader %q (%v), want b", got, ok)
	}
	if st := w.Status("a"); st.Leader != "b" {
		t.Fatalf("non-voter a follows %q, want b (heartbeats reach non-voters too)", st.Leader)
	}
	w.RequireClean()
}

// TestMajorityPartition: with 5 voters split 3|2 only the 3 side has a
// leader, a leader cut off on the 2 side gives up within its lease, and
// healing leaves exactly one leader.
func TestMajorityPartition(t *testing.T) {
	members := []simcluster.ElectionSpec{{Name: "a", Prio: 4}, {Name: "b", Prio: 3}, {Name: "c", Prio: 2}, {Name: "d", Prio: 1}, {Name: "e", Prio: 0}}
	for _, gossipFollows := range []bool{false, true} {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("gossip follows partition=%v/seed=%d", gossipFollows, seed), func(t *testing.T) {
				w := simcluster.NewElections(t, seed, true, members...)
				w.Net.SetDefaultDelay(0, 15*time.Millisecond)
				if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("no stable leader a before the partition\n%s", w.Trace(30))
				}
				minority, majority := []string{"a", "e"}, []string{"b", "c", "d"}
				w.Net.Partition(minority, majority)
				if gossipFollows {
					w.GossipPartition(minority, majority)
				}
				cutAt := w.Elapsed()
				w.Logf("partition %v | %v", minority, majority)

				// a's last acked heartbeat was sent before the cut, so its lease
				// ends by cutAt+LeaderLease; Tick turns it into a follower
				// within one more tick.
				var both []string
				w.OnStep(func(time.Time) {
					since := w.Elapsed() - cutAt
					for _, n := range minority {
						if since >= fast.LeaderLease && w.IsLeader(n) {
							t.Fatalf("%s on the minority side holds a leader lease %v after the cut", n, since)
						}
						if since >= fast.LeaderLease+fast.Tick && w.Status(n).Role == election.Leader {
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
					if l := w.Leaders(); len(l) > 1 && !gossipFollows {
						both = l
					}
				})
				if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeaderAmong(majority); return ok && l == "b" }) {
					t.Fatalf("majority side elected no stable leader b within 2s\n%s", w.Trace(40))
				}
				w.Logf("majority has leader b after %v", w.Elapsed()-cutAt)
				electionsBefore := len(w.History.Elections)
				w.Run(20 * time.Second)
				if l, ok := w.StableLeaderAmong(majority); !ok || l != "b" {
					t.Fatalf("after 20s of partition the majority's leader is %q (%v), want b still", l, ok)
				}
				if n := len(w.History.Elections) - electionsBefore; n != 0 {
					t.Errorf("%d more elections during a stable partition: %v", n, w.History.Elections[electionsBefore:])
				}
				if both != nil {
					t.Errorf("two members held a leader lease at the same instant: %v", both)
				}
				w.ClearHooks()

				w.Net.Heal()
				w.GossipHeal()
				w.Logf("heal")
				if !w.RunUntil(5*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
					l, ok := w.StableLeader()
					t.Fatalf("after heal: stable leader %q (%v), want exactly one, a (preemption on)\n%s", l, ok, w.Trace(40))
				}
				w.RequireClean()
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
			w := simcluster.NewElections(t, int64(tc.voters), true, simcluster.Voters(tc.voters, 0)...)
			w.Net.SetDefaultDelay(0, 10*time.Millisecond)
			if !w.RunUntil(2*time.Second, func() bool { _, ok := w.StableLeader(); return ok }) {
				t.Fatal("no stable leader")
			}
			var rest []string
			for _, n := range w.Names() {
				if !slices.Contains(tc.minority, n) {
					rest = append(rest, n)
				}
			}
			w.Net.Partition(tc.minority, rest)
			cutAt := w.Elapsed()
			w.OnStep(func(time.Time) {
				for _, n := range tc.minority {
					if w.Elapsed()-cutAt >= fast.LeaderLease+fast.Tick && w.Status(n).Role == election.Leader {
						t.Fatalf("%s leads on a side of %d of %d voters, %v after the cut",
							n, len(tc.minority), tc.voters, w.Elapsed()-cutAt)
					}
				}
			})
			w.Run(10 * time.Second)
			want := simcluster.Rightful(map[string]int{}, rest)
			if l, ok := w.StableLeaderAmong(rest); !ok || l != want {
				t.Fatalf("majority side leader %q (%v), want %s", l, ok, want)
			}
			w.RequireClean()
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
			w := simcluster.NewElections(t, seed, false, simcluster.ElectionSpec{Name: "a", Prio: 2}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0})
			type key struct {
				term, seq uint64
			}
			sentAt := map[key]time.Time{}       // a's heartbeats by (term, seq)
			ackers := map[key]map[string]bool{} // who acked them, as received by a
			voteSent := map[uint64]time.Time{}  // a's vote requests by term
			voteGrant := map[uint64]map[string]bool{}
			w.OnSend(func(name string, now time.Time, m election.Message) {
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
			w.OnRecv(func(name string, now time.Time, m election.Message) {
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
			w.OnStep(func(time.Time) {
				if !w.Up("a") {
					return
				}
				st, now := w.Status("a"), w.Now("a")
				if st.Role != election.Leader {
					return
				}
				if w.IsLeader("a") != now.Before(st.LeaseStart.Add(fast.LeaderLease)) {
					t.Fatalf("IsLeader(%v) = %v with LeaseStart %v", now, w.IsLeader("a"), st.LeaseStart)
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
						w.Elapsed(), st.LeaseStart.Sub(w.Start()))
				}
				if age := now.Sub(st.LeaseStart); age < minAge {
					t.Fatalf("at %v: LeaseStart is only %v old with acks delayed by at least %v", w.Elapsed(), age, minAge)
				}
			})
			if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
				t.Fatal("no stable leader a")
			}
			w.Net.SetDelay("b", "a", 100*time.Millisecond, 150*time.Millisecond)
			w.Net.SetDelay("c", "a", 100*time.Millisecond, 150*time.Millisecond)
			changed := w.Elapsed()
			w.OnStep(func(time.Time) {
				// Once every ack in flight at the change is in, the newest
				// acked heartbeat is at least 100ms old (plus the tick the
				// heartbeat took to reach the follower).
				if w.Elapsed()-changed > 200*time.Millisecond {
					minAge = 100 * time.Millisecond
				}
				if !w.IsLeader("a") && lost == 0 {
					lost = w.Elapsed()
				}
			})
			w.Run(5 * time.Second)
			if lost != 0 {
				t.Fatalf("a lost its lease at %v although every ack arrived within 160ms of its heartbeat", lost)
			}

			// Acks slower than the lease: every heartbeat a majority acks is
			// already older than LeaderLease when the ack arrives.
			w.Net.SetDelay("b", "a", 300*time.Millisecond, 320*time.Millisecond)
			w.Net.SetDelay("c", "a", 300*time.Millisecond, 320*time.Millisecond)
			slowAt := w.Elapsed()
			w.OnStep(func(time.Time) {
				if w.Elapsed()-slowAt >= fast.LeaderLease+fast.Tick && w.IsLeader("a") {
					t.Fatalf("a holds a leader lease %v after its acks became slower than the lease", w.Elapsed()-slowAt)
				}
			})
			// The others, whose links are fast, elect one of themselves.
			if !w.RunUntil(3*time.Second, func() bool { return w.IsLeader("b") || w.IsLeader("c") }) {
				t.Fatalf("neither b nor c took over from a leader whose acks are too slow\n%s", w.Trace(30))
			}
			w.Run(3 * time.Second)
			if checked == 0 {
				t.Fatal("the lease check never ran")
			}
			w.RequireClean()
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
				w := simcluster.NewElections(t, seed, preempt, simcluster.ElectionSpec{Name: "a", Prio: 2}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0})
				w.Net.SetDefaultDelay(0, 10*time.Millisecond)
				w.Crash("a", true)
				if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "b" }) {
					t.Fatalf("b did not lead while a was down\n%s", w.Trace(30))
				}
				bTerm := w.Status("b").Term
				w.Run(time.Second)
				w.Restart("a", 0, false)
				joined := w.Elapsed()
				if !preempt {
					w.Run(10 * time.Second)
					if l, ok := w.StableLeader(); !ok || l != "b" || w.Status("b").Term != bTerm {
						t.Fatalf("without preemption: leader %q (stable %v; b in term %d), want b in term %d still",
							l, ok, w.Status("b").Term, bTerm)
					}
					w.RequireClean()
					return
				}
				if !w.RunUntil(fast.Settle+time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("a did not take over within Settle+1s of joining\n%s", w.Trace(30))
				}
				var aElected time.Duration
				for _, e := range w.History.Elections {
					if e.Leader == "a" && e.At > joined {
						aElected = e.At
						break
					}
				}
				if wait := aElected - joined; wait < fast.Settle {
					t.Fatalf("a took over %v after joining, before Settle (%v)", wait, fast.Settle)
				}
				w.RequireClean()
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
				w := simcluster.NewElections(t, 7, preempt, simcluster.ElectionSpec{Name: "a", Prio: 2}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0})
				w.Net.SetDefaultDelay(0, 10*time.Millisecond)
				if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
					t.Fatal("no stable leader a")
				}
				if err := w.Node("b").Transfer(w.Now("b"), "c"); !errors.Is(err, election.ErrNotLeader) {
					t.Fatalf("Transfer on a follower: %v, want ErrNotLeader", err)
				}
				if err := w.Node("a").Transfer(w.Now("a"), "nobody"); !errors.Is(err, election.ErrUnknownMember) {
					t.Fatalf("Transfer to a non-member: %v, want ErrUnknownMember", err)
				}
				if !w.IsLeader("a") {
					t.Fatal("a failed Transfer made a give up")
				}
				if err := w.Node("a").Transfer(w.Now("a"), target); err != nil {
					t.Fatalf("Transfer(%s): %v", target, err)
				}
				if w.Status("a").Role != election.Follower {
					t.Fatalf("a is %v right after Transfer, want follower", w.Status("a").Role)
				}
				// TimeoutNow, the vote round trip and a heartbeat: a few ticks.
				if !w.RunUntil(15*fast.Tick, func() bool { l, ok := w.StableLeader(); return ok && l == target }) {
					t.Fatalf("%s not the stable leader within %v of the transfer\n%s", target, 15*fast.Tick, w.Trace(30))
				}
				if !preempt {
					w.Run(5 * time.Second)
					if l, ok := w.StableLeader(); !ok || l != target {
						t.Fatalf("without preemption leadership moved from %s to %q", target, l)
					}
				}
				w.RequireClean()
			})
		}
	}
	t.Run("target down", func(t *testing.T) {
		w := simcluster.NewElections(t, 8, false, simcluster.ElectionSpec{Name: "a", Prio: 2}, simcluster.ElectionSpec{Name: "b", Prio: 1}, simcluster.ElectionSpec{Name: "c", Prio: 0})
		if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
			t.Fatal("no stable leader a")
		}
		w.Crash("c", true)
		w.Run(fast.Tick)
		if err := w.Node("a").Transfer(w.Now("a"), "c"); !errors.Is(err, election.ErrUnknownMember) {
			t.Fatalf("Transfer to a dead member: %v, want ErrUnknownMember", err)
		}
		if err := w.Node("a").Transfer(w.Now("a"), "a"); err != nil || !w.IsLeader("a") {
			t.Fatalf("Transfer to self: %v, leader %v; want a no-op", err, w.IsLeader("a"))
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
			w := simcluster.NewElections(t, seed, true, simcluster.Voters(5, 0)...)
			w.Net.SetDefaultDelay(0, 15*time.Millisecond)
			if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
				t.Fatal("no stable leader a")
			}
			for _, f := range w.Names()[1:] {
				w.Net.Cut(f, "a")
			}
			cutAt := w.Elapsed()
			w.OnStep(func(time.Time) {
				since := w.Elapsed() - cutAt
				if since >= fast.LeaderLease && w.IsLeader("a") {
					t.Fatalf("a holds its lease %v after losing every ack", since)
				}
				if since >= fast.LeaderLease+fast.Tick && w.Status("a").Role == election.Leader {
					t.Fatalf("a still has role leader %v after losing every ack", since)
				}
			})
			others := w.Names()[1:]
			if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeaderAmong(others); return ok && l == "b" }) {
				t.Fatalf("the others did not elect b within 2s\n%s", w.Trace(40))
			}
			n := len(w.History.Elections)
			w.Run(10 * time.Second)
			if l, ok := w.StableLeaderAmong(others); !ok || l != "b" {
				t.Fatalf("after 10s the others' leader is %q (%v), want b", l, ok)
			}
			if extra := len(w.History.Elections) - n; extra != 0 {
				t.Errorf("the cut-off old leader caused %d more elections: %v", extra, w.History.Elections[n:])
			}
			w.RequireClean()
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
				w := simcluster.NewElections(t, seed, tc.preempt, simcluster.Voters(5, 0)...)
				w.Net.SetDefaultDelay(time.Millisecond, 10*time.Millisecond)
				if !w.RunUntil(2*time.Second, func() bool { l, ok := w.StableLeader(); return ok && l == "a" }) {
					t.Fatalf("seed %d: no stable leader a", seed)
				}
				warm := w.Elapsed()
				for _, o := range w.Names() {
					if o != tc.flaky {
						w.Net.SetDrop(tc.flaky, o, 0.5)
						w.Net.SetDrop(o, tc.flaky, 0.5)
					}
				}
				w.Run(60 * time.Second)
				elections, changes := w.History.LeaderChanges(warm)
				total += elections
				if elections > tc.perRun || changes > tc.changes {
					t.Errorf("seed %d: %d elections and %d leader changes in 60s with flaky %s; want at most %d and %d: %v",
						seed, elections, changes, tc.flaky, tc.perRun, tc.changes, w.History.Elections)
				}
				var healthy []string
				for _, n := range w.Names() {
					if n != tc.flaky {
						healthy = append(healthy, n)
					}
				}
				if l := w.Leaders(); len(l) != 1 || l[0] == tc.flaky {
					t.Errorf("seed %d: leaders at the end %v; want one healthy leader", seed, l)
				}
				if _, ok := w.StableLeaderAmong(healthy); !ok {
					t.Errorf("seed %d: the healthy members do not follow one leader at the end", seed)
				}
				w.RequireClean()
			}
			if total > tc.total {
				t.Errorf("%d elections over %d runs of 60s, want at most %d", total, seeds, tc.total)
			}
		})
	}
}
