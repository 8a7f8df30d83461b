package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/rebalance"
)

func TestLeavers(t *testing.T) {
	for _, tt := range []struct {
		n, k int
		want []int
	}{
		{3, 5, []int{0, 1, 2}},
		{10, 5, []int{0, 2, 4, 6, 8}},
		{1000, 3, []int{0, 333, 666}},
	} {
		if got := leavers(tt.n, tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("leavers(%d, %d) = %v, want %v", tt.n, tt.k, got, tt.want)
		}
	}
}

func TestMovedAndLoadSpread(t *testing.T) {
	before := []string{"a", "a", "b", "c", "c", "c"}
	after := []string{"a", "d", "b", "c", "d", "c"}
	if got := moved(before, after); got != 2 {
		t.Fatalf("moved = %d, want 2", got)
	}
	// Mean 6/4 = 1.5: "c" holds 3 (2x the mean), "d" none.
	hi, lo := loadSpread(before, []string{"a", "b", "c", "d"})
	if hi != 2 || lo != 0 {
		t.Fatalf("loadSpread = %.2f, %.2f, want 2, 0", hi, lo)
	}
	if got := joinOptimum(271, 9); got != 27.1 {
		t.Fatalf("joinOptimum(271, 9) = %g, want 27.1", got)
	}
	if got := without([]string{"a", "b", "c"}, 1); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("without = %v", got)
	}
}

// TestConsistentSystemIsFresh checks what the baseline relies on: after Adds
// and Removes, consistent's table is that of a fresh ring over the members.
func TestConsistentSystemIsFresh(t *testing.T) {
	cfg := rebalance.Config{Partitions: 271, Load: rebalance.DefaultLoad}
	names := benchMemberNames(12)
	sys := newConsistentSystem(cfg)
	for _, members := range [][]string{names[:10], names[:11], without(names[:10], 3), without(names[:10], 7), names} {
		got, err := sys.table(nil, members)
		if err != nil {
			t.Fatal(err)
		}
		if want := consistentRing(members, cfg); !slices.Equal(got, want) {
			t.Fatalf("members %v: the reused ring differs from a fresh one in %d partitions", members, moved(got, want))
		}
	}
}

// TestMeasureMovementIsSane runs one small size through both systems: the
// figures must be in the ranges the definitions allow, and ringd must keep
// its promises (a join moves at most the optimum rounded up, a leave exactly
// the leaver's share at this size, as rebalance's TestMovementTable checks).
func TestMeasureMovementIsSane(t *testing.T) {
	cfg := rebalance.Config{Partitions: 271, Load: rebalance.DefaultLoad}
	const n = 10
	ringd, err := measureMovement(ringdSystem(cfg), cfg, n, leavers(n, 3))
	if err != nil {
		t.Fatal(err)
	}
	if ringd.joinMoved != 271/(n+1) || ringd.leaveRatio != 1 || ringd.overCap {
		t.Fatalf("ringd: %+v, want %d moved on the join, leave ratio 1, no member over capacity", ringd, 271/(n+1))
	}
	plain, err := measureMovement(newConsistentSystem(cfg).table, cfg, n, leavers(n, 3))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]movementResult{"ringd": ringd, "consistent": plain} {
		if r.joinRatio <= 0 || r.leaveRatio < 1 || r.maxMean < 1 || r.minMean > 1 || r.minMean < 0 {
			t.Errorf("%s: figures out of range: %+v", name, r)
		}
	}
}

func TestMovementNotes(t *testing.T) {
	good := map[string]worstAt{"join ringd": {1, "P=271 n=3"}, "leave ringd": {1.5, "P=271 n=10"}}
	notes := strings.Join(movementNotes(good, nil), "\n")
	if !strings.Contains(notes, "1.50 (P=271 n=10)") || !strings.Contains(notes, "met at every size") || strings.Contains(notes, "MISSED") {
		t.Fatalf("notes for figures within the bounds:\n%s", notes)
	}
	bad := map[string]worstAt{"join ringd": {2.5, "P=1024 n=50"}}
	notes = strings.Join(movementNotes(bad, []string{"P=271 n=50"}), "\n")
	if !strings.Contains(notes, "MISSED") || !strings.Contains(notes, "BROKEN at P=271 n=50") {
		t.Fatalf("notes for figures beyond the bounds:\n%s", notes)
	}
}
