package rebalance

import (
	"fmt"
	"strings"
	"testing"
)

// movementRow is one line of the movement table.
type movementRow struct {
	n                       int
	joinMoved               int
	joinOptimum             float64 // P/(n+1)
	joinerGot               int
	leaveMoved, leaveShare  int // of the leave with the worst ratio
	leaveWorst              float64
	minLoad, maxLoad, capac int     // settled table of n members
	onTarget                float64 // share of the settled table on its Target owner
}

// TestMovementTable checks the little-movement promise: from a settled table
// (Plan from an empty table) of n = 2..50 members, P = 271, Load 1.25, a
// single join moves at most twice P/(n+1) partitions and every single leave
// (each member in turn) moves at most twice the leaver's share. A move is any
// partition whose owner changes, the leaver's orphans included. What Plan
// actually achieves is stricter and checked too: a join moves partitions only
// to the newcomer, which gets floor(P/(n+1)), and a leave moves only the
// leaver's partitions. It logs the table.
func TestMovementTable(t *testing.T) {
	cfg := Config{Partitions: 271, Load: 1.25}
	const maxN = 50
	rows := make([]movementRow, maxN+1)
	t.Run("n", func(t *testing.T) {
		for n := 2; n <= maxN; n++ {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				t.Parallel()
				rows[n] = measureMovement(t, n, cfg)
			})
		}
	})
	if t.Failed() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "P=%d load=%g; moved/optimum (join: optimum P/(n+1); leave: worst leaver, optimum its share)\n", cfg.Partitions, cfg.Load)
	fmt.Fprintf(&b, "%3s %12s %7s %10s %6s %13s %9s\n", "n", "join", "joiner", "leave", "ratio", "min/max/cap", "onTarget")
	var worstJoin, worstLeave float64
	for _, r := range rows[2:] {
		joinRatio := float64(r.joinMoved) / r.joinOptimum
		worstJoin = max(worstJoin, joinRatio)
		worstLeave = max(worstLeave, r.leaveWorst)
		fmt.Fprintf(&b, "%3d %3d/%5.1f=%.2f %7d %6d/%3d %6.2f %13s %8.0f%%\n", r.n, r.joinMoved, r.joinOptimum, joinRatio,
			r.joinerGot, r.leaveMoved, r.leaveShare, r.leaveWorst, fmt.Sprintf("%d/%d/%d", r.minLoad, r.maxLoad, r.capac), 100*r.onTarget)
	}
	fmt.Fprintf(&b, "worst join %.2f, worst leave %.2f", worstJoin, worstLeave)
	t.Log("\n" + b.String())
}

func measureMovement(t *testing.T, n int, cfg Config) movementRow {
	t.Helper()
	names := memberNames(n + 1)
	members := names[:n]
	start, err := Plan(make([]string, cfg.Partitions), members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	settled := start.Target
	if again, err := Plan(settled, members, cfg); err != nil || len(again.Moves) != 0 {
		t.Fatalf("settled table is not stable: %v, %d moves", err, len(again.Moves))
	}
	row := movementRow{n: n, capac: Capacity(n, cfg)}
	row.minLoad, row.maxLoad = minMaxLoad(settled, members)
	ideal, err := Target(members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	row.onTarget = float64(cfg.Partitions-changed(ideal, settled)) / float64(cfg.Partitions)
	if row.onTarget < 0.6 {
		t.Errorf("n=%d: only %.0f%% of the settled table is on its Target owner, want 60%% or more", n, 100*row.onTarget)
	}

	join, err := Plan(settled, names, cfg)
	if err != nil {
		t.Fatal(err)
	}
	row.joinMoved = changed(settled, join.Target)
	row.joinOptimum = float64(cfg.Partitions) / float64(n+1)
	row.joinerGot = countOwners(join.Target)[names[n]]
	if float64(row.joinMoved) > 2*row.joinOptimum {
		t.Errorf("n=%d: a join moves %d partitions, more than twice the optimum %.1f", n, row.joinMoved, row.joinOptimum)
	}
	if want := cfg.Partitions / (n + 1); row.joinerGot != want {
		t.Errorf("n=%d: the new member got %d partitions, want floor(P/(n+1)) = %d", n, row.joinerGot, want)
	}
	for _, mv := range join.Moves {
		if mv.To != names[n] {
			t.Errorf("n=%d: join moves partition %d from %s to %s, not to the new member", n, mv.Partition, mv.From, mv.To)
		}
	}

	shares := countOwners(settled)
	row.leaveWorst = -1
	for _, leaver := range members {
		rest := make([]string, 0, n-1)
		for _, m := range members {
			if m != leaver {
				rest = append(rest, m)
			}
		}
		leave, err := Plan(settled, rest, cfg)
		if err != nil {
			t.Fatal(err)
		}
		moved, share := changed(settled, leave.Target), shares[leaver]
		for _, mv := range leave.Moves {
			if mv.From != leaver {
				t.Errorf("n=%d: %s leaving moves partition %d of %s", n, leaver, mv.Partition, mv.From)
			}
		}
		if moved > 2*share {
			t.Errorf("n=%d: %s leaving moves %d partitions, more than twice its share %d", n, leaver, moved, share)
		}
		if ratio := float64(moved) / float64(max(share, 1)); ratio > row.leaveWorst {
			row.leaveWorst, row.leaveMoved, row.leaveShare = ratio, moved, share
		}
	}
	return row
}

// TestMovementHistory grows a cluster one member at a time from 1 to 40 and
// shrinks it again (members leave in a scattered order), planning each step
// from the previous table, as a real cluster does: every step must stay within
// twice the optimum and keep every invariant.
func TestMovementHistory(t *testing.T) {
	cfg := Config{Partitions: 271, Load: 1.25}
	names := memberNames(40)
	current := make([]string, cfg.Partitions)
	step := func(members []string, optimum float64, what string) {
		t.Helper()
		res, err := Plan(current, members, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, current, members, cfg, res)
		if moved := len(res.Moves); float64(moved) > 2*optimum {
			t.Fatalf("%s: %d moves, more than twice the optimum %.1f", what, moved, optimum)
		}
		current = res.Target
	}
	for n := 1; n <= len(names); n++ {
		step(names[:n], float64(cfg.Partitions)/float64(n), fmt.Sprintf("join to %d", n))
	}
	members := names
	for len(members) > 1 {
		k := (len(members) * 7) % len(members)
		leaver := members[k]
		share := countOwners(current)[leaver]
		members = append(members[:k:k], members[k+1:]...)
		step(members, float64(share), fmt.Sprintf("leave of %s to %d", leaver, len(members)))
	}
}
