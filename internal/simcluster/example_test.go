package simcluster_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// A five-member cluster with a partition, a pause and a clock drift, in a
// few lines: every partition keeps one owner, and coverage comes back.
func TestFiveMembersPartitionPauseDrift(t *testing.T) {
	c := simcluster.New(t, simcluster.Seed(7), simcluster.Size(5))
	if !c.RunUntil(10*time.Second, c.Covered) {
		t.Fatalf("no coverage after bootstrap\n%s", c.Describe())
	}

	majority := []string{"m2", "m3", "m4"}
	c.Partition([]string{"m0", "m1"}, majority)
	c.Pause("m0")
	c.SetDrift("m3", 0.01)
	if !c.RunUntil(10*time.Second, func() bool { return c.CoveredBy(majority) }) {
		t.Fatalf("the majority side does not cover every partition\n%s\n%s", c.Describe(), c.Trace(40))
	}
	if got := c.Leaders([]string{"m0", "m1"}); len(got) != 0 {
		t.Errorf("minority members %v lead", got)
	}

	c.Heal()
	c.Resume("m0")
	if !c.RunUntil(10*time.Second, func() bool { return c.Covered() && c.Leader() != "" }) {
		t.Fatalf("no coverage by one leader after the heal\n%s\n%s", c.Describe(), c.Trace(40))
	}
	c.RequireNoViolations() // at most one owner of each partition all along
}
