package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/secret"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
	"github.com/ringd/ringd/restapi"
)

// snapshot is the newest view of the core for readers outside the loop, with
// a channel that is closed when a newer snapshot has a different Index.
type snapshot struct {
	view    core.View
	changed chan struct{}
	// clusterIndex grows when the table, leader or membership changes
	// (sameCluster); clusterChanged is closed then (long-polls on GET
	// /partitions).
	clusterIndex   uint64
	clusterChanged chan struct{}
	// mine is the view for GET /partitions/mine, made at its first read
	// (most snapshots are never read).
	mine atomic.Pointer[restapi.MineDeadlines]
}

// publish stores a fresh snapshot, wakes long-polls when the index moved,
// updates metrics and logs transitions. It runs after every input of the
// loop, so what stays the same (the channels, mostly) is carried over
// rather than made anew.
func (d *Daemon) publish(now time.Time) {
	v := d.core.View(now)
	prev := d.snap.Load()
	next := &snapshot{view: v, clusterIndex: 1}
	if prev != nil {
		next.changed, next.clusterChanged, next.clusterIndex = prev.changed, prev.clusterChanged, prev.clusterIndex
		if prev.view.Index != v.Index {
			next.changed = make(chan struct{})
		}
		if !sameCluster(prev.view, v) {
			next.clusterChanged = make(chan struct{})
			next.clusterIndex++
		}
	} else {
		next.changed, next.clusterChanged = make(chan struct{}), make(chan struct{})
	}
	d.snap.Store(next)
	if prev == nil || !slices.Equal(prev.view.Table.Voters, v.Table.Voters) || !slices.Equal(prev.view.Table.PrevVoters, v.Table.PrevVoters) {
		voters := voterSet(v.Table)
		d.voterNames.Store(&voters)
	}
	if prev != nil && next.changed != prev.changed {
		close(prev.changed)
	}
	if prev != nil && next.clusterChanged != prev.clusterChanged {
		close(prev.clusterChanged)
	}
	d.observe(now, prev, v)
	if d.tableApplied != nil && len(v.Table.Partitions) > 0 && (prev == nil || prev.view.Table.ID != v.Table.ID) {
		d.tableApplied(v.Table, now)
	}
}

// voterSet returns the member names of t's voters, those of a
// configuration change in flight included.
func voterSet(t partitions.Table) map[string]bool {
	voters := map[string]bool{}
	for _, ev := range slices.Concat(t.Voters, t.PrevVoters) {
		voters[core.MemberOf(ev)] = true
	}
	return voters
}

func (s *source) Keys(ctx context.Context) (api.Keys, error) {
	k, err := s.d.keys()
	if errors.Is(err, errNoEncryption) {
		return k, fmt.Errorf("%w: %v", restapi.ErrConflict, err)
	}
	return k, err
}

func (s *source) ForceVoters(ctx context.Context, names []string) error {
	s.d.adminAsked(ctx, fmt.Sprintf("force the voters to %v", names))
	err := s.d.do(ctx, func(now time.Time, c *core.Core) error { return c.ForceVoters(now, names) })
	switch {
	case errors.Is(err, core.ErrForceLeader), errors.Is(err, core.ErrForceNotAlive):
		return fmt.Errorf("%w: %v", restapi.ErrConflict, err)
	case errors.Is(err, core.ErrForceEmpty):
		return fmt.Errorf("%w: %v", restapi.ErrBadInput, err)
	case errors.Is(err, errShuttingDown):
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("forcing the voters: %w", err)
	}
	s.d.log.Warn("voters forced by an operator: the members named elect a leader among themselves", "voters", names, "by", restapi.Requester(ctx))
	s.d.adminDone(ctx, fmt.Sprintf("voters forced to %v", names), "")
	return nil
}

func (s *source) KeyOp(ctx context.Context, op, text string) error {
	key, err := secret.GossipKey(text)
	if err != nil {
		return fmt.Errorf("%w: %v", restapi.ErrBadInput, err)
	}
	s.d.adminAsked(ctx, op+" gossip key "+keyFingerprint(key))
	err = s.d.keyOp(ctx, op, key)
	switch {
	case errors.Is(err, errNoEncryption), errors.Is(err, errRemovePrimary):
		return fmt.Errorf("%w: %v", restapi.ErrConflict, err)
	case errors.Is(err, errKeyUnknown):
		return fmt.Errorf("%w: %v", restapi.ErrNotFound, err)
	case errors.Is(err, errNotKept):
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	}
	return err
}

// adminAsked logs an operator's action as it arrives, with who asked
// (restapi.Requester): at 3 a.m. the first question about a drained member
// is who drained it.
func (d *Daemon) adminAsked(ctx context.Context, what string) {
	d.log.Info("admin action asked", "action", what, "by", restapi.Requester(ctx))
}

// adminDone lists a done action in /changes.
func (d *Daemon) adminDone(ctx context.Context, what, to string) {
	switch {
	case to != "":
		d.changes.add(time.Now(), api.ChangeAdmin, "%s: %s to %s asked by %s", d.cfg.Name, what, to, restapi.Requester(ctx))
	default:
		d.changes.add(time.Now(), api.ChangeAdmin, "%s: %s asked by %s", d.cfg.Name, what, restapi.Requester(ctx))
	}
}

// unassigned counts the partitions t gives to nobody: all p of them before
// the first table.
func unassigned(t partitions.Table, p int) int {
	if len(t.Partitions) == 0 {
		return p
	}
	n := 0
	for _, e := range t.Partitions {
		if e.Owner == "" {
			n++
		}
	}
	return n
}

// isVoter reports whether member name votes in the newest view's
// configuration.
func (d *Daemon) isVoter(name string) bool {
	v := d.voterNames.Load()
	return v != nil && (*v)[name]
}

// observe updates metrics and logs what an operator wants to know.
func (d *Daemon) observe(now time.Time, prev *snapshot, v core.View) {
	m := d.metrics
	leading := v.Role == election.Leader
	m.isLeader.Set(b2f(leading))
	m.term.Set(float64(v.Term))
	m.tableVersion.Set(float64(v.Table.ID.Version))
	m.owned.Set(float64(len(v.Holdings)))
	if prev == nil || prev.view.Table.ID != v.Table.ID {
		m.unassigned.Set(float64(unassigned(v.Table, d.cfg.Partitions)))
		m.reserved.Set(float64(len(v.Table.Reserved)))
		m.standbyFor.Set(float64(len(standbyOf(v.Table, d.cfg.Name))))
	}
	valid := now.Before(v.LeaseUntil)
	m.leaseValid.Set(b2f(valid))
	m.votersForced.Set(b2f(v.ForcedVoters != nil))
	m.frozen.Set(b2f(v.Table.Frozen))
	// The member list is shared by the views until it changes: the same
	// slice needs no comparing (hundreds of members, a view per input).
	sameMembers := prev != nil && (sameSlice(prev.view.Members, v.Members) || slices.Equal(prev.view.Members, v.Members))
	if !sameMembers {
		d.countMembers(v)
	}
	if prev == nil {
		return
	}
	p := prev.view
	wall := time.Now()
	if e := d.cfg.BootstrapExpect; e > 0 && len(v.Table.Members) >= 2*e && len(p.Table.Members) < 2*e {
		// Two groups of --bootstrap-expect members could now bootstrap
		// apart after a restart of every member without state.
		d.log.Warn("the cluster has grown to twice --bootstrap-expect: raise --bootstrap-expect above half the largest cluster size so that a restart without state cannot form two clusters",
			"members", len(v.Table.Members), "bootstrap_expect", e)
	}
	if p.Role == election.Leader && !leading {
		// Why a leader stops matters at 3 a.m.: a newer term means another
		// member was elected; within its own term a leader stops when no
		// majority acknowledged a heartbeat within --leader-lease (a slow
		// or lossy network, an overloaded machine) or when it hands over.
		if v.Term > p.Term {
			d.log.Named(LogElection).Info("stopped leading: a newer term began (another member was elected, or this one handed over)", "term", p.Term, "new_term", v.Term)
		} else {
			d.log.Named(LogElection).Warn("stopped leading: no majority acknowledged a heartbeat within --leader-lease, or it stepped down", "term", p.Term)
		}
	}
	if p.Leader != v.Leader && v.Leader != "" {
		m.leaderChanges.Inc()
		d.log.Named(LogElection).Info("leader", "leader", v.Leader, "term", v.Term, "self", leading)
		d.changes.add(wall, api.ChangeCluster, "leader is %s (term %d)", v.Leader, v.Term)
	}
	if len(p.Holdings) > 0 && len(v.Holdings) == 0 && !valid {
		m.leaseExpiries.Inc()
		d.log.Named(LogTable).Warn("lease ran out: holding nothing until renewed", "had", len(p.Holdings))
		d.changes.add(wall, api.ChangeCluster, "%s's lease ran out: it holds nothing until renewed", v.Node)
	}
	if !sameMembers {
		was := map[string]bool{}
		for _, mem := range p.Members {
			was[mem.Name] = mem.Alive
		}
		for _, mem := range v.Members {
			if alive, ok := was[mem.Name]; (!ok || !alive) && mem.Alive && mem.Name != v.Node {
				d.changes.add(wall, api.ChangeCluster, "%s is alive", mem.Name)
			} else if ok && alive && !mem.Alive {
				d.changes.add(wall, api.ChangeCluster, "%s is gone", mem.Name)
			}
		}
	}
	if len(p.Holdings) != len(v.Holdings) {
		d.log.Named(LogTable).Debug("holdings changed", "owned", len(v.Holdings), "index", v.Index)
	}
}

// countMembers sets the membership gauges from a view's members.
func (d *Daemon) countMembers(v core.View) {
	m := d.metrics
	alive, dead, draining, voters := 0, 0, 0, 0
	for _, mem := range v.Members {
		if mem.Voter {
			voters++
		}
		if mem.Name == v.Node {
			m.voter.Set(b2f(mem.Voter))
		}
		switch {
		case !mem.Alive:
			dead++
		case mem.Draining:
			draining++
		default:
			alive++
		}
	}
	m.membersAlive.Set(float64(alive))
	m.membersDead.Set(float64(dead))
	m.membersDraining.Set(float64(draining))
	m.voters.Set(float64(voters))
}

// sameCluster reports whether GET /partitions and GET /cluster would show
// the same of both views (their long-polls wake when it changes): the
// table's id, the leader and term, and each member's name and flags.
func sameCluster(a, b core.View) bool {
	return a.Table.ID == b.Table.ID && a.Leader == b.Leader && a.Term == b.Term &&
		(sameSlice(a.Members, b.Members) || slices.EqualFunc(a.Members, b.Members, func(x, y core.MemberView) bool {
			return x.Name == y.Name && x.Alive == y.Alive && x.Draining == y.Draining &&
				x.InConfig == y.InConfig && x.Voter == y.Voter
		}))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// source serves the REST API from snapshots; actions go through the loop.
type source struct{ d *Daemon }

var _ restapi.Source = (*source)(nil)
var _ restapi.Keyring = (*source)(nil)
var _ restapi.Recovery = (*source)(nil)

func (s *source) Mine() (api.Mine, <-chan struct{}) {
	m := s.MineDeadlines()
	return m.At(time.Now()), m.Changed
}

var _ restapi.DeadlineSource = (*source)(nil)

// MineDeadlines is the newest snapshot's view with its deadlines; the
// restapi checks them against its clock at every read.
func (s *source) MineDeadlines() *restapi.MineDeadlines {
	snap := s.d.snap.Load()
	if m := snap.mine.Load(); m != nil {
		return m
	}
	v := snap.view
	reason := s.d.drainReason()
	m := &restapi.MineDeadlines{
		Mine: api.Mine{Node: v.Node, Incarnation: strconv.FormatUint(v.Incarnation, 10), Term: v.Term,
			Index: v.Index, Leader: v.Leader, Draining: reason != "", DrainReason: reason,
			Partitions: make([]api.Partition, 0, len(v.Holdings))},
		LeaseUntil: v.LeaseUntil,
		Until:      make([]time.Time, 0, len(v.Holdings)),
		Changed:    snap.changed,
	}
	for _, h := range v.Holdings {
		m.Mine.Partitions = append(m.Mine.Partitions, api.Partition{ID: h.ID, Token: h.Token, State: string(h.State)})
		m.Until = append(m.Until, h.Until)
	}
	m.Mine.Standby = standbyOf(v.Table, v.Node)
	// Two first readers may both build one; the first stored is everyone's.
	snap.mine.CompareAndSwap(nil, m)
	return snap.mine.Load()
}

func (s *source) Cluster() api.Cluster {
	v := s.d.snap.Load().view
	owned := map[string]int{}
	for _, e := range v.Table.Partitions {
		if e.Owner != "" && e.State != partitions.Unassigned {
			owned[e.Owner]++
		}
	}
	s.d.nodesMu.Lock()
	metas := s.d.metas
	s.d.nodesMu.Unlock()
	out := api.Cluster{Node: v.Node, Leader: v.Leader, Term: v.Term, TableVersion: v.Table.ID.Version,
		Partitions: s.d.cfg.Partitions, Members: []api.Member{}, ForcedVoters: v.ForcedVoters}
	for i, m := range v.Members {
		meta := metas[m.Name]
		if m.Name == v.Node {
			cfg := s.d.cfg
			meta.HTTPAddr, meta.LeaseMs, meta.LeaderLeaseMs, meta.Load, meta.Weight = s.d.HTTPAddr(), cfg.Lease.Milliseconds(), cfg.LeaderLease.Milliseconds(), cfg.Load, cfg.Weight
			meta.Zone = cfg.Zone
		}
		_, kept := v.Table.Restarting[m.Name]
		out.Members = append(out.Members, api.Member{Name: m.Name, Rank: i, Priority: m.Priority,
			Alive: m.Alive, Draining: m.Draining, Leader: m.Name == v.Leader, HTTPAddr: meta.HTTPAddr,
			InConfig: m.InConfig, Voter: m.Voter, Owned: owned[m.Name],
			LeaseMs: meta.LeaseMs, LeaderLeaseMs: meta.LeaderLeaseMs, Load: meta.Load, Weight: meta.Weight,
			Zone: meta.Zone, Restarting: kept})
	}
	return out
}

var _ restapi.Acknowledger = (*source)(nil)

// AckIndex records that the app saw views up to index. An index above the
// current one comes from before a restart of this member and acknowledges
// nothing.
func (s *source) AckIndex(index uint64) {
	if index > s.d.snap.Load().view.Index {
		return
	}
	for {
		cur := s.d.ackIndex.Load()
		if index <= cur || s.d.ackIndex.CompareAndSwap(cur, index) {
			break
		}
	}
	select {
	case s.d.ackWake <- struct{}{}:
	default:
	}
}

var (
	_ restapi.ClusterSource = (*source)(nil)
	_ restapi.Actions       = (*source)(nil)
)

// httpAddrOf returns a member's API address from its gossip metadata.
func (s *source) httpAddrOf(name string) string {
	if name == s.d.cfg.Name {
		return s.d.HTTPAddr()
	}
	s.d.nodesMu.Lock()
	defer s.d.nodesMu.Unlock()
	return s.d.metas[name].HTTPAddr
}

func (s *source) entry(v core.View, id int) api.Entry {
	out := api.Entry{ID: id, State: "unassigned"}
	if id < 0 || id >= len(v.Table.Partitions) {
		return out
	}
	e := v.Table.Partitions[id]
	if e.Owner != "" {
		out.Owner, out.Token, out.State = e.Owner, e.Token, string(e.State)
		out.OwnerHTTPAddr = s.httpAddrOf(e.Owner)
	}
	out.PinnedTo = v.Table.Pins[id]
	out.ReservedFor = v.Table.Reserved[id]
	if len(v.Table.Standbys) == len(v.Table.Partitions) {
		out.Standbys = slices.Clone(v.Table.Standbys[id])
	}
	return out
}

// standbyOf lists the partitions member stands by for in table t, nil for
// none.
func standbyOf(t partitions.Table, member string) []api.Standby {
	if len(t.Standbys) != len(t.Partitions) {
		return nil
	}
	var out []api.Standby
	for p, list := range t.Standbys {
		if rank := slices.Index(list, member); rank >= 0 {
			out = append(out, api.Standby{ID: p, Rank: rank, Owner: t.Partitions[p].Owner})
		}
	}
	return out
}

func (s *source) Table() (api.Table, <-chan struct{}) {
	snap := s.d.snap.Load()
	v := snap.view
	out := api.Table{Node: v.Node, Index: snap.clusterIndex, Term: v.Term, TableVersion: v.Table.ID.Version,
		Leader: v.Leader, Members: append([]string{}, v.Table.Members...),
		Voters: append([]string{}, v.Table.Voters...), PrevVoters: slices.Clone(v.Table.PrevVoters),
		Frozen: v.Table.Frozen, Excluded: slices.Clone(v.Table.Excluded), Partitions: []api.Entry{}}
	for id := range v.Table.Partitions {
		out.Partitions = append(out.Partitions, s.entry(v, id))
	}
	return out, snap.clusterChanged
}

func (s *source) Locate(key string) api.Locate {
	v := s.d.snap.Load().view
	p := rebalance.PartitionOf([]byte(key), s.d.cfg.Partitions)
	return api.Locate{Key: key, Partition: p, Entry: s.entry(v, p)}
}

// Ready is what GET /readyz says: ready once this process of the member is
// admitted and useful to the cluster (a voter under its current identity,
// or holding partitions), until it starts shutting down. Its name in the
// table is not enough: a pod re-created under its old name finds it there
// at once, and a StatefulSet that took that for ready would restart the
// next pod before this one had its vote back, down to a single voter.
// Readiness does not follow the lease or the leader either: during an
// election every member's lease runs down at once, and a probe that
// followed it would take every pod of the application out of its Service
// together.
func (s *source) Ready() (bool, string) {
	v := s.d.snap.Load().view
	s.d.metaMu.Lock()
	leaving := s.d.metaState.leaving
	s.d.metaMu.Unlock()
	voters, prev := v.Table.VoterSet()
	self := core.ElectionName(v.Node, s.d.identity)
	switch {
	case leaving:
		return false, "shutting down: handing the partitions over before leaving"
	case len(v.Table.Partitions) == 0:
		return false, "no table yet: waiting to join a cluster that has a leader"
	case !slices.Contains(v.Table.Members, v.Node):
		return false, "not admitted yet: the leader admits a new member after --settle"
	case !slices.Contains(voters, self) && !slices.Contains(prev, self) && len(v.Holdings) == 0:
		return false, "admitted, but neither a voter under this process's identity nor holding partitions yet"
	}
	return true, ""
}

func (s *source) Changes() []api.Change { return s.d.changes.list() }

func (s *source) Release(ctx context.Context, id int, token uint64) error {
	if id < 0 || id >= s.d.cfg.Partitions {
		return fmt.Errorf("%w: partition %d (there are %d, 0..%d)", restapi.ErrNotFound, id, s.d.cfg.Partitions, s.d.cfg.Partitions-1)
	}
	err := s.d.do(ctx, func(now time.Time, c *core.Core) error { return c.Release(now, id, token) })
	switch {
	case errors.Is(err, partitions.ErrNotHeld):
		if token != 0 {
			return fmt.Errorf("%w: partition %d is not held by this member with token %d", restapi.ErrConflict, id, token)
		}
		return fmt.Errorf("%w: partition %d is not held by this member", restapi.ErrConflict, id)
	case errors.Is(err, partitions.ErrBadTransition):
		return fmt.Errorf("%w: partition %d is owned, not releasing: only the leader moves partitions", restapi.ErrConflict, id)
	case errors.Is(err, errShuttingDown):
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("releasing partition %d: %w", id, err)
	}
	return nil
}

func (s *source) Drain(ctx context.Context) error   { return s.setDraining(ctx, true) }
func (s *source) Undrain(ctx context.Context) error { return s.setDraining(ctx, false) }

func (s *source) setDraining(ctx context.Context, on bool) error {
	what := "undrain"
	if on {
		what = "drain"
	}
	s.d.adminAsked(ctx, what)
	if err := s.d.setDraining(ctx, drainAdmin, on); err != nil {
		switch {
		case errors.Is(err, errOnlyMember):
			return fmt.Errorf("%w: %v", restapi.ErrConflict, err)
		case ctx.Err() != nil:
			return fmt.Errorf("changing draining: %w", err)
		}
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	}
	s.d.adminDone(ctx, what, "")
	return nil
}

func (s *source) SetPin(ctx context.Context, partition int, member string) error {
	what := fmt.Sprintf("pin partition %d to %s", partition, member)
	if member == "" {
		what = fmt.Sprintf("unpin partition %d", partition)
	}
	return s.leaderRequest(ctx, what, func(now time.Time, c *core.Core) error { return c.SetPin(now, partition, member) })
}

func (s *source) SetExcluded(ctx context.Context, member string, on bool) error {
	what := "include " + member
	if on {
		what = "exclude " + member
	}
	return s.leaderRequest(ctx, what, func(now time.Time, c *core.Core) error { return c.SetExcluded(now, member, on) })
}

// leaderRequest runs an operator's request that the leader carries out,
// logging who asked and mapping "no leader" to 503.
func (s *source) leaderRequest(ctx context.Context, what string, do func(time.Time, *core.Core) error) error {
	s.d.adminAsked(ctx, what)
	err := s.d.do(ctx, do)
	switch {
	case errors.Is(err, core.ErrNoLeader), errors.Is(err, errShuttingDown):
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	s.d.adminDone(ctx, what, "")
	return nil
}

func (s *source) SetFrozen(ctx context.Context, frozen bool) error {
	what := "unfreeze"
	if frozen {
		what = "freeze"
	}
	return s.leaderRequest(ctx, what, func(now time.Time, c *core.Core) error { return c.SetFrozen(now, frozen) })
}

func (s *source) Transfer(ctx context.Context, to string) error {
	s.d.adminAsked(ctx, "leader transfer to "+to)
	err := s.d.do(ctx, func(now time.Time, c *core.Core) error { return c.Transfer(now, to) })
	if err == nil {
		s.d.adminDone(ctx, "leader transfer", to)
	}
	switch {
	case errors.Is(err, core.ErrNoLeader), errors.Is(err, errShuttingDown):
		return fmt.Errorf("%w: %v", restapi.ErrUnavailable, err)
	case errors.Is(err, election.ErrUnknownMember):
		return fmt.Errorf("%w: %v", restapi.ErrNotFound, err)
	case err != nil:
		return fmt.Errorf("leader transfer: %w", err)
	}
	return nil
}
