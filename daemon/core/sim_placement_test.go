package core_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// holderOf is the one member whose app holds partition p, or "".
func holderOf(w *simcluster.Cluster, p int) string {
	if hs := w.Holders()[p]; len(hs) == 1 {
		return hs[0]
	}
	return ""
}

// heldBy lists the partitions member's app holds, in order.
func heldBy(w *simcluster.Cluster, member string) []int {
	var out []int
	for _, h := range w.AppHoldings(member) {
		out = append(out, h.ID)
	}
	slices.Sort(out)
	return out
}

// TestStandbysTakeOverInOtherZones: with one standby per partition and
// members in three zones, the leader's table lists for every partition a
// standby in another zone than its owner's; when a member crashes, its
// partitions go to their standbys, and the lists are kept by the next
// leader.
func TestStandbysTakeOverInOtherZones(t *testing.T) {
	specs := simcluster.Specs(6)
	for i := range specs {
		specs[i].Zone = []string{"a", "b", "c"}[i%3]
	}
	zone := map[string]string{}
	for _, s := range specs {
		zone[s.Name] = s.Zone
	}
	w := simcluster.New(t, simcluster.Seed(21), simcluster.With(simcluster.Settings{Standbys: 1}), simcluster.Members(specs...))
	listed := func() bool {
		l := w.Leader()
		if l == "" || !w.Covered() {
			return false
		}
		t := w.View(l).Table
		if len(t.Standbys) != simcluster.Partitions {
			return false
		}
		for p, e := range t.Partitions {
			if len(t.Standbys[p]) != 1 || e.Owner == "" || zone[t.Standbys[p][0]] == zone[e.Owner] {
				return false
			}
		}
		return true
	}
	w.Require(bootstrapBound+2*time.Second, "coverage, and a standby in another zone for every partition", listed)

	leader := w.Leader()
	victim := w.Others(leader)[0]
	table := w.View(leader).Table
	standbyOf := map[int]string{}
	for p, e := range table.Partitions {
		if e.Owner == victim {
			standbyOf[p] = table.Standbys[p][0]
		}
	}
	if len(standbyOf) == 0 {
		t.Fatalf("%s owns nothing", victim)
	}
	w.Crash(victim)
	w.Require(15*time.Second, "coverage after the crash", func() bool { return w.CoveredBy(w.Others(victim)) })
	// Every orphan goes to its standby, but for one each to members that
	// stand by for none of them and are short of their share (here the
	// other member of the victim's zone): the planner moves no more than
	// coverage and balance need.
	standing := map[string]bool{}
	for _, m := range standbyOf {
		standing[m] = true
	}
	outside := 0
	for _, m := range w.Others(victim) {
		if !standing[m] {
			outside++
		}
	}
	misses := 0
	for _, p := range slices.Sorted(maps.Keys(standbyOf)) {
		if got := holderOf(w, p); got != standbyOf[p] {
			misses++
			if standing[got] {
				t.Errorf("partition %d of %s went to %s, another's standby; its own was %s", p, victim, got, standbyOf[p])
			}
		}
	}
	if misses > outside || 2*misses >= len(standbyOf) {
		t.Fatalf("%d of %s's %d partitions did not go to their standby (%d members stand by for none)", misses, victim, len(standbyOf), outside)
	}
	t.Logf("%d of %d orphans went to their standby", len(standbyOf)-misses, len(standbyOf))
	w.Require(5*time.Second, "standbys listed again, none of them the crashed member", func() bool {
		if !listed() {
			return false
		}
		for _, list := range w.View(w.Leader()).Table.Standbys {
			if slices.Contains(list, victim) {
				return false
			}
		}
		return true
	})

	// A new leader keeps the lists: they are in its first table.
	before := w.View(w.Leader()).Table.Standbys
	old := w.Leader()
	w.Crash(old)
	w.Require(15*time.Second, "a new leader", func() bool { l := w.Leader(); return l != "" && l != old })
	first := w.View(w.Leader()).Table.Standbys
	if len(first) != len(before) {
		t.Fatalf("the new leader's table has %d standby lists, want %d", len(first), len(before))
	}
	w.RequireNoViolations()
}

// TestPlannedRestartGetsItsPartitionsBack: a member stopping for a planned
// restart releases its partitions, nobody else owns them while it is away
// (the table lists them as kept for it), it gets exactly them back when it
// returns under its name, and no other partition moves at all.
func TestPlannedRestartGetsItsPartitionsBack(t *testing.T) {
	for _, restartLeader := range []bool{false, true} {
		name := map[bool]string{false: "a member", true: "the leader"}[restartLeader]
		t.Run(name, func(t *testing.T) {
			specs := simcluster.DiskSpecs(4)
			w := simcluster.New(t, simcluster.Seed(22), simcluster.Members(specs...))
			w.Require(bootstrapBound, "coverage", w.Covered)
			w.Run(2 * time.Second) // settled
			leader := w.Leader()
			who := w.Others(leader)[0]
			if restartLeader {
				who = leader
			}
			kept := heldBy(w, who)
			if len(kept) == 0 {
				t.Fatalf("%s holds nothing", who)
			}
			owners := map[int]string{}
			for p := range simcluster.Partitions {
				owners[p] = holderOf(w, p)
			}
			// Every step: kept partitions are held by nobody but `who`,
			// and no other partition changes hands.
			moved := map[int]bool{}
			w.OnStep(func(time.Time) {
				for p, hs := range w.Holders() {
					for _, h := range hs {
						if h != owners[p] && !moved[p] {
							moved[p] = true
							t.Logf("partition %d (of %s) held by %s at %v", p, owners[p], h, w.GlobalNow())
						}
					}
				}
			})
			w.PlannedRestart(who, 20*time.Second, 5*time.Second, 1*time.Second)
			w.Require(10*time.Second, "the table keeps the partitions for "+who, func() bool {
				l := w.Leader()
				if l == "" || l == who {
					return false
				}
				tb := w.View(l).Table
				if _, ok := tb.Restarting[who]; !ok {
					return false
				}
				for _, p := range kept {
					if tb.Reserved[p] != who || tb.Partitions[p].Owner != "" {
						return false
					}
				}
				return true
			})
			w.Require(20*time.Second, who+" back with its partitions", func() bool {
				return w.Up(who) && slices.Equal(heldBy(w, who), kept) && w.Covered()
			})
			if len(moved) > 0 {
				t.Fatalf("partitions %v changed hands during %s's restart", slices.Sorted(maps.Keys(moved)), who)
			}
			tb := w.View(w.Leader()).Table
			if len(tb.Reserved) != 0 || len(tb.Restarting) != 0 {
				t.Fatalf("after the return the table still keeps %v for %v", tb.Reserved, tb.Restarting)
			}
			w.RequireNoViolations()
		})
	}
}

// TestPlannedRestartGraceEnds: a member that does not come back within its
// rejoin grace loses what was kept for it: the partitions go to others.
func TestPlannedRestartGraceEnds(t *testing.T) {
	w := simcluster.New(t, simcluster.Seed(23), simcluster.Members(simcluster.Specs(4)...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	who := w.Others(w.Leader())[0]
	kept := heldBy(w, who)
	const grace = 3 * time.Second
	w.PlannedRestart(who, grace, 5*time.Second, time.Hour)
	w.Require(5*time.Second, "kept for "+who, func() bool {
		l := w.Leader()
		return l != "" && len(w.View(l).Table.Reserved) == len(kept) && !w.Up(who)
	})
	others := w.Others(who)
	if w.CoveredBy(others) {
		t.Fatal("covered while partitions are kept for the restarting member")
	}
	w.Require(grace+5*time.Second, "the others cover everything after the grace", func() bool { return w.CoveredBy(others) })
	if tb := w.View(w.Leader()).Table; len(tb.Reserved) != 0 || len(tb.Restarting) != 0 {
		t.Fatalf("after the grace the table still keeps %v for %v", tb.Reserved, tb.Restarting)
	}
	w.RequireNoViolations()
}

// TestPlannedRestartOutlastsDeadMemberTimeout: a member away on a planned
// restart for longer than the dead-member timeout stays among the table's
// members while its partitions are kept, and gets them back when it returns.
func TestPlannedRestartOutlastsDeadMemberTimeout(t *testing.T) {
	specs := simcluster.DiskSpecs(4)
	w := simcluster.New(t, simcluster.Seed(81), simcluster.Members(specs...))
	w.Require(bootstrapBound, "coverage", w.Covered)
	w.Run(2 * time.Second)
	who := w.Others(w.Leader())[0]
	kept := heldBy(w, who)
	down := simcluster.DeadMemberTimeout + simcluster.DetectDelay + 2*time.Second
	w.PlannedRestart(who, 30*time.Second, 5*time.Second, down)
	w.Require(5*time.Second, who+" down", func() bool { return !w.Up(who) })
	dropped := false
	w.OnStep(func(time.Time) {
		if l := w.Leader(); l != "" && !slices.Contains(w.View(l).Table.Members, who) {
			dropped = true
		}
	})
	w.Require(down+5*time.Second, who+" up again", func() bool { return w.Up(who) })
	w.Require(10*time.Second, who+" back with its partitions", func() bool { return slices.Equal(heldBy(w, who), kept) && w.Covered() })
	if dropped {
		t.Fatalf("%s left the table's members while its partitions were kept for it", who)
	}
	w.RequireNoViolations()
}
