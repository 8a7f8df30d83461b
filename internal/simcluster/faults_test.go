package simcluster_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/internal/faults"
	"github.com/ringd/ringd/internal/simcluster"
)

// A Reboot kills a running member and starts a new process at once, in one
// step: a new incarnation that runs, with its voter identity when it has a
// disk. The cluster covers every partition again afterwards, with no double
// owner.
func TestRebootRestartsAtOnce(t *testing.T) {
	specs := simcluster.Specs(3)
	specs[1].Disk = true
	c := simcluster.New(t, simcluster.Seed(3), simcluster.Members(specs...))
	if !c.RunUntil(10*time.Second, c.Covered) {
		t.Fatalf("no coverage after bootstrap\n%s", c.Describe())
	}
	for _, name := range []string{"m0", "m1"} {
		m := c.Member(name)
		inc, id := m.Incarnation(), m.Identity()
		c.Apply(faults.Fault{Kind: faults.Reboot, Member: name})
		if !c.Up(name) || m.Crashed() || m.Incarnation() == inc {
			t.Fatalf("after reboot: %s up %t, crashed %t, incarnation %d (was %d)",
				name, c.Up(name), m.Crashed(), m.Incarnation(), inc)
		}
		if keeps := m.Spec().Disk; keeps != (m.Identity() == id) {
			t.Errorf("%s (disk %t): identity %d after reboot, was %d", name, keeps, m.Identity(), id)
		}
	}
	if !c.RunUntil(10*time.Second, func() bool { return c.Covered() && c.Leader() != "" }) {
		t.Fatalf("no coverage by one leader after the reboots\n%s\n%s", c.Describe(), c.Trace(40))
	}
	c.RequireNoViolations()
}
