package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ringd/ringd/rebalance"
)

func init() {
	register(Figure{ID: "i", Title: "placement: standby takeovers, planning with standbys, rolling restarts", Run: runPlacement})
}

// takeover is what one failure does to a settled table with standbys.
type takeover struct {
	orphans, toStandby, coldToStandby int
	moves, coldMoves                  int
}

// measureTakeover settles a table of members with k standbys (zones in
// turn when zoned), fails member `failed`, plans with and without the
// standby lists, and counts where the orphans went.
func measureTakeover(cfg rebalance.Config, members []string, failed int) (takeover, error) {
	var out takeover
	first, err := rebalance.Plan(make([]string, cfg.Partitions), members, cfg)
	if err != nil {
		return out, err
	}
	survivors := without(members, failed)
	warm := cfg
	warm.Warm = first.Standbys
	after, err := rebalance.Plan(first.Target, survivors, warm)
	if err != nil {
		return out, err
	}
	cold, err := rebalance.Plan(first.Target, survivors, cfg)
	if err != nil {
		return out, err
	}
	out.moves, out.coldMoves = len(after.Moves), len(cold.Moves)
	for p, owner := range first.Target {
		if owner != members[failed] {
			continue
		}
		out.orphans++
		if slices.Contains(first.Standbys[p], after.Target[p]) {
			out.toStandby++
		}
		if slices.Contains(first.Standbys[p], cold.Target[p]) {
			out.coldToStandby++
		}
	}
	return out, nil
}

// zonesFor puts members in z zones in turn (none for z < 2).
func zonesFor(members []string, z int) map[string]string {
	if z < 2 {
		return nil
	}
	out := map[string]string{}
	for i, m := range members {
		out[m] = fmt.Sprintf("zone-%d", i%z)
	}
	return out
}

// rollingDrain counts the partitions a rolling restart with drains moves:
// each member in turn leaves (its partitions go to others) and comes back
// (it gets its share again), planned from the table before.
func rollingDrain(cfg rebalance.Config, members []string) (int, error) {
	res, err := rebalance.Plan(make([]string, cfg.Partitions), members, cfg)
	if err != nil {
		return 0, err
	}
	table, total := res.Target, 0
	for i := range members {
		for _, set := range [][]string{without(members, i), members} {
			next, err := rebalance.Plan(table, set, cfg)
			if err != nil {
				return 0, err
			}
			total += len(next.Moves)
			table = next.Target
		}
	}
	return total, nil
}

func runPlacement(ctx context.Context, env *Env) (Section, error) {
	sizes := []int{5, 10, 25, 50}
	if env.Quick {
		sizes = []int{5, 25}
	}
	failures := env.Trials(5, 2)
	sec := Section{
		Title:   "i. Placement: standby takeovers, planning with standbys, rolling restarts",
		Command: "go run ./cmd/ringbench --figures i",
		Setup: fmt.Sprintf("In process (rebalance.Plan as the leader calls it, load 1.25). Takeover: a table settled from an empty one "+
			"with K standbys per partition (members in 3 zones in turn where zoned), then each of %d members spread over the list "+
			"fails in turn; the survivors are planned from that table with its standby lists (as the leader does) and without "+
			"them. Shown: the failed member's partitions that went to one of their standbys, and the moves of both plans (the "+
			"same: the standbys change where orphans go, never how many move). Planning time: the median of 15 plans of a "+
			"first table (every partition free), which is the most a plan costs. Rolling restart: every member in turn "+
			"restarts once; with --shutdown=drain its partitions go to others and its share comes back when it returns, with "+
			"--shutdown=restart they are kept for it and come back to it.", failures),
	}
	take := Table{Header: []string{"P, n, K, zones", "orphans to a standby (with lists)", "without lists", "moves with / without lists"}}
	for _, partitions := range []int{271, 1024} {
		for _, n := range sizes {
			for _, tc := range []struct{ k, zones int }{{1, 0}, {2, 0}, {1, 3}} {
				if err := ctx.Err(); err != nil {
					return Section{}, err
				}
				members := benchMemberNames(n)
				cfg := rebalance.Config{Partitions: partitions, Load: rebalance.DefaultLoad, Standbys: tc.k, Zones: zonesFor(members, tc.zones)}
				var sum takeover
				for _, f := range leavers(n, failures) {
					r, err := measureTakeover(cfg, members, f)
					if err != nil {
						return Section{}, fmt.Errorf("takeover P=%d n=%d: %w", partitions, n, err)
					}
					sum.orphans += r.orphans
					sum.toStandby += r.toStandby
					sum.coldToStandby += r.coldToStandby
					sum.moves += r.moves
					sum.coldMoves += r.coldMoves
				}
				env.Log.Info("takeover", "partitions", partitions, "members", n, "standbys", tc.k, "zones", tc.zones,
					"to standby", sum.toStandby, "orphans", sum.orphans)
				take.AddRow(fmt.Sprintf("%d, %d, %d, %d", partitions, n, tc.k, max(tc.zones, 1)),
					fmt.Sprintf("%d/%d (%.0f %%)", sum.toStandby, sum.orphans, 100*float64(sum.toStandby)/float64(max(sum.orphans, 1))),
					fmt.Sprintf("%d/%d (%.0f %%)", sum.coldToStandby, sum.orphans, 100*float64(sum.coldToStandby)/float64(max(sum.orphans, 1))),
					fmt.Sprintf("%d / %d", sum.moves, sum.coldMoves))
			}
		}
	}
	sec.Tables = append(sec.Tables, take)

	cost := Table{Header: []string{"P, n", "plan, no standbys", "K=1", "K=2, 3 zones"}}
	for _, tc := range []struct{ partitions, n int }{{271, 50}, {1024, 100}, {10000, 1000}} {
		members := benchMemberNames(tc.n)
		row := []any{fmt.Sprintf("%d, %d", tc.partitions, tc.n)}
		for _, cfg := range []rebalance.Config{
			{Partitions: tc.partitions, Load: rebalance.DefaultLoad},
			{Partitions: tc.partitions, Load: rebalance.DefaultLoad, Standbys: 1},
			{Partitions: tc.partitions, Load: rebalance.DefaultLoad, Standbys: 2, Zones: zonesFor(members, 3)},
		} {
			var took []time.Duration
			for range 15 {
				start := time.Now()
				if _, err := rebalance.Plan(make([]string, cfg.Partitions), members, cfg); err != nil {
					return Section{}, err
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			row = append(row, took[len(took)/2].Round(10*time.Microsecond))
		}
		cost.AddRow(row...)
	}
	sec.Tables = append(sec.Tables, cost)

	roll := Table{Header: []string{"P, n", "moved by a rolling restart with drains", "per member restarted"}}
	for _, partitions := range []int{271, 1024} {
		for _, n := range sizes {
			cfg := rebalance.Config{Partitions: partitions, Load: rebalance.DefaultLoad}
			moved, err := rollingDrain(cfg, benchMemberNames(n))
			if err != nil {
				return Section{}, err
			}
			roll.AddRow(fmt.Sprintf("%d, %d", partitions, n), moved, fmt.Sprintf("%.1f", float64(moved)/float64(n)))
		}
	}
	sec.Tables = append(sec.Tables, roll)
	sec.Notes = []string{"The rolling-restart table counts every owner change of a rolling restart with --shutdown=drain, " +
		"the leave's and the return's: about twice a member's share per restarted member. With --shutdown=restart no " +
		"partition changes owner: the kept partitions have no owner while their member is away and go back to it. That is " +
		"checked, not measured here: TestPlannedRestartGetsItsPartitionsBack (simulated, a member and the leader), " +
		"TestProcessPlannedRestartAndStandbys (real processes) and TestRenderedStatefulSetPlannedRestart (the chart's pods, " +
		"a whole rolling restart) fail if any other partition changes hands.",
		"Where an orphan does not go to its standby, a member outside its lists was short of its share (with zones, the " +
			"failed member's zone-mates stand by for none of its partitions) and the planner gives it one rather than move " +
			"another partition later: the moves stay those of a plan without standbys."}
	return sec, nil
}
