package core_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
	"github.com/ringd/ringd/partitions"
)

// releasing counts the partitions the leader's table has in a handoff.
func releasing(w *simcluster.Cluster) int {
	l := w.Leader()
	if l == "" {
		return 0
	}
	n := 0
	for _, e := range w.View(l).Table.Partitions {
		if e.State == partitions.Releasing {
			n++
		}
	}
	return n
}

// TestMoveBudgetRollsABigChangeOutInSteps: eight members join a covered
// cluster of two at once. With a move budget of 3, the leader never has more
// than 3 partitions in a handoff, the new members still get their shares,
// and no partition is ever held twice. A drain afterwards is not held back:
// the draining member's partitions go all at once.
func TestMoveBudgetRollsABigChangeOutInSteps(t *testing.T) {
	const budget = 3
	w := simcluster.New(t, simcluster.Seed(11), simcluster.With(simcluster.Settings{MoveBudget: budget}),
		simcluster.Members(simcluster.Specs(2)...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	most := 0
	w.OnStep(func(time.Time) { most = max(most, releasing(w)) })
	var joined []string
	for i := range 8 {
		name := fmt.Sprintf("j%d", i)
		joined = append(joined, name)
		w.Add(simcluster.MemberSpec{Name: name})
	}
	w.Require(30*time.Second, "every newcomer holds partitions", func() bool {
		for _, n := range joined {
			if len(w.AppHoldings(n)) == 0 {
				return false
			}
		}
		return w.Covered()
	})
	if most > budget {
		t.Errorf("%d partitions in a handoff at once, budget %d", most, budget)
	}
	if most == 0 {
		t.Fatal("no handoff seen: the joins moved nothing")
	}
	w.ClearHooks()

	held := len(w.AppHoldings("m0"))
	most = 0
	w.OnStep(func(time.Time) { most = max(most, releasing(w)) })
	w.SetDraining("m0", true)
	w.Require(10*time.Second, "m0 drained", func() bool { return len(w.AppHoldings("m0")) == 0 && w.Covered() })
	if held > budget && most <= budget {
		t.Errorf("the drain of %d partitions was held to the budget (at most %d at once)", held, most)
	}
	w.RequireNoViolations()
}

// TestMoveCooldownHoldsARecentGrant: with a cooldown, a partition granted a
// moment ago is not moved by a rebalance until the cooldown is over.
func TestMoveCooldownHoldsARecentGrant(t *testing.T) {
	const cooldown = 3 * time.Second
	w := simcluster.New(t, simcluster.Seed(5), simcluster.With(simcluster.Settings{MoveCooldown: cooldown}),
		simcluster.Members(simcluster.Specs(2)...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	coveredAt := w.GlobalNow()
	w.Add(simcluster.MemberSpec{Name: "m2"})
	w.Require(20*time.Second, "m2 holds partitions", func() bool { return len(w.AppHoldings("m2")) > 0 })
	if took := w.GlobalNow().Sub(coveredAt); took < cooldown {
		t.Errorf("m2 got partitions %v after the first grants, within the %v cooldown", took, cooldown)
	}
	w.RequireNoViolations()
}

// TestFreezeHoldsTheAssignment: while frozen, a member that joins gets
// nothing by rebalancing, a crashed member's partitions are still granted
// (coverage never waits for the unfreeze), the freeze outlives a leader
// crash, and after the unfreeze the newcomer gets its share.
func TestFreezeHoldsTheAssignment(t *testing.T) {
	w := simcluster.New(t, simcluster.Seed(9), simcluster.Members(simcluster.Specs(4)...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	leader := w.Leader()
	if err := w.Member("m1").Core().SetFrozen(w.Now("m1"), true); err != nil {
		t.Fatal(err)
	}
	w.Require(2*time.Second, "every member sees the freeze", func() bool {
		for _, n := range w.Names() {
			if !w.Member(n).Core().Frozen() {
				return false
			}
		}
		return true
	})
	w.Add(simcluster.MemberSpec{Name: "j0"})
	w.Run(3 * time.Second)
	if n := len(w.AppHoldings("j0")); n != 0 {
		t.Errorf("j0 joined while frozen and got %d partitions", n)
	}

	// The leader crashes: its partitions are granted again, the freeze stays.
	w.Crash(leader)
	others := w.Others(leader)
	w.Require(15*time.Second, "coverage without the crashed leader", func() bool { return w.CoveredBy(others) })
	if l := w.Leader(); l == "" || !w.Member(l).Core().Frozen() {
		t.Fatalf("after the leader crash: leader %q, frozen %v", l, l != "" && w.Member(l).Core().Frozen())
	}

	l := w.Leader()
	if err := w.Member(l).Core().SetFrozen(w.Now(l), false); err != nil {
		t.Fatal(err)
	}
	w.Require(10*time.Second, "j0 gets partitions after the unfreeze", func() bool { return len(w.AppHoldings("j0")) > 0 })
	w.RequireNoViolations()
}

// TestPinsAndExclusionsOutliveTheLeader: a partition pinned to a member moves
// there and stays; an excluded member hands everything over and gets
// nothing; both survive a leader crash; unpinning and including undo them.
func TestPinsAndExclusionsOutliveTheLeader(t *testing.T) {
	w := simcluster.New(t, simcluster.Seed(13), simcluster.Members(simcluster.Specs(4)...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	holderOf := func(p int) string {
		if hs := w.Holders()[p]; len(hs) == 1 {
			return hs[0]
		}
		return ""
	}
	pinTo := "m3"
	var pinned int
	for p := range simcluster.Partitions {
		if holderOf(p) != pinTo {
			pinned = p
			break
		}
	}
	ask := w.Others(w.Leader())[0]
	if err := w.Member(ask).Core().SetPin(w.Now(ask), pinned, pinTo); err != nil {
		t.Fatal(err)
	}
	if err := w.Member(ask).Core().SetExcluded(w.Now(ask), "m2", true); err != nil {
		t.Fatal(err)
	}
	w.Require(10*time.Second, "pin and exclusion in force", func() bool {
		return holderOf(pinned) == pinTo && len(w.AppHoldings("m2")) == 0 && w.Covered()
	})
	leader := w.Leader()
	if leader == pinTo || leader == "m2" {
		leader = "" // keep the pinned member and the excluded one running
	}
	if leader != "" {
		t.Logf("crashing the leader %s", leader)
		w.Crash(leader)
		others := w.Others(leader)
		w.Require(15*time.Second, "coverage after the leader crash", func() bool { return w.CoveredBy(others) })
		w.Run(2 * time.Second)
		if holderOf(pinned) != pinTo || len(w.AppHoldings("m2")) != 0 {
			t.Fatalf("after the leader crash: partition %d with %q, m2 holds %d", pinned, holderOf(pinned), len(w.AppHoldings("m2")))
		}
	}
	l := w.Leader()
	if err := w.Member(l).Core().SetExcluded(w.Now(l), "m2", false); err != nil {
		t.Fatal(err)
	}
	w.Require(10*time.Second, "m2 owns partitions again", func() bool { return len(w.AppHoldings("m2")) > 0 })
	w.RequireNoViolations()
}
