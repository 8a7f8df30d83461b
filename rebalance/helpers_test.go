package rebalance

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// ringMember adapts a member name to consistent.Member, for the tests that
// compare this package with consistent itself.
type ringMember string

func (m ringMember) String() string { return string(m) }

// memberNames returns ringd-0 .. ringd-(n-1).
func memberNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("ringd-%d", i)
	}
	return names
}

// countOwners returns how many partitions each owner holds ("" included).
func countOwners(assignment []string) map[string]int {
	counts := make(map[string]int)
	for _, owner := range assignment {
		counts[owner]++
	}
	return counts
}

// minMaxLoad returns the fewest and most partitions any of members holds.
func minMaxLoad(assignment, members []string) (lo, hi int) {
	counts := countOwners(assignment)
	lo = len(assignment)
	for _, m := range members {
		lo = min(lo, counts[m])
		hi = max(hi, counts[m])
	}
	return lo, hi
}

// changed counts the partitions whose owner differs.
func changed(a, b []string) int {
	n := 0
	for p := range a {
		if a[p] != b[p] {
			n++
		}
	}
	return n
}

// checkResult asserts what every Plan result must satisfy: coverage, balance,
// moves that are exactly the ordered difference, the minimal number of moves
// max(F, D) (see the package documentation), and idempotence.
func checkResult(t *testing.T, current, members []string, cfg Config, res Result) {
	t.Helper()
	P := cfg.Partitions
	if len(res.Target) != P {
		t.Fatalf("target has %d entries, want %d", len(res.Target), P)
	}
	set := make(map[string]bool)
	for _, m := range members {
		set[m] = true
	}
	n := len(set)

	// Coverage: every partition has an owner that is a member (none without members).
	for p, owner := range res.Target {
		if n == 0 && owner != "" {
			t.Fatalf("partition %d owned by %q with no members", p, owner)
		}
		if n > 0 && !set[owner] {
			t.Fatalf("partition %d owned by %q, not a member", p, owner)
		}
	}
	// Balance: no member above its (weighted) capacity.
	total := 0.0
	for _, m := range slices.Sorted(maps.Keys(set)) {
		total += cfg.weight(m)
	}
	capacityOf := func(m string) int { return WeightedCapacity(cfg.weight(m), total, cfg) }
	floorOf := func(m string) int { return int(math.Floor(float64(P) * cfg.weight(m) / total)) }
	if cfg.Weights == nil && n > 0 && capacityOf(members[0]) != Capacity(n, cfg) {
		t.Fatalf("unweighted: WeightedCapacity %d differs from Capacity %d", capacityOf(members[0]), Capacity(n, cfg))
	}
	for owner, c := range countOwners(res.Target) {
		if owner != "" && c > capacityOf(owner) {
			t.Fatalf("member %q owns %d partitions, capacity %d (n=%d, cfg=%+v)", owner, c, capacityOf(owner), n, cfg)
		}
	}
	// Moves: the difference between current and target, in partition order.
	var want []Move
	for p := range current {
		if current[p] != res.Target[p] {
			want = append(want, Move{Partition: p, From: current[p], To: res.Target[p]})
		}
	}
	if !slices.Equal(res.Moves, want) {
		t.Fatalf("moves %v, want the ordered difference %v", res.Moves, want)
	}
	// Stickiness: exactly max(F, D) moves.
	if n > 0 {
		ideal, err := Target(members, cfg)
		if err != nil {
			t.Fatalf("Target: %v", err)
		}
		quota := countOwners(ideal)
		held := make(map[string]int)
		free := 0
		for _, owner := range current {
			if set[owner] {
				held[owner]++
			} else {
				free++
			}
		}
		short := 0
		for m := range set {
			capacity := capacityOf(m)
			free += max(0, held[m]-capacity)
			low := min(quota[m], floorOf(m))
			if held[m] == 0 && quota[m] > 0 {
				low = floorOf(m) // a newcomer
			}
			short += max(0, low-min(held[m], capacity))
			if kept := keptBy(current, res.Target, m); kept < min(held[m], low) {
				t.Fatalf("member %q kept %d of its %d partitions, low is %d", m, kept, held[m], low)
			}
		}
		// A member gives up partitions Target places on it only after all
		// those Target places elsewhere.
		for m := range set {
			lostOwn, keptOther := -1, -1
			for p := range current {
				if current[p] != m {
					continue
				}
				if ideal[p] == m && res.Target[p] != m {
					lostOwn = p
				}
				if ideal[p] != m && res.Target[p] == m {
					keptOther = p
				}
			}
			if lostOwn >= 0 && keptOther >= 0 {
				t.Fatalf("member %q gave up partition %d, which Target places on it, but kept %d, which Target places elsewhere", m, lostOwn, keptOther)
			}
		}
		if got, want := len(res.Moves), max(free, short); got != want {
			t.Fatalf("%d moves, want max(free %d, shortfall %d) = %d", got, free, short, want)
		}
	}
	checkStandbys(t, res, set, cfg)
	// Idempotence: planning again from the result (its standbys the
	// current ones) changes nothing.
	cfg.Warm = res.Standbys
	again, err := Plan(res.Target, members, cfg)
	if err != nil {
		t.Fatalf("Plan(result): %v", err)
	}
	if len(again.Moves) != 0 {
		t.Fatalf("Plan(result) has %d moves, want 0: %v", len(again.Moves), again.Moves)
	}
	if !reflect.DeepEqual(again.Standbys, res.Standbys) {
		t.Fatalf("Plan(result) changes the standbys")
	}
}

// checkStandbys checks a result's standby lists: min(K, n-1) distinct
// members other than the owner for every partition, in another zone than
// the owner's whenever the other zones have members enough.
func checkStandbys(t *testing.T, res Result, members map[string]bool, cfg Config) {
	t.Helper()
	k := min(cfg.Standbys, len(members)-1)
	if k <= 0 {
		if res.Standbys != nil {
			t.Fatalf("standbys %v with K=%d and %d members", res.Standbys, cfg.Standbys, len(members))
		}
		return
	}
	if len(res.Standbys) != cfg.Partitions {
		t.Fatalf("%d standby lists for %d partitions", len(res.Standbys), cfg.Partitions)
	}
	inZone := map[string]int{}
	for m := range members {
		inZone[cfg.Zones[m]]++
	}
	for p, list := range res.Standbys {
		owner := res.Target[p]
		if len(list) != k {
			t.Fatalf("partition %d has standbys %v, want %d", p, list, k)
		}
		otherZone := len(members) - inZone[cfg.Zones[owner]]
		for i, m := range list {
			if !members[m] || m == owner || slices.Contains(list[:i], m) {
				t.Fatalf("partition %d (owner %q) has standbys %v: want distinct members other than the owner", p, owner, list)
			}
			if len(inZone) > 1 && i < otherZone && cfg.Zones[m] == cfg.Zones[owner] {
				t.Fatalf("partition %d: standby %q in the owner's zone %q though %d members are in other zones (%v)",
					p, m, cfg.Zones[owner], otherZone, list)
			}
		}
	}
}

// keptBy counts the partitions m holds in both assignments.
func keptBy(current, next []string, m string) int {
	n := 0
	for p := range current {
		if current[p] == m && next[p] == m {
			n++
		}
	}
	return n
}

// randomInput draws a config, a member list (with duplicates, in random order)
// and a current table with unassigned partitions and gone owners.
func randomInput(r *rand.Rand) ([]string, []string, Config) {
	cfg := Config{Partitions: 1 + r.IntN(400), Load: 1 + r.Float64()*2}
	switch r.IntN(4) {
	case 0:
		cfg.Load = 1
	case 1:
		cfg.Load = DefaultLoad
	}
	pool := memberNames(60)
	var members []string
	for range r.IntN(40) {
		members = append(members, pool[r.IntN(len(pool))])
	}
	current := make([]string, cfg.Partitions)
	for p := range current {
		if r.IntN(5) > 0 {
			current[p] = pool[r.IntN(len(pool))]
		}
	}
	return current, members, cfg
}
