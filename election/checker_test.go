package election_test

import (
	"strings"
	"testing"
)

// TestCheckerCatchesBrokenVoters runs the randomized fault schedules of
// TestSafetyRandomized with deliberately broken voters that forget their vote
// before every vote request (as a daemon without a data dir and without a
// vote floor would after a restart). The checkers must report double votes,
// and in some seed two leaders in one term; with correct voters the same
// seeds are clean (TestSafetyRandomized). internal/simcluster checks the
// same checkers on hand-made histories.
func TestCheckerCatchesBrokenVoters(t *testing.T) {
	const maxSeeds = 400
	doubleVoteSeed, doubleLeaderSeed := int64(0), int64(0)
	for seed := int64(1); seed <= maxSeeds && doubleLeaderSeed == 0; seed++ {
		ch := newChaos(t, seed, true)
		ch.keepGoing = true
		ch.runFaults()
		if doubleVoteSeed == 0 && ch.c.History.DoubleVote() {
			doubleVoteSeed = seed
		}
		if ch.c.History.DoubleLeader() {
			doubleLeaderSeed = seed
			t.Logf("seed %d: %s", seed, ch.c.History.Violations[slicesIndex(ch.c.History.Violations, "two leaders")])
		}
	}
	if doubleVoteSeed == 0 {
		t.Fatalf("no double vote reported in %d seeds with voters that forget their votes", maxSeeds)
	}
	if doubleLeaderSeed == 0 {
		t.Fatalf("no double leader reported in %d seeds with voters that forget their votes", maxSeeds)
	}
	t.Logf("first double vote in seed %d, first double leader in seed %d", doubleVoteSeed, doubleLeaderSeed)
}

func slicesIndex(vs []string, sub string) int {
	for i, v := range vs {
		if strings.Contains(v, sub) {
			return i
		}
	}
	return -1
}
