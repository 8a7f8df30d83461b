package daemon

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
)

// tickInterval is how often the loop ticks the core: half a heartbeat,
// within [5ms, 100ms]. Timers (heartbeats due, elections, a new leader's
// safe wait) fire up to one tick late. A quarter heartbeat made every idle
// member wake 20 times a second, most of its CPU beside gossip (figure g
// of docs/benchmarks.md); half costs a leader failover ~25 ms on average.
func (d *Daemon) tickInterval() time.Duration {
	t := d.cfg.HeartbeatInterval / 2
	return min(max(t, 5*time.Millisecond), 100*time.Millisecond)
}

// refreshGap is the least time between two refreshes of the members: 100 µs
// per member, from 5 ms to 100 ms. A refresh costs O(members); with the gap
// growing alike, a burst of gossip changes costs a bounded share of a core
// whatever the cluster's size, and a member's death or arrival reaches the
// core within 50 ms at 500 members, far inside gossip's own seconds.
func (d *Daemon) refreshGap() time.Duration {
	d.nodesMu.Lock()
	n := len(d.metas)
	d.nodesMu.Unlock()
	return min(max(time.Duration(n)*100*time.Microsecond, 5*time.Millisecond), 100*time.Millisecond)
}

// loop is the only goroutine that touches the core.
func (d *Daemon) loop() {
	defer close(d.loopDone)
	// Label the loop's CPU samples with the member (and those of the
	// goroutines it starts, such as the per-peer senders): in a profile of
	// many members in one process (tests, cmd/ringbench figure e) one
	// member can be told apart (go tool pprof -tagfocus member=NAME).
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("member", d.cfg.Name)))
	ticker := time.NewTicker(d.tickInterval())
	defer ticker.Stop()
	d.refreshMembers(time.Now())
	lastRefresh := time.Now()
	// refreshDue fires when a membership change waits for its refresh.
	refreshDue := time.NewTimer(0)
	if !refreshDue.Stop() {
		<-refreshDue.C
	}
	waiting := false
	for {
		select {
		case <-d.stop:
			return
		case env := <-d.urgent:
			d.step(env)
			d.stepQueued()
		case env := <-d.inbox:
			d.step(env)
			d.stepQueued()
		case <-d.memberWake:
			// A refresh reads every member, and while hundreds of
			// members join, gossip wakes the loop for each: refresh at
			// most once per refreshGap, the last change included.
			now := time.Now()
			if wait := d.refreshGap() - now.Sub(lastRefresh); wait > 0 {
				if !waiting {
					refreshDue.Reset(wait)
					waiting = true
				}
				continue
			}
			d.refreshMembers(now)
			lastRefresh = now
		case <-refreshDue.C:
			waiting = false
			now := time.Now()
			d.refreshMembers(now)
			lastRefresh = now
		case <-d.ackWake:
			d.core.AppAck(time.Now(), d.ackIndex.Load())
		case cmd := <-d.cmds:
			cmd.reply <- cmd.fn(time.Now(), d.core)
		case now := <-ticker.C:
			_ = now
			now = time.Now() // the ticker's value has no monotonic guarantee across pauses
			if gone := d.peers.reap(now.Add(-d.cfg.DeadMemberTimeout)); len(gone) > 0 {
				for _, name := range gone {
					if d.node(memberName(name)) == nil {
						d.sender.forget(memberName(name))
					}
				}
				d.log.Debug("forgot members dead for --dead-member-timeout", "members", gone)
				d.refreshMembers(now)
			}
			d.core.SetTermFloor(termFloor(wallNow()))
			d.core.Tick(now)
		}
		d.handleReady(time.Now())
	}
}

// stepQueued steps what else has arrived, the voters' election messages
// first, before the loop asks the core what to do: the leader of hundreds
// of members gets hundreds of acknowledgements per heartbeat, and one
// Ready and one published view per batch instead of per message keeps it
// ahead of them (issue 11, figure e). Several inputs before a Ready are
// safe: the state persisted then is the newest, and it only moves forward
// (terms, votes within a term, newer configurations), so it covers the
// messages of every input of the batch.
func (d *Daemon) stepQueued() {
	for range maxBatch - 1 {
		env := d.nextQueued()
		if env == nil {
			return
		}
		d.step(env)
	}
}

// nextQueued takes the next peer message, a voter's election message
// (urgent) before any other; nil when none waits.
func (d *Daemon) nextQueued() *core.Envelope {
	select {
	case env := <-d.urgent:
		return env
	default:
	}
	select {
	case env := <-d.inbox:
		return env
	default:
		return nil
	}
}

// maxBatch bounds how many peer messages the loop steps before it handles
// the core's Ready, so that timers and commands still get their turn.
const maxBatch = 64

// step feeds one decoded peer message (see delegate.NotifyMsg) to the core.
func (d *Daemon) step(env *core.Envelope) {
	if m := env.Election; m != nil && d.log.IsTrace() && m.Type != election.MsgHeartbeat && m.Type != election.MsgHeartbeatAck {
		d.log.Named(LogElection).Trace("recv", "type", m.Type.String(), "from", env.From, "term", m.Term, "granted", m.Granted)
	}
	d.core.Step(time.Now(), *env)
}

// handleReady does what the core asks after an input, in the order its
// contract (core.Ready) gives: persist, send, record, announce, publish,
// advance.
func (d *Daemon) handleReady(now time.Time) {
	r := d.core.Ready()
	stored := true
	if r.Durable != nil && d.cfg.DataDir != "" {
		if err := saveState(d.cfg.DataDir, *r.Durable); err != nil {
			// Sending a vote or an acknowledgement we could not persist
			// could break single votes or configurations after a restart;
			// drop this round's messages instead. Without Advance the core
			// offers the state again next round.
			d.log.Error("cannot persist state to --data-dir; not sending", "error", err)
			stored = false
		}
	}
	if stored {
		d.send(r.Messages)
	}
	d.recordEvents(r.Events)
	if r.HasTable {
		d.announceTable()
	}
	d.publish(now)
	if stored {
		d.core.Advance(r)
	}
}

// refreshMembers gives the core the gossip view (our own copies of
// memberlist's nodes, see peerTable). Several gossip nodes may stand for one
// member (its old process not yet declared dead, and its new one; see
// gossipNameSep): the member is its newest live process, or its newest
// process when none lives.
func (d *Daemon) refreshMembers(now time.Time) {
	type candidate struct {
		node  *memberlist.Node
		meta  *nodeMeta
		alive bool
	}
	peers := d.peers.snapshot()
	best := make(map[string]candidate, len(peers))
	self := d.gossipName()
	for i := range peers {
		p := &peers[i]
		n := &p.node
		if n.Name == self {
			continue
		}
		m, err := &p.meta, p.metaErr
		if err != nil {
			d.log.Warn("ignoring member without usable metadata", "member", n.Name, "error", err)
			continue
		}
		if d.sameShape(m) != nil {
			continue
		}
		name := memberName(n.Name)
		if name == d.cfg.Name {
			if p.alive && m.Incarnation > d.inc {
				d.duplicateOnce(*n)
			}
			continue
		}
		cur, seen := best[name]
		if !seen || (p.alive && !cur.alive) || (p.alive == cur.alive && m.Incarnation > cur.meta.Incarnation) {
			best[name] = candidate{node: n, meta: m, alive: p.alive}
		}
	}
	nodes := make(map[string]*memberlist.Node, len(best))
	metas := make(map[string]nodeMeta, len(best))
	infos := make([]core.MemberInfo, 0, len(best))
	for name, c := range best {
		if c.alive {
			nodes[name] = c.node
		}
		metas[name] = *c.meta
		infos = append(infos, core.MemberInfo{Name: name, Incarnation: c.meta.Incarnation, Identity: c.meta.Identity,
			Priority: c.meta.Priority, Alive: c.alive, Draining: c.meta.Draining, Leaving: c.meta.Leaving,
			HasTable: c.meta.HasTable, Weight: c.meta.Weight, Zone: c.meta.Zone,
			Restarting: c.meta.RejoinGraceMs > 0, RejoinGrace: time.Duration(c.meta.RejoinGraceMs) * time.Millisecond})
	}
	d.nodesMu.Lock()
	d.nodes, d.metas = nodes, metas
	d.nodesMu.Unlock()
	d.core.SetMembers(now, infos)
}

// peerVersion is the protocol version to write to member name: the newest
// it gossips that it reads.
func (d *Daemon) peerVersion(name string) byte {
	d.nodesMu.Lock()
	defer d.nodesMu.Unlock()
	return peerVersion(d.metas[name].Version)
}

func (d *Daemon) node(name string) *memberlist.Node {
	d.nodesMu.Lock()
	defer d.nodesMu.Unlock()
	return d.nodes[name]
}

// send sends what the core wants sent. Small messages go best-effort over
// UDP; tables, reports and anything large go over the reliable stream channel
// through the per-peer sender, so a slow TCP dial never blocks the loop.
func (d *Daemon) send(msgs []core.Outgoing) {
	var enc tableEncoder
	for _, out := range msgs {
		if m := out.Env.Election; m != nil && d.log.IsTrace() && m.Type != election.MsgHeartbeat && m.Type != election.MsgHeartbeatAck {
			d.log.Named(LogElection).Trace("send", "type", m.Type.String(), "to", out.To, "term", m.Term, "granted", m.Granted)
		}
		b, err := enc.encode(out.Env, d.peerVersion(out.To))
		if err != nil {
			d.log.Error("cannot encode peer message", "error", err)
			continue
		}
		if out.Reliable || len(b) > bestEffortLimit {
			m := outMsg{b: b}
			if out.Env.Table != nil {
				m.table = out.Env.Table.ID
			}
			d.sender.enqueue(out.To, m)
			continue
		}
		n := d.node(out.To)
		if n == nil {
			continue
		}
		if err := d.ml.SendBestEffort(n, b); err != nil {
			d.metrics.sendFailures.WithLabelValues("udp").Inc()
		}
	}
}

// sendReliable sends b to member to over memberlist's stream channel; a
// member not known now is skipped.
func (d *Daemon) sendReliable(to string, b []byte) error {
	n := d.node(to)
	if n == nil {
		return nil
	}
	err := d.ml.SendReliable(n, b)
	if err != nil {
		d.log.Named(LogPeer).Debug("reliable send failed", "to", to, "error", err)
	}
	return err
}

// bestEffortLimit keeps UDP messages within memberlist's packet size.
const bestEffortLimit = 1200

// rejoinLoop keeps trying the seeds while some of them are not members
// (memberlist does not re-join by itself after a partition). Seeds are
// resolved again on every try, so DNS names follow pod restarts.
func (d *Daemon) rejoinLoop() {
	if len(d.cfg.Join) == 0 {
		return
	}
	first := true
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if first || d.isolated() {
			n, err := d.joinOneSeed(resolveSeeds(d.cfg.Join))
			switch {
			case err != nil && n == 0:
				d.log.Warn("cannot reach any seed yet; retrying", "join", d.cfg.Join, "error", err, "retry", d.cfg.RejoinInterval)
			case first:
				d.log.Info("joined cluster", "contacted", n)
				first = false
			default:
				d.log.Info("re-joined seeds", "contacted", n)
			}
		}
		t.Reset(d.cfg.RejoinInterval)
	}
}

// joinOneSeed joins gossip through the first seed that answers, trying
// first, in random order, the seeds gossip does not show alive (after a
// partition, those are on the other side). One is enough: the join
// exchanges the whole gossip state with it, and the rest spreads by gossip.
// memberlist's Join with every seed made each seed exchange its state with
// every joining member and every member that felt isolated: at a few
// hundred members the seeds spent their time on it, dropped heartbeats, and
// the leader among them lost its lease (issue 11, figure e). A seed that is
// a DNS name stands for all its addresses, and memberlist contacts each.
func (d *Daemon) joinOneSeed(seeds []string) (int, error) {
	seen := map[string]bool{}
	for _, addr := range d.peers.aliveAddrs() {
		seen[addr] = true
	}
	self := d.gossipAddr
	seeds = slices.DeleteFunc(slices.Clone(seeds), func(s string) bool { return s == self })
	order := rand.Perm(len(seeds))
	slices.SortStableFunc(order, func(a, b int) int { return cmpBool(seen[seeds[a]], seen[seeds[b]]) })
	var errs []error
	for _, i := range order {
		n, err := d.ml.Join([]string{seeds[i]})
		if n > 0 {
			return n, nil
		}
		errs = append(errs, err)
	}
	return 0, errors.Join(errs...)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// isolated reports whether a member of the configuration is missing from
// gossip, or we see nobody at all, or, before there is a configuration, a
// seed is missing from gossip. Members that start together and each join
// through one seed can form groups that never hear of each other (A and B
// joined each other, C, D and E one another): with no configuration yet
// nothing else would ever bring them together, and --bootstrap-expect would
// wait for ever.
func (d *Daemon) isolated() bool {
	snap := d.snap.Load()
	if d.ml.NumMembers() <= 1 {
		return true
	}
	if snap == nil {
		return false
	}
	configured := false
	for _, m := range snap.view.Members {
		if m.InConfig {
			configured = true
			if !m.Alive {
				return true
			}
		}
	}
	if configured {
		return false
	}
	return seedUnseen(resolveSeeds(d.cfg.Join), d.peers.aliveAddrs(), d.gossipAddr, d.gossipPort)
}

// seedUnseen reports whether one of seeds (host:port, or a host, which
// memberlist joins on port) is none of the addresses seen in gossip and not
// self. A seed given by name never matches and so counts as unseen.
func seedUnseen(seeds, seen []string, self string, port int) bool {
	for _, seed := range seeds {
		if _, _, err := net.SplitHostPort(seed); err != nil {
			seed = net.JoinHostPort(strings.Trim(seed, "[]"), strconv.Itoa(port))
		}
		if seed != self && !slices.Contains(seen, seed) {
			return true
		}
	}
	return false
}

// Shutdown leaves gracefully: drain (move partitions away through the normal
// handoff), hand over leadership, leave gossip, stop the loop, then the HTTP
// API. It is bounded by ctx and idempotent.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.shutdownOnce.Do(func() { d.shutdownErr = d.shutdown(ctx) })
	return d.shutdownErr
}

func (d *Daemon) shutdown(ctx context.Context) error {
	if d.cfg.ShutdownMode == ShutdownRestart {
		d.log.Info("shutting down for a restart: releasing partitions, kept for this member", "rejoin-grace", d.cfg.RejoinGrace)
	} else {
		d.log.Info("shutting down: draining partitions")
	}
	d.drain(ctx)
	leaveTimeout := time.Second
	if dl, ok := ctx.Deadline(); ok {
		leaveTimeout = max(min(time.Until(dl), leaveTimeout), 100*time.Millisecond)
	}
	if err := d.ml.Leave(leaveTimeout); err != nil {
		d.log.Warn("leaving gossip", "error", err)
	}
	close(d.stop)
	<-d.loopDone
	// Drop what is still queued, and shut memberlist down before waiting
	// for the senders: a reliable send to a stalled peer would otherwise
	// hold the shutdown past --shutdown-timeout.
	d.sender.stop()
	_ = d.ml.Shutdown()
	d.sender.wait()
	d.background.Wait()
	hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.http.Shutdown(hctx)
	d.log.Info("ringd stopped")
	return err
}

// drain marks this member draining and waits, bounded by ctx, until it is
// done leaving: it holds nothing, it is no longer a voter, and it no longer
// leads. The leader's core does the work (moves the partitions away,
// replaces the voter, hands leadership over once a caught-up voter can take
// it); each condition is waived when no other live member could take over.
func (d *Daemon) drain(ctx context.Context) {
	if err := d.setLeaving(ctx); err != nil {
		return
	}
	last := ""
	for {
		snap := d.snap.Load()
		pending := snap.view.LeavePending()
		if pending == "" {
			d.log.Info("drained: leaving")
			return
		}
		if pending != last {
			d.log.Info("draining: waiting for "+pending, "held", len(snap.view.Holdings))
			last = pending
		}
		select {
		case <-ctx.Done():
			d.log.Warn("shutdown timeout: leaving before the drain finished", "waiting for", pending,
				"held", len(snap.view.Holdings))
			return
		case <-snap.changed:
		case <-time.After(d.cfg.HeartbeatInterval):
		}
	}
}

// Why a member drains: an operator, or its application stopped polling
// (--app-liveness-timeout). It drains while either holds; each is lifted
// on its own.
const (
	drainAdmin       = "admin"
	drainAppLiveness = "app-liveness"
)

// setDraining sets or lifts one reason to drain and applies the result to
// the core and our gossiped metadata (a drain keeps the member's vote).
// Only an operator's drain is refused when no other member could take the
// partitions: an application that stopped polling cannot work on them
// anyway. The reasons live in the loop (the closure), so a call that gave
// up waiting cannot race a later one; readers see d.drainShown.
func (d *Daemon) setDraining(ctx context.Context, reason string, on bool) error {
	if err := d.do(ctx, func(now time.Time, c *core.Core) error {
		if c.Leaving() || c.Restarting() {
			return errShuttingDown // a leave cannot be undone
		}
		if on && reason == drainAdmin && !c.Draining() && !d.othersCanTakeOver() {
			return errOnlyMember
		}
		if on {
			d.drainReasons[reason] = true
		} else {
			delete(d.drainReasons, reason)
		}
		c.SetDraining(len(d.drainReasons) > 0)
		d.drainShown.Store(drainShownOf(d.drainReasons))
		return nil
	}); err != nil {
		return err
	}
	// The metadata follows the newest state, whatever order concurrent
	// calls finish in.
	d.drainMu.Lock()
	defer d.drainMu.Unlock()
	draining := *d.drainShown.Load() != ""
	d.setMetaFlags(func(s *metaFlags) { s.draining = draining })
	if err := d.setMeta(); err != nil {
		return err
	}
	return d.ml.UpdateNode(time.Second)
}

// drainShownOf is the reason GET /partitions/mine shows for reasons.
func drainShownOf(reasons map[string]bool) *string {
	r := ""
	switch {
	case reasons[drainAdmin]:
		r = drainAdmin
	case reasons[drainAppLiveness]:
		r = drainAppLiveness
	}
	return &r
}

// drainReason says why this member drains ("" while it does not): for
// GET /partitions/mine.
func (d *Daemon) drainReason() string {
	if p := d.drainShown.Load(); p != nil {
		return *p
	}
	return ""
}

// errOnlyMember refuses a drain nobody could take the partitions from.
var errOnlyMember = errors.New("no other member can take this member's partitions (every other admitted member is dead or draining): " +
	"drained, they would come back to it after the release timeout; add or undrain a member first")

// othersCanTakeOver reports whether the newest view shows another member
// admitted to the table, alive and not draining.
func (d *Daemon) othersCanTakeOver() bool {
	snap := d.snap.Load()
	if snap == nil {
		return false
	}
	for _, m := range snap.view.Members {
		if m.Name != d.cfg.Name && m.InConfig && m.Alive && !m.Draining {
			return true
		}
	}
	return false
}

// setLeaving starts a leave for good (shutdown): the member drains and the
// leader takes its vote away. With --shutdown=restart it is a planned
// restart instead: the member drains, the leader keeps its partitions for
// it, and it keeps its vote.
func (d *Daemon) setLeaving(ctx context.Context) error {
	restart := d.cfg.ShutdownMode == ShutdownRestart
	if err := d.do(ctx, func(now time.Time, c *core.Core) error {
		shutdown := "shutdown"
		d.drainShown.Store(&shutdown) // before the leaving view is published
		if restart {
			c.SetRestarting(d.cfg.RejoinGrace)
		} else {
			c.SetLeaving()
		}
		return nil
	}); err != nil {
		return err
	}
	d.setMetaFlags(func(s *metaFlags) { s.draining, s.leaving, s.restarting = true, !restart, restart })
	if err := d.setMeta(); err != nil {
		return err
	}
	return d.ml.UpdateNode(time.Second)
}

// metaFlags are the flags our gossip metadata carries.
type metaFlags = struct{ draining, leaving, hasTable, restarting bool }

// setMetaFlags changes the flags setMeta encodes.
func (d *Daemon) setMetaFlags(change func(*metaFlags)) {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	change(&d.metaState)
}

// announceTable gossips, once, that this member belongs to a cluster, so
// that members without a table never bootstrap beside it (core.Ready.HasTable).
// The broadcast runs outside the loop: UpdateNode waits for it.
func (d *Daemon) announceTable() {
	d.metaMu.Lock()
	already := d.metaState.hasTable
	d.metaMu.Unlock()
	if already {
		return
	}
	d.setMetaFlags(func(s *metaFlags) { s.hasTable = true })
	if err := d.setMeta(); err != nil {
		d.log.Error("cannot update gossip metadata", "error", err)
		return
	}
	if d.ml != nil {
		d.background.Go(func() { _ = d.ml.UpdateNode(time.Second) })
	}
}
