package simnet

import (
	"fmt"
	"slices"
	"time"
)

// Node is a pure protocol state machine driven by a Cluster. Time comes in as
// a value: the node's own clock reading, from Network.NodeNow.
type Node[M any] interface {
	// Step handles a message from another node.
	Step(now time.Time, from string, msg M)
	// Tick lets the node act on the passage of time (timeouts, renewals).
	Tick(now time.Time)
	// Outbox returns and forgets the messages the node wants sent.
	Outbox() []Outgoing[M]
}

// Outgoing is a message a Node wants sent.
type Outgoing[M any] struct {
	To  string
	Msg M
}

// Cluster drives a set of Nodes over a Network in fixed time steps. Each step
// of length tick:
//
//  1. moves the global clock forward by tick and Steps every message that fell
//     due, in delivery order, with the recipient's clock reading;
//  2. Ticks every node that is neither paused nor crashed, in name order, with
//     its own clock reading;
//  3. sends every node's Outbox through the network, in name order (a paused
//     node keeps its outbox until it resumes);
//  4. calls Observe, if set, with the global time.
//
// A message sent in one step is delivered in a later step at the earliest,
// even with zero delay, so a request and its reply take at least two steps.
// Observe may inject faults (Pause, Partition, Crash, ...) and check
// invariants; a Cluster is as single-goroutine as its Network.
type Cluster[M any] struct {
	Net *Network[M]
	// Observe, if not nil, is called after every step with the global time.
	Observe func(now time.Time)

	nodes map[string]Node[M]
	names []string // sorted keys of nodes
}

// NewCluster returns a Cluster without nodes over net.
func NewCluster[M any](net *Network[M]) *Cluster[M] {
	return &Cluster[M]{Net: net, nodes: make(map[string]Node[M])}
}

// Add adds a node under name, adding name to the network if it is not there
// yet. Adding a name twice panics; use Replace.
func (c *Cluster[M]) Add(name string, nd Node[M]) {
	if _, ok := c.nodes[name]; ok {
		panic(fmt.Sprintf("simnet: cluster already has node %q", name))
	}
	c.Net.AddNode(name)
	c.nodes[name] = nd
	i, _ := slices.BinarySearch(c.names, name)
	c.names = slices.Insert(c.names, i, name)
}

// Replace swaps in nd, with fresh state, for the node under name, and
// restarts it in the network if it was crashed: a process restart. Messages
// already in flight to name reach the new state; call Net.Crash first to lose
// them, as a process that was down for a while would.
func (c *Cluster[M]) Replace(name string, nd Node[M]) {
	if _, ok := c.nodes[name]; !ok {
		panic(fmt.Sprintf("simnet: cluster has no node %q", name))
	}
	c.Net.Restart(name)
	c.nodes[name] = nd
}

// Node returns the node under name, or nil.
func (c *Cluster[M]) Node(name string) Node[M] { return c.nodes[name] }

// Names returns the node names in sorted order.
func (c *Cluster[M]) Names() []string { return slices.Clone(c.names) }

// step runs one step of length d (see Cluster).
func (c *Cluster[M]) step(d time.Duration) {
	net := c.Net
	for _, dl := range net.Advance(net.Now().Add(d)) {
		if nd, ok := c.nodes[dl.To]; ok {
			nd.Step(net.NodeNow(dl.To), dl.From, dl.Msg)
		}
	}
	for _, name := range c.names {
		if !net.Paused(name) && !net.Crashed(name) {
			c.nodes[name].Tick(net.NodeNow(name))
		}
	}
	for _, name := range c.names {
		if net.Paused(name) {
			continue
		}
		// A crashed node's leftovers go to Send too, which counts them lost.
		for _, out := range c.nodes[name].Outbox() {
			net.Send(name, out.To, out.Msg)
		}
	}
	if c.Observe != nil {
		c.Observe(net.Now())
	}
}

func checkTick(tick time.Duration) {
	if tick <= 0 {
		panic(fmt.Sprintf("simnet: tick %v must be positive", tick))
	}
}

// RunFor runs steps of length tick until d has passed; the last step is
// shorter if tick does not divide d.
func (c *Cluster[M]) RunFor(d, tick time.Duration) {
	checkTick(tick)
	for left := d; left > 0; left -= tick {
		c.step(min(tick, left))
	}
}

// RunUntil runs steps of length tick until cond holds (checked before the
// first step and after every step) or limit has passed, and reports whether
// cond held. The last step is shorter if tick does not divide limit.
func (c *Cluster[M]) RunUntil(limit, tick time.Duration, cond func() bool) bool {
	checkTick(tick)
	if cond() {
		return true
	}
	for left := limit; left > 0; left -= tick {
		c.step(min(tick, left))
		if cond() {
			return true
		}
	}
	return false
}
