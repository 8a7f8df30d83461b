package daemon

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// The memberlist callbacks are small adapters: they decode or copy what
// they get and hand it to the loop. memberlist calls some of them under its
// own locks, so none of them calls back into memberlist.

// delegate carries node metadata and peer messages.
type delegate struct{ d *Daemon }

var _ memberlist.Delegate = (*delegate)(nil)

func (g *delegate) NodeMeta(limit int) []byte {
	b := g.d.metaBytes.Load()
	if b == nil || len(*b) > limit {
		return nil
	}
	return *b
}

// NotifyMsg decodes a peer message on memberlist's goroutine, not the
// loop's: the loop is the one goroutine that runs the protocol, and a
// leader of hundreds of members gets hundreds of acknowledgements and
// reports per heartbeat (issue 11, figure e). Tables and reports come over
// streams, each on a goroutine of its own, so their decoding runs beside
// the loop; the small UDP messages (heartbeats, acks) are decoded on
// memberlist's one packet-handler goroutine, a few microseconds each. The
// decoded envelope shares nothing with b, which memberlist reuses after we
// return.
func (g *delegate) NotifyMsg(b []byte) {
	env, err := decodeEnvelope(b)
	if err == nil {
		err = checkTerms(env)
	}
	if err != nil {
		g.d.metrics.badMessages.Inc()
		g.d.log.Debug("dropping peer message", "error", err)
		return
	}
	inbox := g.d.inbox
	if env.Election != nil && g.d.isVoter(env.From) {
		inbox = g.d.urgent
	}
	select {
	case inbox <- &env:
	default:
		g.d.metrics.droppedInbound.Inc()
	}
}

func (g *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (g *delegate) LocalState(join bool) []byte                { return nil }
func (g *delegate) MergeRemoteState(buf []byte, join bool)     {}

// events wakes the loop on membership changes.
type events struct{ d *Daemon }

var _ memberlist.EventDelegate = (*events)(nil)

// memberlist updates its Node structs in place under its own lock and calls
// these under that lock: copy what we need here, never keep its pointers.
func (e *events) NotifyJoin(n *memberlist.Node)   { e.d.peers.set(n, true); e.d.membersChanged() }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.d.peers.set(n, true); e.d.membersChanged() }
func (e *events) NotifyLeave(n *memberlist.Node)  { e.d.peers.set(n, false); e.d.membersChanged() }

// peerTable is our own copy of the gossip view.
type peerTable struct {
	mu    sync.Mutex
	nodes map[string]peer
	// oldestDead is the earliest deadSince of a dead peer (zero: none), so
	// that reap, on every tick, looks at the peers only when one is due.
	oldestDead time.Time
}

// peer is a copied memberlist node and whether gossip thinks it is alive.
type peer struct {
	node memberlist.Node
	// meta is node.Meta decoded once here (metaErr when it does not
	// decode): the loop reads every peer's on each membership change, and
	// decoding them all each time cost O(members²) while a large cluster
	// formed (issue 11, figure e).
	meta    nodeMeta
	metaErr error
	alive   bool
	// deadSince is when gossip last declared it dead (zero while alive).
	deadSince time.Time
}

func (t *peerTable) set(n *memberlist.Node, alive bool) {
	cp := *n
	cp.Meta = append([]byte(nil), n.Meta...)
	cp.Addr = append([]byte(nil), n.Addr...)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nodes == nil {
		t.nodes = map[string]peer{}
	}
	p := peer{node: cp, alive: alive}
	old, known := t.nodes[n.Name]
	if known && string(old.node.Meta) == string(cp.Meta) {
		p.meta, p.metaErr = old.meta, old.metaErr
	} else {
		p.meta, p.metaErr = decodeMeta(cp.Meta)
	}
	if !alive {
		p.deadSince = time.Now()
		if known && !old.alive {
			p.deadSince = old.deadSince
		}
		if t.oldestDead.IsZero() || p.deadSince.Before(t.oldestDead) {
			t.oldestDead = p.deadSince
		}
	}
	t.nodes[n.Name] = p
}

// reap forgets the peers dead since before cutoff and returns their names:
// under churn (every rollout brings new names) the table would otherwise
// grow for ever.
func (t *peerTable) reap(cutoff time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.oldestDead.IsZero() || !t.oldestDead.Before(cutoff) {
		return nil
	}
	var gone []string
	t.oldestDead = time.Time{}
	for name, p := range t.nodes {
		switch {
		case p.alive:
		case p.deadSince.Before(cutoff):
			delete(t.nodes, name)
			gone = append(gone, name)
		case t.oldestDead.IsZero() || p.deadSince.Before(t.oldestDead):
			t.oldestDead = p.deadSince
		}
	}
	return gone
}

// aliveAddrs returns the gossip address (host:port) of every peer gossip
// shows alive. memberlist's own Members() hands out pointers into its state,
// which it rewrites under its lock on every update, so reading their fields
// afterwards races (the race detector caught it).
func (t *peerTable) aliveAddrs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.nodes))
	for _, p := range t.nodes {
		if p.alive {
			out = append(out, p.node.Address())
		}
	}
	return out
}

// snapshot returns copies of every known peer.
func (t *peerTable) snapshot() []peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]peer, 0, len(t.nodes))
	for _, p := range t.nodes {
		out = append(out, p)
	}
	return out
}

// gatekeeper refuses members of another shape: a different partition count
// or cluster label would make two tables disagree.
type gatekeeper struct{ d *Daemon }

var (
	_ memberlist.AliveDelegate = (*gatekeeper)(nil)
	_ memberlist.MergeDelegate = (*gatekeeper)(nil)
)

func (g *gatekeeper) NotifyAlive(peer *memberlist.Node) error {
	return g.d.checkCompatible(peer)
}

func (g *gatekeeper) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if err := g.d.checkCompatible(p); err != nil {
			return err
		}
	}
	return nil
}

// checkCompatible logs and refuses a member whose settings differ.
// memberlist asks on every alive message it gossips, so the verdict on the
// metadata a member last showed is kept (compatibleCache).
func (d *Daemon) checkCompatible(peer *memberlist.Node) error {
	if peer.Name == d.gossipName() {
		return nil
	}
	err, known := d.compatible.lookup(peer.Name, peer.Meta)
	if !known {
		err = d.compatibleMeta(peer.Meta)
		d.compatible.store(peer.Name, peer.Meta, err)
	}
	if err != nil {
		d.refusedOnce(peer.Name, err)
		if errors.Is(err, ErrOlderSettings) {
			d.fail(fmt.Errorf("member %s at %s: %w", peer.Name, peer.Address(), err))
		}
		return fmt.Errorf("refusing member %s at %s: %w", peer.Name, peer.Address(), err)
	}
	return nil
}

// ErrOlderSettings: the cluster has a member of the version before lease
// bounds (docs/architecture.md, "Changing the lease settings") whose lease
// settings differ from this member's. Such a member counts every lease
// with its own settings, so the two may not take part in one cluster: this
// member stops, and a rolling update that changes the version and the
// settings at once stalls on it, with the old members still serving.
var ErrOlderSettings = errors.New("an older ringd in this cluster runs other --lease, --leader-lease, --load, --drift or --safety-margin " +
	"settings: upgrade every member with the settings unchanged first, then change them")

// compatibleMeta says why gossip metadata belongs to a member of another
// cluster shape, or nil.
func (d *Daemon) compatibleMeta(meta []byte) error {
	m, err := decodeMeta(meta)
	if err != nil {
		return err
	}
	return d.sameShape(&m)
}

// sameShape says why a member's metadata belongs to another cluster shape,
// or nil. A member that gossips no shape is of the version before it, which
// counts every lease with its own settings and refuses a member whose
// settings differ: it must have ours (see Config.Fingerprint).
func (d *Daemon) sameShape(m *nodeMeta) error {
	switch {
	case m.Partitions != d.cfg.Partitions:
		return fmt.Errorf("it has --partitions %d, this cluster has %d", m.Partitions, d.cfg.Partitions)
	case m.Shape == "" && m.Fingerprint != d.fingerprint:
		return fmt.Errorf("%w (its fingerprint %s, ours %s)", ErrOlderSettings, m.Fingerprint, d.fingerprint)
	case m.Shape != "" && m.Shape != d.shape:
		return fmt.Errorf("its cluster shape (--partitions, --cluster-label) differs: %s, ours %s", m.Shape, d.shape)
	}
	return nil
}

// compatibleCache keeps checkCompatible's verdict per gossip node and
// metadata: at 500 members, decoding the metadata of every alive message
// took a seventh of the cluster's CPU (issue 11, figure e).
type compatibleCache struct {
	mu       sync.Mutex
	verdicts map[string]metaVerdict
}

type metaVerdict struct {
	meta string
	err  error
}

// compatibleCacheSize bounds the cache; it starts over when full (nodes
// that left under old names are never looked up again).
const compatibleCacheSize = 4096

func (c *compatibleCache) lookup(node string, meta []byte) (err error, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.verdicts[node]
	if !ok || v.meta != string(meta) {
		return nil, false
	}
	return v.err, true
}

func (c *compatibleCache) store(node string, meta []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verdicts == nil || len(c.verdicts) >= compatibleCacheSize {
		c.verdicts = map[string]metaVerdict{}
	}
	c.verdicts[node] = metaVerdict{meta: string(meta), err: err}
}
