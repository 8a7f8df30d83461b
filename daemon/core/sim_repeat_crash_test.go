package core_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// TestCrashLeaderAgainAfterPreemption: the top-ranked member crashes, comes
// back with its disk, takes leadership back by preemption, and crashes
// again: the second failover is as quick as the first (the new leader
// bounds the preempting leader's holdings too).
func TestCrashLeaderAgainAfterPreemption(t *testing.T) {
	w := bootstrap(t, 3, simcluster.Specs(5)...)
	leader := w.Leader()
	crashAndRecover(t, w, leader, crashedLeaderBound)
	w.Restart(leader, true)
	w.Require(bootstrapBound+fast.Settle+fast.Lease*3, "the restarted member leads again", func() bool { return w.Leader() == leader })
	w.Run(2 * fast.Lease) // past the member lease it had before its election
	took := crashAndRecover(t, w, leader, crashedLeaderBound)
	t.Logf("second leader crash: coverage after %v (bound %v)", took, crashedLeaderBound)
}

var _ = time.Second
