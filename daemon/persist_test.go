package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMemberThatCannotPersistCastsNoVote: when writing --data-dir fails, a
// member sends nothing that depends on the state it could not store (the
// contract of core.Ready, kept by handleReady). Three members; a follower's
// disk starts failing and the leader is killed: the other follower cannot be
// elected without the failing member's vote, which must not leave it. Once
// the disk works again, a leader is elected and every partition is owned.
func TestMemberThatCannotPersistCastsNoVote(t *testing.T) {
	c := newTestClusterOpts(t, 3, 8, true)
	c.waitCoverage(c.members, 30*time.Second)
	var leader *testMember
	c.eventually(10*time.Second, "one leader", func() bool {
		for _, m := range c.members {
			if m.d.isLeaderNow() && len(c.leaders(c.members)) == 1 {
				leader = m
				return true
			}
		}
		return false
	})
	var survivors []*testMember
	for _, m := range c.members {
		if m != leader {
			survivors = append(survivors, m)
		}
	}
	failing := survivors[1]

	// A directory where saveState writes its temporary file makes every
	// write fail, also for root.
	blocker := filepath.Join(failing.cfg.DataDir, stateFile+".tmp")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	c.kill(leader)
	// Many election timeouts: time enough for the healthy follower to be
	// elected if the failing one's vote got out.
	until := time.Now().Add(10 * (c.members[0].cfg.LeaderTimeout + c.members[0].cfg.ElectionTimeout))
	for time.Now().Before(until) {
		if l := c.leaders(survivors); len(l) > 0 {
			t.Fatalf("%v lead although %s could not store its vote", l, failing.name)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	c.eventually(20*time.Second, "a leader once the disk works",
		func() bool { return len(c.leaders(survivors)) == 1 })
	c.waitCoverage(survivors, 20*time.Second)
}
