package rebalance

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestPlanEdgeCases(t *testing.T) {
	filled := func(partitions int, owners ...string) []string {
		current := make([]string, partitions)
		for p := range current {
			current[p] = owners[p%len(owners)]
		}
		return current
	}
	tests := []struct {
		name    string
		current []string
		members []string
		cfg     Config
		check   func(t *testing.T, res Result)
	}{
		{
			name: "no members, empty table", current: make([]string, 271), cfg: DefaultConfig(),
			check: func(t *testing.T, res Result) {
				if len(res.Moves) != 0 {
					t.Fatalf("%d moves, want none", len(res.Moves))
				}
			},
		},
		{
			name: "no members left: everything is revoked", current: filled(271, "a", "", "b"), cfg: DefaultConfig(),
			check: func(t *testing.T, res Result) {
				if want := 271 - 271/3; len(res.Moves) != want {
					t.Fatalf("%d moves, want %d revocations", len(res.Moves), want)
				}
				for _, m := range res.Moves {
					if m.To != "" {
						t.Fatalf("move %+v, want To empty", m)
					}
				}
			},
		},
		{
			name: "one member gets everything", current: filled(271, "", "gone"), members: []string{"solo"}, cfg: DefaultConfig(),
			check: func(t *testing.T, res Result) {
				if c := countOwners(res.Target)["solo"]; c != 271 {
					t.Fatalf("solo owns %d, want 271", c)
				}
			},
		},
		{
			name: "one member keeps everything", current: filled(271, "solo"), members: []string{"solo"}, cfg: Config{Partitions: 271, Load: 1},
			check: func(t *testing.T, res Result) {
				if len(res.Moves) != 0 {
					t.Fatalf("%d moves, want none", len(res.Moves))
				}
			},
		},
		{
			name: "300 members, 271 partitions", current: make([]string, 271), members: memberNames(300), cfg: DefaultConfig(),
		},
		{
			name: "more members than partitions, load 1", current: filled(100, memberNames(150)...), members: memberNames(120), cfg: Config{Partitions: 100, Load: 1},
			check: func(t *testing.T, res Result) {
				_, hi := minMaxLoad(res.Target, memberNames(120))
				if hi != 1 {
					t.Fatalf("a member owns %d partitions, want at most 1", hi)
				}
			},
		},
		{
			name: "300 members, one partition", current: []string{"ringd-7"}, members: memberNames(300), cfg: Config{Partitions: 1, Load: 1},
			check: func(t *testing.T, res Result) {
				if res.Target[0] != "ringd-7" {
					t.Fatalf("the one partition moved to %q, its owner is still a member", res.Target[0])
				}
			},
		},
		{
			name: "load exactly one", current: filled(271, "a", "b"), members: memberNames(7), cfg: Config{Partitions: 271, Load: 1},
		},
		{
			name: "large load keeps a lopsided table", current: filled(271, "a", "a", "a", "b"), members: []string{"a", "b", "c"}, cfg: Config{Partitions: 271, Load: 100},
			check: func(t *testing.T, res Result) {
				// a holds 204, more than even (91) but far below capacity, so
				// it only gives c (which has nothing) c's share.
				counts := countOwners(res.Target)
				if counts["a"] <= 91 || counts["c"] == 0 {
					t.Fatalf("counts %v: want a above 91 and c served", counts)
				}
			},
		},
		{
			name: "newcomers get floor(P/n) each", current: filled(271, "a"), members: []string{"a", "b", "c", "d"}, cfg: DefaultConfig(),
			check: func(t *testing.T, res Result) {
				counts := countOwners(res.Target)
				if counts["b"] != 67 || counts["c"] != 67 || counts["d"] != 67 || counts["a"] != 70 {
					t.Fatalf("counts %v, want 67 for each newcomer and the rest (70) kept by a", counts)
				}
			},
		},
		{
			name: "over capacity sheds", current: append(filled(200, "a"), filled(71, "b")...), members: []string{"a", "b"}, cfg: Config{Partitions: 271, Load: 1},
			check: func(t *testing.T, res Result) {
				counts := countOwners(res.Target)
				if counts["a"] != 136 || counts["b"] != 135 {
					t.Fatalf("counts %v, want a down to capacity 136", counts)
				}
				for _, m := range res.Moves {
					if m.From != "a" || m.To != "b" {
						t.Fatalf("move %+v, want only a to b", m)
					}
				}
			},
		},
		{
			name: "largest P", current: make([]string, 65536), members: memberNames(5), cfg: Config{Partitions: 65536, Load: 1.25},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Plan(tt.current, tt.members, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, tt.current, tt.members, tt.cfg, res)
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		current []string
		members []string
		cfg     Config
		want    error
	}{
		{"load below one", make([]string, 271), memberNames(3), Config{Partitions: 271, Load: 0.5}, ErrInvalidConfig},
		{"NaN load", make([]string, 271), memberNames(3), Config{Partitions: 271, Load: math.NaN()}, ErrInvalidConfig},
		{"infinite load", make([]string, 271), memberNames(3), Config{Partitions: 271, Load: math.Inf(1)}, ErrInvalidConfig},
		{"zero config", nil, memberNames(3), Config{}, ErrInvalidConfig},
		{"short table", make([]string, 270), memberNames(3), DefaultConfig(), ErrInvalidCurrent},
		{"nil table", nil, memberNames(3), DefaultConfig(), ErrInvalidCurrent},
		{"empty member name", make([]string, 271), []string{"a", ""}, DefaultConfig(), ErrInvalidMembers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Plan(tt.current, tt.members, tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if res.Target != nil || res.Moves != nil {
				t.Fatalf("result %+v with an error, want empty", res)
			}
		})
	}
}

// TestPlanDeterministic: the same table, member set and config give the same
// result whatever the order (and repetition) of the member list.
func TestPlanDeterministic(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(7, seed))
			for i := range 30 {
				current, members, cfg := randomInput(r)
				want, err := Plan(current, members, cfg)
				if err != nil {
					t.Fatal(err)
				}
				for range 4 {
					shuffled := slices.Clone(members)
					if len(shuffled) > 0 {
						shuffled = append(shuffled, shuffled[r.IntN(len(shuffled))])
					}
					r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
					got, err := Plan(slices.Clone(current), shuffled, cfg)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("input %d: members in another order give another result", i)
					}
				}
			}
		})
	}
}

// TestPlanProperties checks coverage, balance, ordered moves, the exact
// (minimal) number of moves, and idempotence on random inputs, and that a
// table equal to Target does not move.
func TestPlanProperties(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(9, seed))
			for range 50 {
				current, members, cfg := randomInput(r)
				res, err := Plan(current, members, cfg)
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, current, members, cfg, res)

				ideal, err := Target(members, cfg)
				if err != nil {
					t.Fatal(err)
				}
				again, err := Plan(ideal, members, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(again.Moves) != 0 {
					t.Fatalf("Plan(Target) has %d moves, want 0", len(again.Moves))
				}
			}
		})
	}
}

// TestPlanDoesNotModifyInput guards the pure-function contract.
func TestPlanDoesNotModifyInput(t *testing.T) {
	current := []string{"b", "", "gone", "a", "a", "a", "a"}
	members := []string{"c", "b", "a"}
	currentCopy, membersCopy := slices.Clone(current), slices.Clone(members)
	if _, err := Plan(current, members, Config{Partitions: 7, Load: 1}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(current, currentCopy) || !slices.Equal(members, membersCopy) {
		t.Fatalf("Plan changed its input: current %v, members %v", current, members)
	}
}

// BenchmarkPlan measures one Plan from an empty table (the first table of a
// cluster): every partition is placed.
func BenchmarkPlan(b *testing.B) {
	for _, bc := range []struct {
		members int
		cfg     Config
	}{
		{10, DefaultConfig()},
		{50, DefaultConfig()},
		{300, DefaultConfig()},
		{50, Config{Partitions: 65536, Load: 1}},
		{1000, Config{Partitions: 10000, Load: DefaultLoad}}, // issue 11's figure d: goal 20 ms
		{1000, Config{Partitions: 10000, Load: DefaultLoad, Standbys: 2, Zones: threeZones(1000)}},
		{50, Config{Partitions: 65536, Load: 1, Standbys: 1}},
	} {
		names := memberNames(bc.members)
		current := make([]string, bc.cfg.Partitions)
		name := fmt.Sprintf("n=%d/P=%d/load=%g", bc.members, bc.cfg.Partitions, bc.cfg.Load)
		if bc.cfg.Standbys > 0 {
			name += fmt.Sprintf("/standbys=%d/zones=%d", bc.cfg.Standbys, len(slices.Compact(slices.Sorted(maps.Values(bc.cfg.Zones)))))
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Plan(current, names, bc.cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanChange measures what a leader runs on a membership change: one
// Plan from a settled table of n members after one member joined or left.
func BenchmarkPlanChange(b *testing.B) {
	for _, bc := range []struct {
		members int
		cfg     Config
	}{
		{100, Config{Partitions: 1024, Load: DefaultLoad}},
		{1000, Config{Partitions: 10000, Load: DefaultLoad}},
	} {
		names := memberNames(bc.members + 1)
		start, err := Plan(make([]string, bc.cfg.Partitions), names[:bc.members], bc.cfg)
		if err != nil {
			b.Fatal(err)
		}
		settled := start.Target
		for _, change := range []struct {
			name    string
			members []string
		}{
			{"join", names},
			{"leave", names[1:bc.members]},
		} {
			b.Run(fmt.Sprintf("%s/n=%d/P=%d/load=%g", change.name, bc.members, bc.cfg.Partitions, bc.cfg.Load), func(b *testing.B) {
				for b.Loop() {
					if _, err := Plan(settled, change.members, bc.cfg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestWeightsSetShares: a member of weight 2 gets about twice the partitions
// of a member of weight 1, within the weighted load bound
// ceil(Load*P*w/W), from an empty table and after a join; changing a weight
// moves only what the new shares need.
func TestWeightsSetShares(t *testing.T) {
	cfg := Config{Partitions: 271, Load: 1.25, Weights: map[string]float64{"b": 2}}
	empty := make([]string, cfg.Partitions)
	res, err := Plan(empty, []string{"a", "b"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, empty, []string{"a", "b"}, cfg, res)
	counts := countOwners(res.Target)
	// Shares 271/3 = 90.3 and 180.7: filled to floor or ceil of the share.
	if counts["a"] < 90 || counts["a"] > 91 || counts["b"] < 180 || counts["b"] > 181 {
		t.Errorf("weights 1 and 2: counts %v, want about 90 and 181", counts)
	}
	if got, want := WeightedCapacity(2, 3, cfg), 226; got != want { // ceil(1.25*271*2/3)
		t.Errorf("WeightedCapacity(2, 3) = %d, want %d", got, want)
	}

	// c (weight 1) joins: shares 67.75, 135.5, 67.75.
	members := []string{"a", "b", "c"}
	joined, err := Plan(res.Target, members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res.Target, members, cfg, joined)
	if c := countOwners(joined.Target); c["c"] < 67 || c["b"] < 135 {
		t.Errorf("after c joined: counts %v, want c at 67 or more and b at 135 or more", c)
	}

	// b's weight goes down to 1: it sheds down to its new capacity only.
	even := Config{Partitions: 271, Load: 1.25}
	reweighed, err := Plan(joined.Target, members, even)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, joined.Target, members, even, reweighed)
	if c := countOwners(reweighed.Target); c["b"] > Capacity(3, even) {
		t.Errorf("b kept %d partitions above the unweighted capacity %d", c["b"], Capacity(3, even))
	}
}

// TestWeightsChangeTheRing: with every weight 1 the plan is the unweighted
// one; a weight below 1 takes ring points away (at least one stays).
func TestWeightsChangeTheRing(t *testing.T) {
	members := memberNames(5)
	cfg := Config{Partitions: 271, Load: 1.25}
	ones := Config{Partitions: 271, Load: 1.25, Weights: map[string]float64{}}
	for _, m := range members {
		ones.Weights[m] = 1
	}
	a, err := Target(members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Target(members, ones)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("weights of 1 changed the placement")
	}
	sh := sharesOf([]string{"x", "y"}, Config{Partitions: 10, Load: 1, Weights: map[string]float64{"x": 0.01}})
	if got := sh.points(replicas); got[0] != 1 || got[1] != replicas {
		t.Errorf("ring points %v, want [1 %d]", got, replicas)
	}
}

// TestPinsKeepPartitions: pinned partitions go to their member and stay,
// even past the load bound; the rest are placed around them within it; a pin
// to a member that is not in the plan waits.
func TestPinsKeepPartitions(t *testing.T) {
	members := []string{"a", "b", "c"}
	pins := map[int]string{0: "c", 5: "c", 9: "gone"}
	for p := 100; p < 200; p++ {
		pins[p] = "a" // 100 pins, below a's capacity ceil(1.25*271/3) = 113
	}
	cfg := Config{Partitions: 271, Load: 1.25, Pins: pins}
	empty := make([]string, cfg.Partitions)
	res, err := Plan(empty, members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for p, name := range pins {
		if name == "gone" {
			if res.Target[p] == "" || res.Target[p] == "gone" {
				t.Errorf("partition %d pinned to a member not in the plan got %q", p, res.Target[p])
			}
			continue
		}
		if res.Target[p] != name {
			t.Errorf("partition %d pinned to %s went to %s", p, name, res.Target[p])
		}
	}
	capacity := Capacity(3, cfg)
	for owner, c := range countOwners(res.Target) {
		if owner != "a" && c > capacity {
			t.Errorf("%s holds %d, above capacity %d", owner, c, capacity)
		}
	}
	// More pins than a's capacity: a keeps every pin and nothing else.
	for p := 0; p < 130; p++ {
		pins[p] = "a"
	}
	delete(pins, 9)
	res2, err := Plan(res.Target, members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pinnedToA := 0
	for _, name := range pins {
		if name == "a" {
			pinnedToA++
		}
	}
	if c := countOwners(res2.Target)["a"]; c != pinnedToA {
		t.Errorf("a holds %d partitions, want exactly its %d pins (it is above capacity %d)", c, pinnedToA, capacity)
	}
	again, err := Plan(res2.Target, members, cfg)
	if err != nil || len(again.Moves) != 0 {
		t.Errorf("planning again moves %d partitions (err %v), want none", len(again.Moves), err)
	}
}

// threeZones puts ringd-0..ringd-(n-1) in zones a, b and c in turn.
func threeZones(n int) map[string]string {
	zones := map[string]string{}
	for i, m := range memberNames(n) {
		zones[m] = string(rune('a' + i%3))
	}
	return zones
}
