package daemon

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/procluster"
)

var (
	faultSeed      = flag.Uint64("fault-seed", 0, "replay one randomized fault schedule of TestFaultSchedules")
	faultSchedules = flag.Int("fault-schedules", 4, "how many randomized fault schedules TestFaultSchedules runs")
)

// TestFaultSchedules runs real daemons (real memberlist, loop, leases and
// handoffs) under seeded random faults on the in-memory transport: drops,
// one-way cuts, delays, partitions, paused traffic, crashes and restarts.
// An observer reads every member's view continuously and a Proof reports any
// partition proven held by two members at once. After the faults stop,
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

	proof := procluster.NewProof()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards which members are running
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			live := c.live()
			mu.Unlock()
			for _, m := range live {
				sent := time.Now()
				v := c.mine(m)
				proof.Record(m.name, v.Partitions, sent, time.Now())
			}
			time.Sleep(5 * time.Millisecond) // sampling interval
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		if v := proof.Violations(); len(v) > 0 {
			t.Errorf("seed %d: %d violations, first: %s (replay: go test ./daemon -run TestFaultSchedules -fault-seed %d)", seed, len(v), v[0], seed)
		}
		t.Logf("seed %d: %d members (data dirs: %t), %d observations", seed, n, withData, proof.Polls())
	}()

	addr := func() string { return c.members[rng.IntN(n)].addr }
	var crashed []*testMember
	steps := 6 + rng.IntN(5)
	for i := 0; i < steps; i++ {
		switch k := rng.IntN(8); k {
		case 0:
			a, b := addr(), addr()
			f := rng.Float64()
			c.net.SetDrop(a, b, f)
			t.Logf("drop %s->%s %.2f", a, b, f)
		case 1:
			a, b := addr(), addr()
			c.net.Cut(a, b)
			t.Logf("cut %s->%s", a, b)
		case 2:
			a, b := addr(), addr()
			c.net.SetDelay(a, b, 0, time.Duration(rng.IntN(200))*time.Millisecond)
			t.Logf("delay %s->%s", a, b)
		case 3:
			perm := rng.Perm(n)
			cut := 1 + rng.IntN(n-1)
			var g1, g2 []string
			for j, p := range perm {
				if j < cut {
					g1 = append(g1, c.members[p].addr)
				} else {
					g2 = append(g2, c.members[p].addr)
				}
			}
			c.net.Partition(g1, g2)
			t.Logf("partition %v | %v", g1, g2)
		case 4:
			a := addr()
			c.net.Pause(a)
			t.Logf("pause traffic of %s", a)
		case 5:
			c.net.Heal()
			t.Logf("heal")
		case 6, 7:
			mu.Lock()
			if live := c.live(); len(live) > 1 && len(crashed) < maxCrashed {
				m := live[rng.IntN(len(live))]
				c.kill(m)
				crashed = append(crashed, m)
				t.Logf("crash %s", m.name)
			}
			mu.Unlock()
		}
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond) // let the fault act
	}
	c.net.Heal()
	for _, m := range c.members {
		c.net.Resume(m.addr)
	}
	mu.Lock()
	for _, m := range crashed {
		c.start(m)
		t.Logf("restart %s", m.name)
	}
	mu.Unlock()
	took := c.waitCoverage(c.members, 60*time.Second)
	t.Logf("seed %d: coverage back %v after the faults stopped", seed, took.Round(time.Millisecond))
}
