package simcluster

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/election"
)

// Check the checker: the History must report each kind of
// violation on a history that has it, and stay quiet on one that does not.
// The statuses are handed to it as if the nodes had reported them.
func TestHistoryOnHandMadeHistories(t *testing.T) {
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
			c := NewElections(t, ElectionSeed(1), ElectionMembers(Voters(4, 0)...))
			for _, o := range tc.hist {
				c.History.record(c, c.nodes[o.node], o.st)
			}
			switch {
			case tc.want == "" && len(c.History.Violations) > 0:
				t.Fatalf("violations on a clean history: %v", c.History.Violations)
			case tc.want != "" && len(c.History.Violations) == 0:
				t.Fatalf("no violation reported, want %q", tc.want)
			case tc.want != "" && !strings.Contains(c.History.Violations[0], tc.want):
				t.Fatalf("violation %q, want one about %q", c.History.Violations[0], tc.want)
			}
		})
	}
}
