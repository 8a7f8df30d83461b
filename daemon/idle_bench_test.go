package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
)

// idleCluster runs the loops of a few members on simulated time, without
// memberlist or sockets: each tick and each message goes through the same
// steps as in Daemon.loop (the core's input, handleReady's send with the
// envelope encoded, publish), and messages are delivered at once, encoded
// and decoded as on the wire. It measures what the loop costs an idle
// member, apart from gossip and the Go runtime.
type idleCluster struct {
	now     time.Time
	members []*Daemon
	byName  map[string]*Daemon
	queue   []idleMessage
}

type idleMessage struct {
	to string
	b  []byte
}

func newIdleCluster(tb testing.TB, n, partitions int) *idleCluster {
	tb.Helper()
	c := &idleCluster{now: time.Unix(1_800_000_000, 0), byName: map[string]*Daemon{}}
	var infos []core.MemberInfo
	for i := range n {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("ringd-%d", i)
		cfg.Partitions = partitions
		cfg.BootstrapExpect = n
		cfg.Join = []string{"seed"}
		d := &Daemon{cfg: cfg, log: hclog.NewNullLogger(), metrics: newMetrics(), inc: uint64(100 + i), identity: uint64(100 + i),
			firstIndex: 1}
		d.core = core.New(d.coreOptions(), core.Durable{})
		c.members = append(c.members, d)
		c.byName[cfg.Name] = d
		infos = append(infos, core.MemberInfo{Name: cfg.Name, Incarnation: d.inc, Identity: d.identity, Alive: true})
	}
	for _, d := range c.members {
		var others []core.MemberInfo
		for _, m := range infos {
			if m.Name != d.cfg.Name {
				others = append(others, m)
			}
		}
		d.core.SetMembers(c.now, others)
		c.ready(d)
	}
	c.deliver(tb)
	return c
}

// ready is handleReady without persistence or memberlist: the messages are
// encoded and queued.
func (c *idleCluster) ready(d *Daemon) {
	r := d.core.Ready()
	for _, out := range r.Messages {
		b, err := encodeEnvelope(out.Env, core.ProtocolVersion)
		if err != nil {
			panic(err)
		}
		c.queue = append(c.queue, idleMessage{to: out.To, b: b})
	}
	d.recordEvents(r.Events)
	d.publish(c.now)
	d.core.Advance(r)
}

func (c *idleCluster) deliver(tb testing.TB) {
	for len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		d := c.byName[m.to]
		if d == nil {
			continue
		}
		env, err := decodeEnvelope(m.b)
		if err != nil {
			tb.Fatalf("decoding a message to %s: %v", m.to, err)
		}
		d.core.Step(c.now, env)
		c.ready(d)
	}
}

// tick advances the simulated clock by one loop tick and runs every
// member's tick, then delivers what they sent.
func (c *idleCluster) tick(tb testing.TB) {
	c.now = c.now.Add(c.members[0].tickInterval())
	for _, d := range c.members {
		d.core.SetTermFloor(uint64(c.now.UnixMilli()))
		d.core.Tick(c.now)
		c.ready(d)
	}
	c.deliver(tb)
}

// settle runs until one member leads and every partition is owned and
// nothing moved for a while.
func (c *idleCluster) settle(tb testing.TB, partitions int) *Daemon {
	tb.Helper()
	var leader *Daemon
	quiet := 0
	lastVersion := uint64(0)
	for i := 0; i < 100_000 && quiet < 200; i++ {
		c.tick(tb)
		leader = nil
		owned := 0
		for _, d := range c.members {
			v := d.snap.Load().view
			if v.Role == election.Leader {
				leader = d
			}
			owned += len(v.Holdings)
		}
		if leader == nil || owned != partitions || leader.snap.Load().view.Table.ID.Version != lastVersion {
			quiet = 0
			if leader != nil {
				lastVersion = leader.snap.Load().view.Table.ID.Version
			}
			continue
		}
		quiet++
	}
	if quiet < 200 {
		tb.Fatalf("the simulated cluster did not settle")
	}
	return leader
}

// BenchmarkIdleCluster measures one simulated second of an idle 5-member
// cluster at P = 1024 with default timings: every member's ticks and
// messages through the loop's steps. ns/op over 1e7 is the percentage of
// one core the five loops take together (memberlist and the runtime's
// wake-ups not counted).
func BenchmarkIdleCluster(b *testing.B) {
	c := newIdleCluster(b, 5, 1024)
	c.settle(b, 1024)
	ticks := int(time.Second / c.members[0].tickInterval())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for range ticks {
			c.tick(b)
		}
	}
}

// BenchmarkIdlePublish measures one publish of a settled member: what the
// loop does after every input.
func BenchmarkIdlePublish(b *testing.B) {
	forLeaderAndFollower(b, func(c *idleCluster, d *Daemon) { d.publish(c.now) })
}

// BenchmarkIdleTick measures one tick of a settled member, with its
// handleReady (messages encoded, not delivered).
func BenchmarkIdleTick(b *testing.B) {
	forLeaderAndFollower(b, func(c *idleCluster, d *Daemon) {
		d.core.Tick(c.now)
		c.ready(d)
		c.queue = c.queue[:0]
	})
}

// forLeaderAndFollower settles a 5-member cluster at P = 1024 and runs op
// on its leader and on a follower, as sub-benchmarks.
func forLeaderAndFollower(b *testing.B, op func(c *idleCluster, d *Daemon)) {
	c := newIdleCluster(b, 5, 1024)
	leader := c.settle(b, 1024)
	follower := c.members[0]
	if follower == leader {
		follower = c.members[1]
	}
	for _, m := range []struct {
		name string
		d    *Daemon
	}{{"leader", leader}, {"follower", follower}} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				op(c, m.d)
			}
		})
	}
}
