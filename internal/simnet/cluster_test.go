package simnet

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type pingMsg struct {
	Kind string // "ping" or "pong"
	N    int
}

// pinger is a toy protocol node: every interval (by its own clock) it pings
// its peer, if it has one, and it answers every ping with a pong.
type pinger struct {
	t        *testing.T
	name     string
	peer     string
	interval time.Duration

	next    time.Time
	n       int
	pongs   []int
	pings   int // pings received
	ticks   int
	lastNow time.Time
	out     []Outgoing[pingMsg]
	log     *strings.Builder // shared event log, to compare runs
}

func (p *pinger) clock(now time.Time) {
	p.t.Helper()
	if now.Before(p.lastNow) {
		p.t.Errorf("%s: time went back from %v to %v", p.name, p.lastNow, now)
	}
	p.lastNow = now
}

func (p *pinger) Tick(now time.Time) {
	p.clock(now)
	p.ticks++
	if p.peer != "" && !now.Before(p.next) {
		p.n++
		p.out = append(p.out, Outgoing[pingMsg]{To: p.peer, Msg: pingMsg{"ping", p.n}})
		p.next = now.Add(p.interval)
	}
}

func (p *pinger) Step(now time.Time, from string, m pingMsg) {
	p.clock(now)
	if p.log != nil {
		fmt.Fprintf(p.log, "%s<-%s %s%d @%d\n", p.name, from, m.Kind, m.N, now.Sub(epoch))
	}
	switch m.Kind {
	case "ping":
		p.pings++
		p.out = append(p.out, Outgoing[pingMsg]{To: from, Msg: pingMsg{"pong", m.N}})
	case "pong":
		p.pongs = append(p.pongs, m.N)
	}
}

func (p *pinger) Outbox() []Outgoing[pingMsg] {
	out := p.out
	p.out = nil
	return out
}

func newPingCluster(t *testing.T, seed int64) (*Cluster[pingMsg], *pinger, *pinger) {
	net := New[pingMsg](seed)
	net.SetDefaultDelay(1*ms, 20*ms)
	c := NewCluster(net)
	a := &pinger{t: t, name: "a", peer: "b", interval: 50 * ms}
	b := &pinger{t: t, name: "b"}
	c.Add("b", b)
	c.Add("a", a)
	return c, a, b
}

func TestClusterPingPong(t *testing.T) {
	c, a, b := newPingCluster(t, 1)
	c.Net.SetDrift("b", 0.25)
	c.Net.Partition([]string{"a"}, []string{"b"})
	start := c.Net.Now()
	healAt := start.Add(time.Second)
	const tick = 5 * ms

	var last time.Time
	steps := 0
	c.Observe = func(now time.Time) {
		steps++
		if !now.Equal(c.Net.Now()) {
			t.Errorf("Observe got %v, network is at %v", now, c.Net.Now())
		}
		if !last.IsZero() && now.Sub(last) != tick {
			t.Errorf("step from %v to %v, want %v", last, now, tick)
		}
		last = now
		if now.Before(healAt) && len(a.pongs) > 0 {
			t.Errorf("pong %v arrived at %v through the partition", a.pongs, now)
		}
		if now.Equal(healAt) {
			c.Net.Heal()
		}
	}

	ok := c.RunUntil(10*time.Second, tick, func() bool { return len(a.pongs) >= 5 })
	if !ok {
		t.Fatalf("no 5 pongs within 10s: pongs %v, stats %+v", a.pongs, c.Net.Stats())
	}
	elapsed := c.Net.Now().Sub(start)
	if elapsed <= time.Second || elapsed > 2*time.Second {
		t.Fatalf("5 pongs after %v; want soon after the heal at 1s", elapsed)
	}
	if steps != int(elapsed/tick) {
		t.Fatalf("Observe called %d times in %v, want one per %v step", steps, elapsed, tick)
	}
	if a.ticks != steps || b.ticks != steps {
		t.Fatalf("ticks a=%d b=%d, want %d each", a.ticks, b.ticks, steps)
	}
	if !slices.IsSorted(a.pongs) {
		// Not a requirement of the network, but with 50ms between pings and at
		// most 40ms round trip the replies cannot overtake each other.
		t.Fatalf("pongs out of order: %v", a.pongs)
	}
	// b's clock runs 25% fast and Step/Tick got b's own clock.
	if want := start.Add(elapsed * 5 / 4); !b.lastNow.Equal(want) {
		t.Fatalf("b's last now = %v, want %v", b.lastNow, want)
	}
	if !a.lastNow.Equal(c.Net.Now()) {
		t.Fatalf("a's last now = %v, want %v", a.lastNow, c.Net.Now())
	}
}

func TestClusterRunUntilGivesUp(t *testing.T) {
	c, a, _ := newPingCluster(t, 1)
	c.Net.Isolate("a")
	start := c.Net.Now()
	calls := 0
	ok := c.RunUntil(time.Second, 7*ms, func() bool { calls++; return len(a.pongs) > 0 })
	if ok {
		t.Fatal("RunUntil reported success for an isolated node")
	}
	if got := c.Net.Now().Sub(start); got != time.Second {
		t.Fatalf("ran for %v, want exactly the 1s limit", got)
	}
	// Once before the first step, once after each of ceil(1000/7) steps.
	if want := 1 + 143; calls != want {
		t.Fatalf("cond checked %d times, want %d", calls, want)
	}
	if a.n == 0 {
		t.Fatal("a never pinged")
	}
}

func TestClusterRunUntilTrueAtOnce(t *testing.T) {
	c, _, _ := newPingCluster(t, 1)
	start := c.Net.Now()
	if !c.RunUntil(time.Second, ms, func() bool { return true }) {
		t.Fatal("RunUntil false for a condition that holds")
	}
	if !c.Net.Now().Equal(start) {
		t.Fatal("RunUntil stepped although the condition held at once")
	}
}

func TestClusterRunFor(t *testing.T) {
	c, a, b := newPingCluster(t, 1)
	start := c.Net.Now()
	c.RunFor(103*ms, 10*ms)
	if got := c.Net.Now().Sub(start); got != 103*ms {
		t.Fatalf("RunFor(103ms) ran %v", got)
	}
	if a.ticks != 11 || b.ticks != 11 {
		t.Fatalf("ticks a=%d b=%d, want 11 (10 full steps and a 3ms one)", a.ticks, b.ticks)
	}
}

func TestClusterPauseAndCrash(t *testing.T) {
	c, a, b := newPingCluster(t, 1)
	c.RunFor(time.Second, 5*ms)
	if b.pings == 0 {
		t.Fatal("b got no pings while up")
	}

	// A paused node is neither ticked nor stepped; its messages wait.
	c.Net.Pause("b")
	ticks, pings := b.ticks, b.pings
	pongs := len(a.pongs)
	c.RunFor(time.Second, 5*ms)
	if b.ticks != ticks || b.pings != pings {
		t.Fatalf("paused b was driven: ticks %d->%d pings %d->%d", ticks, b.ticks, pings, b.pings)
	}
	if in := c.Net.Stats().InFlight; in < 15 {
		t.Fatalf("only %d messages held for paused b, want about 20", in)
	}
	c.Net.Resume("b")
	c.RunFor(5*ms, 5*ms)
	if b.pings-pings < 15 {
		t.Fatalf("resumed b got %d held pings, want about 20", b.pings-pings)
	}
	c.RunFor(100*ms, 5*ms)
	if len(a.pongs)-pongs < 15 {
		t.Fatalf("a got %d pongs after b resumed", len(a.pongs)-pongs)
	}

	// A crashed node is neither ticked nor stepped, and messages to it are
	// lost; Replace brings it back with fresh state.
	c.Net.Crash("b")
	ticks, pings = b.ticks, b.pings
	c.RunFor(time.Second, 5*ms)
	if b.ticks != ticks {
		t.Fatalf("crashed b was ticked")
	}
	fresh := &pinger{t: t, name: "b"}
	c.Replace("b", fresh)
	if c.Net.Crashed("b") || c.Node("b") != Node[pingMsg](fresh) {
		t.Fatal("Replace did not restart b with the new node")
	}
	c.RunFor(time.Second, 5*ms)
	if fresh.pings == 0 || fresh.ticks != 200 {
		t.Fatalf("fresh b: %d pings, %d ticks; want some pings and 200 ticks", fresh.pings, fresh.ticks)
	}
	if b.pings != pings || b.ticks != ticks {
		t.Fatal("old b was driven after Replace")
	}
}

func TestClusterDeterministic(t *testing.T) {
	run := func(seed int64) string {
		var log strings.Builder
		net := New[pingMsg](seed)
		net.SetDefaultDelay(0, 30*ms)
		c := NewCluster(net)
		for _, name := range []string{"c", "a", "b"} {
			peer := map[string]string{"a": "b", "b": "c", "c": "a"}[name]
			c.Add(name, &pinger{t: t, name: name, peer: peer, interval: 10 * ms, log: &log})
			net.SetDrop(name, peer, 0.3)
		}
		r := net.Rand()
		c.Observe = func(time.Time) {
			if r.IntN(50) == 0 {
				net.Cut("a", "b")
			}
			if r.IntN(50) == 0 {
				net.Heal()
			}
		}
		c.RunFor(2*time.Second, ms)
		return log.String()
	}
	first := run(5)
	if first == "" {
		t.Fatal("nothing happened")
	}
	if run(5) != first {
		t.Fatal("same seed gave different cluster runs")
	}
	if run(6) == first {
		t.Fatal("different seeds gave the same cluster run")
	}
}

func TestClusterNames(t *testing.T) {
	c := NewCluster(New[pingMsg](1))
	for _, name := range []string{"m", "c", "x", "a"} {
		c.Add(name, &pinger{t: t, name: name})
	}
	if got := c.Names(); !slices.Equal(got, []string{"a", "c", "m", "x"}) {
		t.Fatalf("Names() = %v", got)
	}
	if !c.Net.HasNode("x") {
		t.Fatal("Add did not add the node to the network")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("adding a name twice did not panic")
		}
	}()
	c.Add("a", &pinger{t: t, name: "a"})
}
