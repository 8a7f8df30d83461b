package daemon

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/memnet"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/internal/simcluster"
	"github.com/ringd/ringd/internal/testlog"
	"github.com/ringd/ringd/partitions"
)

// testCluster runs real daemons (real memberlist, real loop, real HTTP) in
// one process over the fault-injecting in-memory transport.
type testCluster struct {
	t          *testing.T
	net        *memnet.Network
	partitions int
	members    []*testMember
	logs       *testlog.Writer
	// paused lists the members whose traffic is paused (apply).
	paused map[string]bool

	// check judges every answer of a member's view (observe). checkMu
	// serialises polling and recording, so that one member's answers are
	// recorded in the order they were read, and guards members' d and
	// killed against an observer goroutine.
	checkMu sync.Mutex
	check   *ownercheck.Checker
}

type testMember struct {
	name   string
	addr   string // memnet address
	cfg    Config
	d      *Daemon
	killed bool

	// applied is every table the member applied, as WithTableApplied
	// reported it.
	appliedMu sync.Mutex
	applied   []partitions.TableID
}

// lastApplied is the newest table WithTableApplied reported for m.
func (m *testMember) lastApplied() (partitions.TableID, int) {
	m.appliedMu.Lock()
	defer m.appliedMu.Unlock()
	if len(m.applied) == 0 {
		return partitions.TableID{}, 0
	}
	return m.applied[len(m.applied)-1], len(m.applied)
}

// fastConfig has the short timings of every cluster test (simcluster.Fast).
func fastConfig(name, addr string, partitions int, join []string, expect int) Config {
	tm := simcluster.Fast()
	c := DefaultConfig()
	c.Name = name
	c.GossipAddr = addr
	c.HTTPAddr = "127.0.0.1:0"
	c.Partitions = partitions
	c.Join = join
	c.BootstrapExpect = expect
	c.GossipProfile = "local"
	c.HeartbeatInterval = tm.HeartbeatInterval
	c.LeaderTimeout = tm.LeaderTimeout
	c.ElectionTimeout = tm.ElectionTimeout
	c.LeaderLease = tm.LeaderLease
	c.Lease = tm.Lease
	c.Drift = tm.Drift
	c.SafetyMargin = tm.SafetyMargin
	c.Settle = tm.Settle
	c.ReleaseTimeout = tm.ReleaseTimeout
	c.ShutdownTimeout = 5 * time.Second
	c.RejoinInterval = 500 * time.Millisecond
	return c
}

func newTestCluster(t *testing.T, n, partitions int) *testCluster {
	t.Helper()
	return newTestClusterOpts(t, n, partitions, false)
}

// newTestClusterOpts is newTestCluster, with a --data-dir per member when
// withData.
func newTestClusterOpts(t *testing.T, n, partitions int, withData bool) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: memnet.New(1), partitions: partitions, logs: testlog.New(t), paused: map[string]bool{}, check: ownercheck.New(partitions)}
	var addrs []string
	for i := 0; i < n; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d:7946", i+1))
	}
	for i := 0; i < n; i++ {
		m := &testMember{name: fmt.Sprintf("m%d", i), addr: addrs[i]}
		m.cfg = fastConfig(m.name, m.addr, partitions, addrs, n)
		if withData {
			m.cfg.DataDir = t.TempDir()
		}
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		c.start(m)
	}
	t.Cleanup(c.close)
	return c
}

func (c *testCluster) start(m *testMember) {
	c.t.Helper()
	tr, err := c.net.NewTransport(m.addr)
	if err != nil {
		c.t.Fatalf("transport %s: %v", m.addr, err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: m.name, Level: testLogLevel(), Output: c.logs})
	d, err := Start(mustResolve(c.t, m.cfg), logger, WithTransport(tr),
		WithTableApplied(func(t partitions.Table, _ time.Time) {
			m.appliedMu.Lock()
			m.applied = append(m.applied, t.ID)
			m.appliedMu.Unlock()
		}))
	if err != nil {
		c.t.Fatalf("start %s: %v", m.name, err)
	}
	c.checkMu.Lock()
	m.d, m.killed = d, false
	c.checkMu.Unlock()
}

// kill stops a member abruptly, like SIGKILL: no drain, no leave. The
// checker learns that the dead process holds nothing.
func (c *testCluster) kill(m *testMember) {
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	sent := time.Now()
	c.net.Crash(m.addr)
	m.d.Crash()
	m.killed = true
	c.check.ObserveAnswer(m.name, sent, time.Now(), nil)
}

func (c *testCluster) close() {
	for _, m := range c.members {
		if !m.killed {
			c.net.Crash(m.addr)
			m.d.Crash()
			m.killed = true
		}
	}
}

func (c *testCluster) live() []*testMember {
	var out []*testMember
	for _, m := range c.members {
		if !m.killed {
			out = append(out, m)
		}
	}
	return out
}

func (c *testCluster) mine(m *testMember) api.Mine {
	v, _ := (&source{d: m.d}).Mine()
	return v
}

// owners maps each partition to the live members listing it right now.
func (c *testCluster) owners(members []*testMember) map[int][]string {
	out := map[int][]string{}
	for _, m := range members {
		for _, p := range c.mine(m).Partitions {
			out[p.ID] = append(out[p.ID], m.name)
		}
	}
	return out
}

// observe reads the views of the given members that run and hands each, as
// an answer bounded by the time of the read, to the ownership checker.
func (c *testCluster) observe(members []*testMember) {
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	for _, m := range members {
		if m.killed {
			continue
		}
		sent := time.Now()
		v := c.mine(m)
		recv := time.Now()
		holdings := make([]partitions.Holding, 0, len(v.Partitions))
		for _, p := range v.Partitions {
			holdings = append(holdings, partitions.Holding{ID: p.ID, Token: p.Token})
		}
		c.check.ObserveAnswer(m.name, sent, recv, holdings)
	}
}

// violations judges every answer observed so far.
func (c *testCluster) violations() []ownercheck.Violation {
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	return c.check.Violations()
}

// requireOneOwner observes the given members and fails the test when the
// answers so far prove two owners of a partition at once (or a grant taken
// again, or tokens out of order).
func (c *testCluster) requireOneOwner(members []*testMember) {
	c.t.Helper()
	c.observe(members)
	if vs := c.violations(); len(vs) > 0 {
		c.t.Fatalf("%s", ownercheck.Summary(vs, 5))
	}
}

// waitCoverage polls until every partition is listed by exactly one of the
// given members, checking for double owners at every poll.
func (c *testCluster) waitCoverage(members []*testMember, within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		c.requireOneOwner(c.live())
		if len(c.owners(members)) == c.partitions {
			return time.Since(start)
		}
		if time.Since(start) > within {
			for _, m := range c.live() {
				var dbg string
				_ = m.d.do(context.Background(), func(now time.Time, core *core.Core) error {
					dbg = core.LeaderDebug(now)
					return nil
				})
				if dbg != "" {
					c.t.Logf("leader %s:\n%s", m.name, dbg)
				}
			}
			c.t.Fatalf("no full coverage by %v after %v: %d of %d partitions owned", names(members), within, len(c.owners(members)), c.partitions)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// leaders lists the live members that lead with a valid lease.
func (c *testCluster) leaders(members []*testMember) []string {
	var out []string
	for _, m := range members {
		if m.d.isLeaderNow() {
			out = append(out, m.name)
		}
	}
	return out
}

func (c *testCluster) eventually(within time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		c.requireOneOwner(c.live())
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func names(ms []*testMember) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return out
}

// holdings returns partition -> token for one member.
func (c *testCluster) holdings(m *testMember) map[int]uint64 {
	out := map[int]uint64{}
	for _, p := range c.mine(m).Partitions {
		out[p.ID] = p.Token
	}
	return out
}

// TestWithTableAppliedHearsEveryTable: the hook in-process harnesses (figure
// e of the benchmarks) time tables with hears of the table each member
// applies, up to the newest.
func TestWithTableAppliedHearsEveryTable(t *testing.T) {
	c := newTestCluster(t, 3, 16)
	c.waitCoverage(c.members, 30*time.Second)
	reported := func() bool {
		for _, m := range c.members {
			last, n := m.lastApplied()
			if n == 0 || last != m.d.View().Table.ID {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(10 * time.Second)
	for !reported() {
		if time.Now().After(deadline) {
			for _, m := range c.members {
				last, n := m.lastApplied()
				t.Errorf("%s: %d tables reported, last %v; applied %v", m.name, n, last, m.d.View().Table.ID)
			}
			t.FailNow()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClusterCoverageAndMemberCrash(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("members=%d", n), func(t *testing.T) {
			c := newTestCluster(t, n, 64)
			took := c.waitCoverage(c.members, 30*time.Second)
			t.Logf("full coverage after %v", took)
			if l := c.leaders(c.members); len(l) != 1 {
				t.Fatalf("want one leader, got %v", l)
			}
			// Kill a member that is not the leader.
			var victim *testMember
			for _, m := range c.members {
				if !m.d.isLeaderNow() {
					victim = m
					break
				}
			}
			c.kill(victim)
			took = c.waitCoverage(c.live(), 30*time.Second)
			t.Logf("coverage restored %v after killing %s", took, victim.name)
		})
	}
}

func TestClusterLeaderCrashKeepsSurvivorPartitions(t *testing.T) {
	c := newTestCluster(t, 5, 64)
	c.waitCoverage(c.members, 30*time.Second)
	var leader *testMember
	before := map[string]map[int]uint64{}
	for _, m := range c.members {
		if m.d.isLeaderNow() {
			leader = m
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	for _, m := range c.members {
		before[m.name] = c.holdings(m)
	}
	c.kill(leader)
	took := c.waitCoverage(c.live(), 30*time.Second)
	t.Logf("coverage restored %v after killing leader %s", took, leader.name)
	c.eventually(10*time.Second, "one new leader", func() bool { return len(c.leaders(c.live())) == 1 })
	for _, m := range c.live() {
		now := c.holdings(m)
		for p, tok := range before[m.name] {
			if now[p] != tok {
				t.Errorf("%s: partition %d moved or changed token across the leader change (token %d -> %d)", m.name, p, tok, now[p])
			}
		}
	}
}

func TestClusterSplitMajorityOnly(t *testing.T) {
	c := newTestCluster(t, 5, 64)
	c.waitCoverage(c.members, 30*time.Second)
	// Put the current leader on the minority side, to see it step down.
	ms := append([]*testMember(nil), c.members...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].d.isLeaderNow() && !ms[j].d.isLeaderNow() })
	minority, majority := ms[:2], ms[2:]
	var minAddrs, majAddrs []string
	for _, m := range minority {
		minAddrs = append(minAddrs, m.addr)
	}
	for _, m := range majority {
		majAddrs = append(majAddrs, m.addr)
	}
	c.net.Partition(majAddrs, minAddrs)
	c.eventually(30*time.Second, "a leader on the majority side only and the minority holding nothing", func() bool {
		held := 0
		for _, m := range minority {
			held += len(c.mine(m).Partitions)
		}
		return len(c.leaders(majority)) == 1 && len(c.leaders(minority)) == 0 && held == 0
	})
	c.waitCoverage(majority, 30*time.Second)
	// The minority never leads while split: watch it for a while.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if l := c.leaders(minority); len(l) != 0 {
			t.Fatalf("minority member %v leads without a majority", l)
		}
		c.requireOneOwner(c.members)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	c.net.Heal()
	c.eventually(30*time.Second, "one leader and one table after healing", func() bool {
		if len(c.leaders(c.members)) != 1 {
			return false
		}
		ids := map[string]bool{}
		for _, m := range c.members {
			ids[m.d.snap.Load().view.Table.ID.String()] = true
		}
		return len(ids) == 1
	})
	c.waitCoverage(c.members, 30*time.Second)
}

// isLeaderNow reports whether the member leads with a valid lease.
func (d *Daemon) isLeaderNow() bool {
	v := d.snap.Load().view
	return v.Role == election.Leader && time.Now().Before(v.LeaseUntil)
}

// testLogLevel is info unless RINGD_TEST_LOG names another level.
func testLogLevel() hclog.Level {
	if l := hclog.LevelFromString(os.Getenv("RINGD_TEST_LOG")); l != hclog.NoLevel {
		return l
	}
	return hclog.Info
}
