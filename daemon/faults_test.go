package daemon

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/faults"
	"github.com/ringd/ringd/internal/ownercheck"
)

var (
	faultSeed      = flag.Uint64("fault-seed", 0, "replay one randomized fault schedule of TestFaultSchedules")
	faultSchedules = flag.Int("fault-schedules", 4, "how many randomized fault schedules TestFaultSchedules runs")
)

// TestFaultSchedules runs real daemons (real memberlist, loop, leases and
// handoffs) under seeded random faults on the in-memory transport: drops,
// one-way cuts, delays, partitions, paused traffic, crashes and restarts.
// An observer reads every member's view continuously and the ownership
// checker reports any partition proven held by two members at once. After the faults stop,
// coverage must come back. The simulated-network suite in daemon/core runs
// hundreds of schedules of the same code on virtual time; this smaller set
// checks it over the real stack.
func TestFaultSchedules(t *testing.T) {
	seeds := []uint64{}
	for i := 1; i <= *faultSchedules; i++ {
		seeds = append(seeds, uint64(i))
	}
	if *faultSeed != 0 {
		seeds = []uint64{*faultSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runFaultSchedule(t, seed) })
	}
}

func runFaultSchedule(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xfa17))
	n := 3 + 2*rng.IntN(2) // 3 or 5
	// With a data dir a crashed member comes back as the voter it was; without,
	// as a new identity, so crashing a majority would take the voters' majority
	// away for good (no leader is promised then): crash at most a minority.
	withData := rng.IntN(2) == 0
	maxCrashed := n
	if !withData {
		maxCrashed = (n - 1) / 2
	}
	c := newTestClusterOpts(t, n, 32, withData)
	c.waitCoverage(c.members, 30*time.Second)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	observations := 0
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.observe(c.members) // skips the killed ones
			observations++
			time.Sleep(5 * time.Millisecond) // sampling interval
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		if vs := c.violations(); len(vs) > 0 {
			t.Errorf("seed %d: %s (replay: go test ./daemon -run TestFaultSchedules -fault-seed %d)", seed, ownercheck.Summary(vs, 5), seed)
		}
		t.Logf("seed %d: %d members (data dirs: %t), %d rounds of observations", seed, n, withData, observations)
	}()

	target, all := faultTarget{c}, names(c.members)
	gen := faults.NewGenerator(rng, all, faults.Drop, faults.Cut, faults.Delay,
		faults.Partition, faults.Pause, faults.Heal, faults.Crash, faults.Crash)
	gen.MinDrop, gen.MaxDrop, gen.MaxDelay, gen.MaxGroups = 0, 1, 200*time.Millisecond, 2
	steps := 6 + rng.IntN(5)
	for i := 0; i < steps; i++ {
		f := gen.Next(c)
		live := len(c.live())
		if f.Kind == faults.Crash && (live <= 1 || n-live >= maxCrashed) {
			continue // keep a member running, and the voters' majority
		}
		faults.Apply(target, f, all)
		t.Logf("%v", f)
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond) // let the fault act
	}
	faults.Apply(target, faults.Fault{Kind: faults.Heal}, all)
	for _, m := range c.members {
		faults.Apply(target, faults.Fault{Kind: faults.Resume, Member: m.name}, all)
	}
	for _, m := range c.members {
		if m.killed {
			faults.Apply(target, faults.Fault{Kind: faults.Restart, Member: m.name}, all)
			t.Logf("restart %s", m.name)
		}
	}
	took := c.waitCoverage(c.members, 60*time.Second)
	t.Logf("seed %d: coverage back %v after the faults stopped", seed, took.Round(time.Millisecond))
}

// The in-memory cluster takes the faults the schedules do not draw too: a
// reboot starts a new daemon at once, and an isolated member's partitions
// move to the others, never held twice.
func TestFaultTargetRebootAndIsolate(t *testing.T) {
	c := newTestClusterOpts(t, 3, 16, true)
	c.waitCoverage(c.members, 30*time.Second)
	target, all := faultTarget{c}, names(c.members)

	m0, before := c.members[0], c.members[0].d
	faults.Apply(target, faults.Fault{Kind: faults.Reboot, Member: m0.name}, all)
	if m0.killed || m0.d == before {
		t.Fatalf("after a reboot %s is killed (%t) or runs the old daemon (%t)", m0.name, m0.killed, m0.d == before)
	}
	c.waitCoverage(c.members, 30*time.Second)

	faults.Apply(target, faults.Fault{Kind: faults.Isolate, Member: c.members[2].name}, all)
	c.waitCoverage(c.members[:2], 30*time.Second)
	faults.Apply(target, faults.Fault{Kind: faults.Heal}, all)
	c.requireOneOwner(c.members)
}

// faultTarget is the in-memory cluster as a faults.Target. Link faults go
// to memnet by address; Pause and Resume stop and continue a member's
// traffic (its process runs on); Crash kills a daemon (kill) and Restart
// starts it again, with its data dir or, without keepState, a new empty one.
// Real clocks cannot be made to drift.
type faultTarget struct{ c *testCluster }

var _ faults.Target = faultTarget{}

func (ft faultTarget) addr(name string) string { return ft.c.member(name).addr }

func (ft faultTarget) SetDrop(from, to string, fraction float64) {
	ft.c.net.SetDrop(ft.addr(from), ft.addr(to), fraction)
}

func (ft faultTarget) Cut(from, to string) { ft.c.net.Cut(ft.addr(from), ft.addr(to)) }

func (ft faultTarget) SetDelay(from, to string, lo, hi time.Duration) {
	ft.c.net.SetDelay(ft.addr(from), ft.addr(to), lo, hi)
}

func (ft faultTarget) Partition(groups ...[]string) {
	addrs := make([][]string, len(groups))
	for i, g := range groups {
		for _, name := range g {
			addrs[i] = append(addrs[i], ft.addr(name))
		}
	}
	ft.c.net.Partition(addrs...)
}

// Isolate cuts every link of name, both ways: memnet's Partition would
// replace the partition in place, and Heal ends cuts too.
func (ft faultTarget) Isolate(name string) {
	for _, o := range ft.c.members {
		if o.name != name {
			ft.Cut(name, o.name)
			ft.Cut(o.name, name)
		}
	}
}

func (ft faultTarget) Heal() { ft.c.net.Heal() }

func (ft faultTarget) Pause(name string) {
	ft.c.net.Pause(ft.addr(name))
	ft.c.paused[name] = true
}

func (ft faultTarget) Resume(name string) {
	ft.c.net.Resume(ft.addr(name))
	delete(ft.c.paused, name)
}

func (ft faultTarget) Crash(name string) {
	if m := ft.c.member(name); !m.killed {
		ft.c.kill(m)
	}
}

func (ft faultTarget) Restart(name string, keepState bool) {
	m := ft.c.member(name)
	if !m.killed {
		return
	}
	if !keepState && m.cfg.DataDir != "" {
		m.cfg.DataDir = ft.c.t.TempDir()
	}
	ft.c.start(m)
}

func (ft faultTarget) SetDrift(name string, _ float64) {
	ft.c.t.Fatalf("drift %s: the in-memory cluster runs on the real clock", name)
}

// Paused and Crashed tell a fault generator what the members' traffic and
// processes do (faults.State).
func (c *testCluster) Paused(name string) bool  { return c.paused[name] }
func (c *testCluster) Crashed(name string) bool { return c.member(name).killed }

func (c *testCluster) member(name string) *testMember {
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	c.t.Fatalf("no member %q", name)
	return nil
}
