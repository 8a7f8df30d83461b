// Package simnet is a deterministic simulated network and clock for testing
// ringd's protocol state machines (election, leases, table distribution).
//
// A test runs a whole cluster in one goroutine: it sends messages through a
// Network, moves the global virtual clock forward with Advance, and hands the
// returned deliveries to the nodes, each of which reads its own (possibly
// drifting) clock with NodeNow. Cluster does that loop for nodes that
// implement Node.
//
// Everything random (delays, drops) comes from the seed given to New, so the
// same seed and the same sequence of calls give the same deliveries. Nodes,
// links and deliveries are always visited in a fixed order (sorted names, then
// due time and send order), never in map order.
//
// Faults:
//
//   - SetDelay / SetDefaultDelay: a delay drawn uniformly from [lo, hi] per
//     message; different delays reorder messages on a link.
//   - SetDrop: each message on a link is lost with a given probability.
//   - Cut (one way), Isolate (a node from everyone, both ways) and Partition
//     (groups that cannot talk to each other): messages are refused at Send.
//   - SetFilter: a hook that sees every message at Send and may drop it.
//   - Pause / Resume: a stopped process (SIGSTOP, a long GC); its clock runs
//     on, messages due to it wait until it resumes.
//   - Crash / Restart: a dead process; messages to it are lost.
//   - SetDrift: a node's clock runs faster or slower than the global clock.
//
// Drops, cuts, isolation, partitions and the filter are decided when a message
// is sent. A message already in flight when a link is cut afterwards is still
// delivered: it was already on the wire. Only a crash of the recipient removes
// messages that are in flight.
//
// A Network is not safe for concurrent use; it is meant to be driven from a
// single goroutine. Misuse that can only be a bug in the test (an unknown node
// name where a known one is required, time moving backwards, a negative
// delay, a drop fraction outside [0, 1]) panics.
package simnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// epoch is the global virtual time at which every Network starts:
// 2023-11-14T22:13:20Z. Virtual time is kept as nanoseconds since epoch.
var epoch = time.Unix(1_700_000_000, 0).UTC()

// Seed stream constants: the network's own draws (delays, drops) and the
// harness's draws (Rand) come from two independent PCG streams of the same
// seed, so a test that draws more or fewer fault decisions does not shift the
// delays and drops of its messages.
const (
	netStream     = 0x9e3779b97f4a7c15
	harnessStream = 0xd1b54a32d192ed03
)

// Delivery is a message handed to its recipient by Advance.
type Delivery[M any] struct {
	From, To string
	Msg      M
	// At is the global time at which the message arrived: its due time, or
	// the time the recipient resumed if it was paused when the message was due.
	At time.Time
}

// Stats counts what happened to the messages sent so far. Every message
// passed to Send ends up in exactly one of the counters, so
// Sent == Delivered + Dropped + Blocked + Filtered + Lost + InFlight.
type Stats struct {
	Sent      int // calls to Send
	Delivered int // returned by Advance
	Dropped   int // lost to a link's drop fraction
	Blocked   int // refused by a cut, an isolation or a partition
	Filtered  int // refused by the filter
	Lost      int // sender or recipient unknown or crashed, or recipient crashed while it was in flight
	InFlight  int // queued, or held for a paused recipient
}

type link struct{ from, to string }

// linkFaults are the per-link settings; the zero value is a healthy link with
// the default delay.
type linkFaults struct {
	cut      bool
	drop     float64
	hasDelay bool
	lo, hi   time.Duration
}

type node[M any] struct {
	// The node's clock: local time at global time globalBase was localBase,
	// and since then it has run at rate (1 + drift).
	globalBase int64
	localBase  int64
	drift      float64

	paused  bool
	crashed bool
	held    []envelope[M] // due while paused, in delivery order
}

// Network is a simulated network with a virtual clock. The zero value is not
// usable; call New.
type Network[M any] struct {
	now     int64 // global virtual time, nanoseconds since epoch
	seq     uint64
	rng     *rand.Rand
	harness *rand.Rand

	nodes map[string]*node[M]
	queue queue[M]
	held  int // total envelopes held for paused nodes

	defaultLo, defaultHi time.Duration
	links                map[link]*linkFaults
	isolated             map[string]bool
	partitioned          bool
	group                map[string]int
	filter               func(from, to string, msg M) bool

	stats Stats
}

// New returns an empty network whose clock reads 2023-11-14T22:13:20Z
// (Unix 1_700_000_000), with zero default delay. All randomness derives from seed.
func New[M any](seed int64) *Network[M] {
	s := uint64(seed)
	return &Network[M]{
		rng:      rand.New(rand.NewPCG(s, netStream)),
		harness:  rand.New(rand.NewPCG(s, harnessStream)),
		nodes:    make(map[string]*node[M]),
		links:    make(map[link]*linkFaults),
		isolated: make(map[string]bool),
	}
}

// Now returns the global virtual time.
func (n *Network[M]) Now() time.Time { return epoch.Add(time.Duration(n.now)) }

// Rand returns a random source for the harness (fault schedules, workloads),
// derived from the network's seed but independent of the network's own draws.
func (n *Network[M]) Rand() *rand.Rand { return n.harness }

// Stats returns the message counters.
func (n *Network[M]) Stats() Stats {
	s := n.stats
	s.InFlight = n.queue.len() + n.held
	return s
}

// AddNode adds a node, up and not paused, whose clock reads the global time
// and runs without drift. Adding a node that exists already does nothing.
func (n *Network[M]) AddNode(name string) {
	if _, ok := n.nodes[name]; ok {
		return
	}
	n.nodes[name] = &node[M]{globalBase: n.now, localBase: n.now}
}

// HasNode reports whether name was added.
func (n *Network[M]) HasNode(name string) bool {
	_, ok := n.nodes[name]
	return ok
}

func (n *Network[M]) mustNode(name string) *node[M] {
	nd, ok := n.nodes[name]
	if !ok {
		panic(fmt.Sprintf("simnet: unknown node %q", name))
	}
	return nd
}

// localAt is the node's clock reading at global time g (g >= globalBase).
func (nd *node[M]) localAt(g int64) int64 {
	elapsed := float64(g - nd.globalBase)
	return nd.localBase + int64(math.Round(elapsed*(1+nd.drift)))
}

// SetDrift makes name's clock run at rate (1 + drift) of the global clock
// from now on. The clock does not jump: it continues from its current
// reading. drift must be greater than -1 (a clock that runs forward).
func (n *Network[M]) SetDrift(name string, drift float64) {
	nd := n.mustNode(name)
	if !(drift > -1) || math.IsInf(drift, 0) {
		panic(fmt.Sprintf("simnet: drift %v for %q must be a finite number > -1", drift, name))
	}
	nd.localBase = nd.localAt(n.now)
	nd.globalBase = n.now
	nd.drift = drift
}

// NodeNow returns name's local clock reading at the current global time. It
// never goes backwards, also across SetDrift, Pause and Crash: the machine's
// clock keeps running whatever its process does.
func (n *Network[M]) NodeNow(name string) time.Time {
	return epoch.Add(time.Duration(n.mustNode(name).localAt(n.now)))
}

func checkDelay(lo, hi time.Duration) {
	if lo < 0 || hi < lo {
		panic(fmt.Sprintf("simnet: delay range [%v, %v] must have 0 <= lo <= hi", lo, hi))
	}
}

// SetDefaultDelay sets the delay range [lo, hi] of every link without its own
// delay.
func (n *Network[M]) SetDefaultDelay(lo, hi time.Duration) {
	checkDelay(lo, hi)
	n.defaultLo, n.defaultHi = lo, hi
}

func (n *Network[M]) link(from, to string) *linkFaults {
	l := link{from, to}
	f, ok := n.links[l]
	if !ok {
		f = &linkFaults{}
		n.links[l] = f
	}
	return f
}

// SetDelay sets the delay range of the one-way link from -> to. Each message
// gets a delay drawn uniformly from [lo, hi]; with lo < hi, later messages can
// overtake earlier ones.
func (n *Network[M]) SetDelay(from, to string, lo, hi time.Duration) {
	checkDelay(lo, hi)
	f := n.link(from, to)
	f.hasDelay, f.lo, f.hi = true, lo, hi
}

// SetDrop makes the one-way link from -> to lose each message with
// probability fraction, decided at Send.
func (n *Network[M]) SetDrop(from, to string, fraction float64) {
	if !(fraction >= 0 && fraction <= 1) {
		panic(fmt.Sprintf("simnet: drop fraction %v must be in [0, 1]", fraction))
	}
	n.link(from, to).drop = fraction
}

// Cut refuses every message from -> to from now on (one way). Messages
// already in flight on the link are still delivered.
func (n *Network[M]) Cut(from, to string) { n.link(from, to).cut = true }

// Isolate cuts name off from every other node, both ways. Messages a node
// sends to itself are not affected.
func (n *Network[M]) Isolate(name string) { n.isolated[name] = true }

// Partition splits the network into groups: messages between nodes of
// different groups are refused both ways, and a node in no group (also one
// added later) is isolated. It replaces any earlier partition; cuts and
// isolations stay. A name may appear in at most one group.
func (n *Network[M]) Partition(groups ...[]string) {
	g := make(map[string]int)
	for i, members := range groups {
		for _, name := range members {
			if j, dup := g[name]; dup && j != i {
				panic(fmt.Sprintf("simnet: node %q in partition groups %d and %d", name, j, i))
			}
			g[name] = i
		}
	}
	n.partitioned, n.group = true, g
}

// Heal removes every cut, isolation, partition, drop fraction and per-link
// delay. It leaves the default delay, the filter, clock drift, pauses and
// crashes as they are.
func (n *Network[M]) Heal() {
	clear(n.links)
	clear(n.isolated)
	n.partitioned, n.group = false, nil
}

// SetFilter installs a hook consulted for every message at Send that got past
// cuts, isolation and partitions (and before the random drop): returning false
// drops the message. nil removes the hook.
func (n *Network[M]) SetFilter(f func(from, to string, msg M) bool) { n.filter = f }

// blocked reports whether a cut, isolation or partition refuses from -> to.
func (n *Network[M]) blocked(from, to string) bool {
	if f, ok := n.links[link{from, to}]; ok && f.cut {
		return true
	}
	if from == to {
		return false
	}
	if n.isolated[from] || n.isolated[to] {
		return true
	}
	if n.partitioned {
		gf, okf := n.group[from]
		gt, okt := n.group[to]
		if !okf || !okt || gf != gt {
			return true
		}
	}
	return false
}

// Send puts msg on the wire from -> to, to be delivered after the link's
// delay unless a fault refuses it. A message from or to an unknown or crashed
// node vanishes.
func (n *Network[M]) Send(from, to string, msg M) {
	n.stats.Sent++
	src, okf := n.nodes[from]
	dst, okt := n.nodes[to]
	if !okf || !okt || src.crashed || dst.crashed {
		n.stats.Lost++
		return
	}
	if n.blocked(from, to) {
		n.stats.Blocked++
		return
	}
	if n.filter != nil && !n.filter(from, to, msg) {
		n.stats.Filtered++
		return
	}
	lo, hi := n.defaultLo, n.defaultHi
	if f, ok := n.links[link{from, to}]; ok {
		if f.drop > 0 && n.rng.Float64() < f.drop {
			n.stats.Dropped++
			return
		}
		if f.hasDelay {
			lo, hi = f.lo, f.hi
		}
	}
	delay := lo
	if hi > lo {
		delay += time.Duration(n.rng.Int64N(int64(hi-lo) + 1))
	}
	n.seq++
	n.queue.push(envelope[M]{due: n.now + int64(delay), seq: n.seq, from: from, to: to, msg: msg})
}

// Advance moves the global clock forward to t and returns the messages due by
// t whose recipient is not paused, in delivery order (due time, then send
// order), removing them from the network. Messages due to a paused node are
// held for it until Resume. t must not be before Now.
func (n *Network[M]) Advance(t time.Time) []Delivery[M] {
	target := int64(t.Sub(epoch))
	if target < n.now {
		panic(fmt.Sprintf("simnet: Advance to %v, before now %v", t, n.Now()))
	}
	var out []Delivery[M]
	for n.queue.len() > 0 && n.queue.peek().due <= target {
		e := n.queue.pop()
		dst := n.nodes[e.to] // queued envelopes always have a live recipient
		if dst.paused {
			dst.held = append(dst.held, e)
			n.held++
			continue
		}
		n.stats.Delivered++
		out = append(out, Delivery[M]{From: e.from, To: e.to, Msg: e.msg, At: epoch.Add(time.Duration(e.due))})
	}
	n.now = target
	return out
}

// Pause stops name as SIGSTOP would: from now on it receives nothing, and
// messages that fall due for it are held. Its clock keeps running. A harness
// must not Step or Tick a paused node. Pausing a paused node does nothing.
func (n *Network[M]) Pause(name string) { n.mustNode(name).paused = true }

// Resume restarts a paused node. The messages held for it become due now, in
// the order they would have been delivered, and come out of the next Advance.
func (n *Network[M]) Resume(name string) {
	nd := n.mustNode(name)
	if !nd.paused {
		return
	}
	nd.paused = false
	for _, e := range nd.held {
		n.seq++
		e.due, e.seq = n.now, n.seq
		n.queue.push(e)
	}
	n.held -= len(nd.held)
	clear(nd.held)
	nd.held = nd.held[:0]
}

// Paused reports whether name is paused.
func (n *Network[M]) Paused(name string) bool { return n.mustNode(name).paused }

// Crash kills name: every message queued or held for it is lost, and so is
// every message sent to or from it until Restart. Messages it sent before the
// crash are still delivered. A crash ends a pause. Its clock keeps running.
func (n *Network[M]) Crash(name string) {
	nd := n.mustNode(name)
	if nd.crashed {
		return
	}
	nd.crashed, nd.paused = true, false
	n.stats.Lost += len(nd.held) + n.queue.removeIf(func(e *envelope[M]) bool { return e.to == name })
	n.held -= len(nd.held)
	nd.held = nil
}

// Restart brings a crashed node back; it receives only messages sent from now
// on. Restarting a node that is up does nothing.
func (n *Network[M]) Restart(name string) { n.mustNode(name).crashed = false }

// Crashed reports whether name is crashed.
func (n *Network[M]) Crashed(name string) bool { return n.mustNode(name).crashed }
