package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/rebalance"
)

func TestPlanInputs(t *testing.T) {
	const n, partitions = 20, 271
	first, members, cfg, err := planInputs(planCase{"first", n, partitions})
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != n || cfg.Load != rebalance.DefaultLoad || slices.ContainsFunc(first, func(s string) bool { return s != "" }) {
		t.Fatalf("first: %d members, cfg %+v, table not empty", len(members), cfg)
	}
	joinTable, joinMembers, _, err := planInputs(planCase{"join", n, partitions})
	if err != nil {
		t.Fatal(err)
	}
	leaveTable, leaveMembers, _, err := planInputs(planCase{"leave", n, partitions})
	if err != nil {
		t.Fatal(err)
	}
	if len(joinMembers) != n+1 || len(leaveMembers) != n-1 || slices.Contains(leaveMembers, "ringd-0") {
		t.Fatalf("join has %d members, leave %d (%v)", len(joinMembers), len(leaveMembers), leaveMembers)
	}
	// Both start from the settled table of the n members, which Plan leaves
	// as it is.
	if !slices.Equal(joinTable, leaveTable) || slices.Contains(joinTable, "") {
		t.Fatal("join and leave do not start from the same fully assigned table")
	}
	if res, err := rebalance.Plan(joinTable, benchMemberNames(n), cfg); err != nil || len(res.Moves) != 0 {
		t.Fatalf("the starting table is not settled: %v, %d moves", err, len(res.Moves))
	}
	if _, _, _, err := planInputs(planCase{"rename", n, partitions}); err == nil {
		t.Fatal("an unknown change gave no error")
	}
}

// TestMeasureOp runs the measurement on a small Plan: it takes about a second
// (testing.Benchmark's budget) and must report a cost that makes sense.
func TestMeasureOp(t *testing.T) {
	current, members, cfg, err := planInputs(planCase{"first", 5, 61})
	if err != nil {
		t.Fatal(err)
	}
	cost, err := measureOp(func() error {
		_, err := rebalance.Plan(current, members, cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if cost.wall <= 0 || cost.wall > time.Second || cost.cpu <= 0 || cost.allocs <= 0 || cost.bytes <= 0 {
		t.Fatalf("implausible cost %+v", cost)
	}
	boom := errors.New("boom")
	if _, err := measureOp(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing operation gave err = %v, want it passed on", err)
	}
}

func TestPlanGoalNote(t *testing.T) {
	ms := func(xs ...float64) Dist { return Summarize(xs) }
	if note := planGoalNote(ms(12, 14, 30), ms(7)); !strings.Contains(note, ": met, median 14.00 ms") {
		t.Fatalf("median under the goal: %s", note)
	}
	if note := planGoalNote(ms(25, 26), ms(9)); !strings.Contains(note, ": missed") || !strings.Contains(note, "waited for a core") {
		t.Fatalf("median over the goal, CPU time within it: %s", note)
	}
	if note := planGoalNote(ms(25, 26), ms(24)); !strings.Contains(note, ": missed") || strings.Contains(note, "waited for a core") {
		t.Fatalf("median and CPU time over the goal: %s", note)
	}
	if note := planGoalNote(Dist{}, Dist{}); !strings.Contains(note, ": missed") {
		t.Fatalf("no samples: %s", note)
	}
	if got := Milliseconds([]time.Duration{2 * time.Millisecond, 500 * time.Microsecond}); got.Min != 0.5 || got.P99 != 2 {
		t.Fatalf("Milliseconds = %+v", got)
	}
}
