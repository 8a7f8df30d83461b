package election_test

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
)

// Check the checker (STYLE item 12): the history must report each kind of
// violation on a history that has it, and stay quiet on one that does not.

func TestCheckerOnHandMadeHistories(t *testing.T) {
	type obs struct {
		node string
		st   election.Status
	}
	leader := func(term uint64) election.Status {
		return election.Status{Role: election.Leader, Term: term}
	}
	vote := func(term uint64, votedFor string) election.Status {
		return election.Status{Role: election.Follower, Term: term, VotedFor: votedFor}
	}
	cases := []struct {
		name string
		hist []obs
		want string // substring of the first violation, "" for none
	}{
		{"clean: leaders of different terms", []obs{{"a", leader(1)}, {"b", leader(2)}, {"a", leader(3)}}, ""},
		{"clean: the same leader seen again", []obs{{"a", leader(4)}, {"a", leader(4)}}, ""},
		{"two leaders in one term", []obs{{"a", leader(5)}, {"b", vote(5, "a")}, {"b", leader(5)}}, "two leaders in term 5"},
		{"clean: one vote, seen twice", []obs{{"c", vote(2, "a")}, {"c", vote(2, "a")}, {"c", vote(3, "b")}}, ""},
		{"vote twice in a term", []obs{{"c", vote(2, "a")}, {"c", vote(2, "b")}}, "c voted twice in term 2"},
		{"term goes back", []obs{{"d", vote(7, "")}, {"d", vote(6, "")}}, "term went back from 7 to 6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := simcluster.NewElections(t, 1, true, simcluster.Voters(4, 0)...)
			for _, o := range tc.hist {
				w.RecordStatus(o.node, o.st)
			}
			switch {
			case tc.want == "" && len(w.History.Violations) > 0:
				t.Fatalf("violations on a clean history: %v", w.History.Violations)
			case tc.want != "" && len(w.History.Violations) == 0:
				t.Fatalf("no violation reported, want %q", tc.want)
			case tc.want != "" && !strings.Contains(w.History.Violations[0], tc.want):
				t.Fatalf("violation %q, want one about %q", w.History.Violations[0], tc.want)
			}
		})
	}
}

// TestCheckerCatchesBrokenVoters runs the randomized fault schedules of
// TestSafetyRandomized with deliberately broken voters that forget their vote
// before every vote request (as a daemon without a data dir and without a
// vote floor would after a restart). The checkers must report double votes,
// and in some seed two leaders in one term; with correct voters the same
// seeds are clean (TestSafetyRandomized).
func TestCheckerCatchesBrokenVoters(t *testing.T) {
	const maxSeeds = 400
	doubleVoteSeed, doubleLeaderSeed := int64(0), int64(0)
	for seed := int64(1); seed <= maxSeeds && doubleLeaderSeed == 0; seed++ {
		c := newChaos(t, seed, true)
		c.keepGoing = true
		c.runFaults()
		if doubleVoteSeed == 0 && c.w.History.DoubleVote() {
			doubleVoteSeed = seed
		}
		if c.w.History.DoubleLeader() {
			doubleLeaderSeed = seed
			t.Logf("seed %d: %s", seed, c.w.History.Violations[slicesIndex(c.w.History.Violations, "two leaders")])
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
