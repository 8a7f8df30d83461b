package rebalance

import (
	"slices"
	"testing"
)

// warmOf turns a result's standby lists into Config.Warm for the next plan.
func warmOf(res Result) [][]string { return res.Standbys }

// TestStandbysInOtherZones: with zones, every standby is in another zone
// than its partition's owner, and with as many zones as owner and standbys
// need, the standbys of a partition are in different zones from each other.
func TestStandbysInOtherZones(t *testing.T) {
	members := memberNames(9)
	zones := map[string]string{}
	for i, m := range members {
		zones[m] = []string{"a", "b", "c"}[i%3]
	}
	for _, k := range []int{1, 2} {
		cfg := Config{Partitions: 271, Load: DefaultLoad, Standbys: k, Zones: zones}
		res, err := Plan(make([]string, cfg.Partitions), members, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, make([]string, cfg.Partitions), members, cfg, res)
		for p, list := range res.Standbys {
			seen := map[string]bool{zones[res.Target[p]]: true}
			for _, m := range list {
				if seen[zones[m]] {
					t.Fatalf("K=%d: partition %d owned in zone %s has standbys %v: a zone twice", k, p, zones[res.Target[p]], list)
				}
				seen[zones[m]] = true
			}
		}
	}

	// A lopsided cluster: four members in zone a, one in b. The member in
	// b stands by for every partition of zone a, past its bound: the zone
	// rule wins over the standby balance.
	cfg := Config{Partitions: 100, Load: DefaultLoad, Standbys: 1,
		Zones: map[string]string{"ringd-0": "a", "ringd-1": "a", "ringd-2": "a", "ringd-3": "a", "ringd-4": "b"}}
	res, err := Plan(make([]string, 100), memberNames(5), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p, list := range res.Standbys {
		if owner := res.Target[p]; cfg.Zones[owner] == "a" && list[0] != "ringd-4" || cfg.Zones[owner] == "b" && cfg.Zones[list[0]] != "a" {
			t.Fatalf("partition %d owned by %s has standby %s", p, owner, list[0])
		}
	}

	// Without zones the same cluster spreads standbys by the bound.
	cfg.Zones = nil
	res, err = Plan(make([]string, 100), memberNames(5), cfg)
	if err != nil {
		t.Fatal(err)
	}
	limit := 25 // ceil(1.25 * 100 * 1 / 5)
	counts := map[string]int{}
	for _, list := range res.Standbys {
		counts[list[0]]++
	}
	for m, c := range counts {
		if c > limit {
			t.Fatalf("%s stands by for %d partitions, bound %d: %v", m, c, limit, counts)
		}
	}
}

// TestStandbyTakesOverOnFailover: when a member fails, its partitions go to
// their standbys as far as the counts allow, with no more moves than
// without standbys; and the lists of partitions the failure did not touch
// keep their standbys.
func TestStandbyTakesOverOnFailover(t *testing.T) {
	members := memberNames(6)
	for _, k := range []int{1, 2} {
		cfg := Config{Partitions: 271, Load: DefaultLoad, Standbys: k}
		first, err := Plan(make([]string, cfg.Partitions), members, cfg)
		if err != nil {
			t.Fatal(err)
		}
		failed := members[2]
		survivors := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == failed })

		cfg.Warm = warmOf(first)
		after, err := Plan(first.Target, survivors, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, first.Target, survivors, cfg, after)
		cold := cfg
		cold.Warm = nil
		without, err := Plan(first.Target, survivors, cold)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Moves) != len(without.Moves) {
			t.Fatalf("K=%d: %d moves with standbys, %d without", k, len(after.Moves), len(without.Moves))
		}
		toStandby, coldToStandby, orphans := 0, 0, 0
		for p, owner := range first.Target {
			if owner != failed {
				continue
			}
			orphans++
			if slices.Contains(first.Standbys[p], after.Target[p]) {
				toStandby++
			}
			if slices.Contains(first.Standbys[p], without.Target[p]) {
				coldToStandby++
			}
		}
		// Every orphan is placed while its standbys are below their low
		// (a failure raises every survivor's low): all but a few go to a
		// standby, far more than a plan that does not know them.
		if toStandby < orphans*9/10 || toStandby <= coldToStandby {
			t.Fatalf("K=%d: %d of %d orphans went to a standby (%d without standbys known)", k, toStandby, orphans, coldToStandby)
		}
		kept := 0
		for p := range first.Target {
			if first.Target[p] != failed && !slices.Contains(first.Standbys[p], failed) &&
				slices.Equal(after.Standbys[p], first.Standbys[p]) {
				kept++
			}
		}
		untouched := 0
		for p := range first.Target {
			if first.Target[p] != failed && !slices.Contains(first.Standbys[p], failed) {
				untouched++
			}
		}
		if kept < untouched*9/10 {
			t.Fatalf("K=%d: %d of %d lists the failure did not touch kept their standbys", k, kept, untouched)
		}
		t.Logf("K=%d: %d/%d orphans to a standby (%d without), %d/%d untouched lists kept", k, toStandby, orphans, coldToStandby, kept, untouched)
	}
}

// TestStandbysChangeLittleOnJoin: a member joining takes some standby
// places, and most lists stay as they were.
func TestStandbysChangeLittleOnJoin(t *testing.T) {
	members := memberNames(8)
	cfg := Config{Partitions: 271, Load: DefaultLoad, Standbys: 1}
	first, err := Plan(make([]string, cfg.Partitions), members[:7], cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Warm = warmOf(first)
	joined, err := Plan(first.Target, members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, first.Target, members, cfg, joined)
	same := 0
	newcomer := 0
	for p := range first.Standbys {
		if slices.Equal(first.Standbys[p], joined.Standbys[p]) {
			same++
		}
		if joined.Standbys[p][0] == members[7] {
			newcomer++
		}
	}
	if same < cfg.Partitions*3/4 || newcomer == 0 {
		t.Fatalf("after a join %d of %d standby lists are the same, the newcomer stands by for %d", same, cfg.Partitions, newcomer)
	}
	t.Logf("after a join: %d/%d lists unchanged, the newcomer stands by for %d", same, cfg.Partitions, newcomer)
}

// TestStandbysIgnoreMemberOrder: the lists depend on the member set, not on
// how it is listed.
func TestStandbysIgnoreMemberOrder(t *testing.T) {
	members := memberNames(7)
	cfg := Config{Partitions: 97, Load: DefaultLoad, Standbys: 3,
		Zones: map[string]string{"ringd-0": "x", "ringd-1": "y", "ringd-2": "x", "ringd-5": "y"}}
	a, err := Plan(make([]string, 97), members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(members)
	slices.Reverse(reversed)
	b, err := Plan(make([]string, 97), append(reversed, members[3]), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p := range a.Standbys {
		if !slices.Equal(a.Standbys[p], b.Standbys[p]) {
			t.Fatalf("partition %d: standbys %v and %v", p, a.Standbys[p], b.Standbys[p])
		}
	}
}
