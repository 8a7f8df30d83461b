package core_test

import (
	"testing"

	"github.com/ringd/ringd/internal/simcluster"
)

// TestMemberThatCannotPersistDoesNotVote: a member whose disk fails drops
// what it would send after a state change it could not store (core.Ready's
// contract), so it casts no vote it might forget. With the leader of three
// crashed and the third member's disk failing, the one healthy member cannot
// be elected; once the disk works again, a leader is elected and the
// partitions are owned again, with one owner each all along.
func TestMemberThatCannotPersistDoesNotVote(t *testing.T) {
	specs := simcluster.DiskSpecs(3)
	c := simcluster.New(t, simcluster.Seed(3), simcluster.Members(specs...))
	c.Require(bootstrapBound, "coverage after bootstrap", c.Covered)

	leader := c.Leader()
	survivors := c.Others(leader)
	healthy, failing := survivors[0], survivors[1]
	c.FailDisk(failing, true)
	c.Crash(leader)
	c.Run(4 * leaderFailoverBound)
	if got := c.Leaders(survivors); len(got) != 0 {
		t.Fatalf("%v lead although %s could not store a vote\n%s", got, failing, c.Trace(60))
	}

	c.FailDisk(failing, false)
	c.Require(leaderFailoverBound+bootstrapBound, "a leader and coverage once the disk works",
		func() bool { return c.Leader() != "" && c.CoveredBy(survivors) })
	if c.Leader() != healthy && c.Leader() != failing {
		t.Fatalf("leader %q", c.Leader())
	}
	c.RequireNoViolations()
}
