package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// TestProcessStrangersCannotJoinOrDisturb starts real processes that reach
// a running cluster's gossip port with another cluster label or another
// partition count (the cluster's shape; the lease settings and the load
// bound may differ, see TestProcessRollingSettingsChange): none becomes a
// member, and the cluster keeps its leader, term and assignment throughout.
func TestProcessStrangersCannotJoinOrDisturb(t *testing.T) {
	var strangerArgs []string
	c, ctx := startProcsOpts(t, procluster.Options{Members: 3, MemberArgs: func(i int) []string {
		if i < 0 { // added by the test
			return strangerArgs
		}
		return nil
	}})
	members := c.Names()
	before := settled(ctx, t, c, members)
	var cl api.Cluster
	if err := c.Member("ringd-0").GetJSON(ctx, "/cluster", &cl); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		// seen is what the cluster's members (or, for a label, the
		// stranger) log once the stranger tried.
		seen     string
		inMember bool
	}{
		{"stranger-label", []string{"--cluster-label", "another-cluster"}, "cannot reach any seed", false},
		{"stranger-partitions", []string{"--partitions", "64"}, "refusing member", true},
	} {
		strangerArgs = tc.args
		m, err := c.Add(ctx, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			logs := m.LogTail(100)
			if tc.inMember {
				logs = ""
				for _, name := range members {
					logs += c.Member(name).LogTail(200)
				}
			}
			if strings.Contains(logs, tc.seen) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no %q in the logs within a minute", tc.name, tc.seen)
			}
			time.Sleep(50 * time.Millisecond) // polling the logs, with a deadline
		}
		for _, name := range members {
			var ms api.Members
			if err := c.Member(name).GetJSON(ctx, "/members", &ms); err != nil {
				t.Fatal(err)
			}
			for _, mm := range ms.Members {
				if mm.Name == tc.name {
					t.Errorf("%s lists %s (%v) as a member", name, tc.name, tc.args)
				}
			}
		}
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
		c.Forget(tc.name)
	}

	after := settled(ctx, t, c, members)
	var cl2 api.Cluster
	if err := c.Member("ringd-0").GetJSON(ctx, "/cluster", &cl2); err != nil {
		t.Fatal(err)
	}
	if cl2.Leader != cl.Leader || cl2.Term != cl.Term {
		t.Errorf("the strangers disturbed the cluster: leader %s term %d, then %s term %d", cl.Leader, cl.Term, cl2.Leader, cl2.Term)
	}
	if lost := lostBySurvivors(before, after); len(lost) > 0 {
		t.Errorf("members lost partitions while strangers knocked: %v", lost)
	}
}
