package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// previousRelease is the ringd a rolling upgrade starts from: the last
// commit that spoke only peer protocol 2, before tables travelled in binary
// form (protocol 3). There are no release tags yet; when there are, this
// names the previous one.
const previousRelease = "23f1574~1"

// TestProcessRollingUpgradeFromPreviousRelease builds the previous release
// and this one, starts a cluster of the previous one with data dirs and
// apps holding partitions, then replaces one member at a time as a rolling
// update does (SIGTERM, the new binary on the same data dir): coverage comes
// back after every step, and the ownership checkers (from outside, and the
// applications' leases) see no partition with two owners at any time. First,
// a new ringd with another --lease (an upgrade and a settings change in one
// step, which the previous release cannot follow) must stop with its reason
// and leave the old members be.
func TestProcessRollingUpgradeFromPreviousRelease(t *testing.T) {
	dir, err := os.MkdirTemp("", "ringd-previous-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	previous, err := procluster.BuildRingdAt(bctx, dir, previousRelease)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := startProcsOpts(t, procluster.Options{Members: 3, Binary: previous})

	// Upgrading and changing the lease settings in one step is refused: the
	// new ringd stops at once, the old members go on.
	before := settled(ctx, t, c, c.Names())
	first := c.Member(c.Names()[len(c.Names())-1])
	terminate(ctx, t, first)
	first.SetBinary(ringdBinary)
	first.SetFlag("lease", "3s")
	_ = first.Restart(ctx) // it may be gone before its API answers
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = first.Wait(wctx)
	timedOut := wctx.Err() != nil
	cancel()
	if err == nil || timedOut {
		t.Fatalf("the new ringd with another --lease beside the old members: exit %v, want it to stop with an error", err)
	}
	if log := first.LogTail(20); !strings.Contains(log, "upgrade every member with the settings unchanged first") {
		t.Errorf("the new ringd stopped without saying why:\n%s", log)
	}
	rest := slices.DeleteFunc(c.Names(), func(n string) bool { return n == first.Name })
	if after := settled(ctx, t, c, rest); procluster.Leader(after) != procluster.Leader(before) {
		t.Errorf("the refused member moved leadership: %s, then %s", procluster.Leader(before), procluster.Leader(after))
	}
	first.SetFlag("lease", "2s") // procluster.FastArgs: the cluster's
	first.SetBinary(previous)
	if err := first.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	settled(ctx, t, c, c.Names())

	for _, name := range c.Names() {
		m := c.Member(name)
		terminate(ctx, t, m)
		m.SetBinary(ringdBinary)
		if err := m.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		settled(ctx, t, c, c.Names())
		var v api.Version
		if err := m.GetJSON(ctx, "/version", &v); err != nil {
			t.Fatalf("%s after the upgrade: GET /version: %v", name, err)
		}
		t.Logf("%s upgraded to %s; the cluster is covered again", name, v.Version)
	}
}
