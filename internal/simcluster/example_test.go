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
	c.Require(10*time.Second, "coverage after bootstrap", c.Covered)

	majority := []string{"m2", "m3", "m4"}
	c.Partition([]string{"m0", "m1"}, majority)
	c.Pause("m0")
	c.SetDrift("m3", 0.01)
	c.Require(10*time.Second, "the majority side covers every partition",
		func() bool { return c.CoveredBy(majority) })
	if got := c.Leaders([]string{"m0", "m1"}); len(got) != 0 {
		t.Errorf("minority members %v lead", got)
	}

	c.Heal()
	c.Resume("m0")
	c.Require(10*time.Second, "coverage by one leader after the heal",
		func() bool { return c.Covered() && c.Leader() != "" })
	c.RequireNoViolations() // at most one owner of each partition all along
}
