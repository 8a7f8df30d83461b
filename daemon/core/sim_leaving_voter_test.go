package core_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/simcluster"
)

// rollLeave is SIGTERM with a shutdown timeout: drain until done or limit,
// then the process ends either way.
func rollLeave(w *simcluster.Cluster, name string, limit time.Duration) bool {
	w.SetLeaving(name)
	ok := w.RunUntil(limit, func() bool { return !w.Up(name) || w.View(name).LeavePending() == "" })
	w.Crash(name)
	return ok
}

// TestRollingRestartSoleVoter: a quick rolling restart of a 3-member
// StatefulSet (data dirs). The test moves on as soon as every partition is
// owned, so each member comes back while the previous one is in its
// hold-down; the voters shrink to one. While the last voter leaves, its link
// to the new voter is bad.
func TestRollingRestartSoleVoter(t *testing.T) {
	for _, bad := range []string{"none", "drop", "delay", "cut"} {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", bad, seed), func(t *testing.T) {
				ss := simcluster.DiskSpecs(3)
				w := bootstrap(t, seed, ss...)
				for i, name := range w.Names() {
					if i == 2 {
						w.Logf("voters before the last leave:\n%s", w.Describe())
						o := w.Names()[0]
						switch bad {
						case "drop":
							w.SetDrop(name, o, 0.9)
							w.SetDrop(o, name, 0.9)
						case "delay":
							w.SetDelay(name, o, 200*time.Millisecond, 700*time.Millisecond)
							w.SetDelay(o, name, 200*time.Millisecond, 700*time.Millisecond)
						case "cut":
							w.Cut(name, o)
							w.Cut(o, name)
						}
						healAt, healed := w.GlobalNow().Add(1500*time.Millisecond), false
						w.OnStep(func(now time.Time) {
							if !healed && !now.Before(healAt) {
								healed = true
								w.Heal()
							}
						})
					}
					drained := rollLeave(w, name, 10*time.Second)
					w.Logf("%s drained %t", name, drained)
					w.Restart(name, true)
					if !w.RunUntil(20*time.Second, w.Covered) {
						t.Fatalf("after restarting %s: not covered\n%s\n%s", name, w.Describe(), w.Trace(400))
					}
				}
				w.RequireNoViolations()
			})
		}
	}
}
