package main

import (
	"context"
	"os"
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
// applications' leases) see no partition with two owners at any time.
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
