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

	gen := faults.NewGenerator(rng, names(c.members), faults.Drop, faults.Cut, faults.Delay,
		faults.Partition, faults.Pause, faults.Heal, faults.Crash, faults.Crash)
	gen.MinDrop, gen.MaxDrop, gen.MaxDelay, gen.MaxGroups = 0, 1, 200*time.Millisecond, 2
	var crashed []*testMember
	steps := 6 + rng.IntN(5)
	for i := 0; i < steps; i++ {
		f := gen.Next(c)
		if f.Kind == faults.Crash && (len(c.live()) <= 1 || len(crashed) >= maxCrashed) {
			continue // keep a member running, and the voters' majority
		}
		if m := c.apply(f); m != nil {
			crashed = append(crashed, m)
		}
		t.Logf("%v", f)
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond) // let the fault act
	}
	c.apply(faults.Fault{Kind: faults.Heal})
	for _, m := range c.members {
		c.apply(faults.Fault{Kind: faults.Resume, Member: m.name})
	}
	for _, m := range crashed {
		c.start(m)
		t.Logf("restart %s", m.name)
	}
	took := c.waitCoverage(c.members, 60*time.Second)
	t.Logf("seed %d: coverage back %v after the faults stopped", seed, took.Round(time.Millisecond))
}

// apply injects f into the in-memory network: Pause and Resume stop and
// continue a member's traffic (its process runs on); Crash kills it and
// returns it.
func (c *testCluster) apply(f faults.Fault) (killed *testMember) {
	addr := func(name string) string { return c.member(name).addr }
	switch f.Kind {
	case faults.Drop:
		if f.To != "" {
			c.net.SetDrop(addr(f.From), addr(f.To), f.Fraction)
			break
		}
		for _, o := range c.members {
			if o.name != f.Member {
				c.net.SetDrop(addr(f.Member), o.addr, f.Fraction)
				c.net.SetDrop(o.addr, addr(f.Member), f.Fraction)
			}
		}
	case faults.Cut:
		c.net.Cut(addr(f.From), addr(f.To))
	case faults.Delay:
		if f.To != "" {
			c.net.SetDelay(addr(f.From), addr(f.To), 0, f.MaxDelay)
			break
		}
		for _, o := range c.members {
			if o.name != f.Member {
				c.net.SetDelay(addr(f.Member), o.addr, 0, f.MaxDelay)
			}
		}
	case faults.Partition:
		groups := make([][]string, len(f.Groups))
		for i, g := range f.Groups {
			for _, name := range g {
				groups[i] = append(groups[i], addr(name))
			}
		}
		c.net.Partition(groups...)
	case faults.Pause:
		c.net.Pause(addr(f.Member))
		c.paused[f.Member] = true
	case faults.Resume:
		c.net.Resume(addr(f.Member))
		delete(c.paused, f.Member)
	case faults.Heal:
		c.net.Heal()
	case faults.Crash:
		m := c.member(f.Member)
		c.kill(m)
		return m
	default:
		c.t.Fatalf("fault %v not supported by the in-memory cluster", f)
	}
	return nil
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
