package daemon

import (
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/restapi"
	"github.com/ringd/ringd/restapi/api"
)

// snapshot is the newest view of the core for readers outside the loop, with
// a channel that is closed when a newer snapshot has a different Index.
type snapshot struct {
	view    core.View
	changed chan struct{}
}

// publish stores a fresh snapshot, wakes long-polls when the index moved,
// updates metrics and logs transitions.
func (d *Daemon) publish(now time.Time) {
	v := d.core.View(now)
	prev := d.snap.Load()
	next := &snapshot{view: v, changed: make(chan struct{})}
	if prev != nil && prev.view.Index == v.Index {
		next.changed = prev.changed
	}
	d.snap.Store(next)
	if prev != nil && next.changed != prev.changed {
		close(prev.changed)
	}
	d.observe(now, prev, v)
}

// observe updates metrics and logs what an operator wants to know.
func (d *Daemon) observe(now time.Time, prev *snapshot, v core.View) {
	m := d.metrics
	leading := v.Role == election.Leader
	m.isLeader.Set(b2f(leading))
	m.term.Set(float64(v.Term))
	m.tableVersion.Set(float64(v.Table.ID.Version))
	m.owned.Set(float64(len(v.Holdings)))
	valid := now.Before(v.LeaseUntil)
	m.leaseValid.Set(b2f(valid))
	alive, dead, draining := 0, 0, 0
	for _, mem := range v.Members {
		switch {
		case !mem.Alive:
			dead++
		case mem.Draining:
			draining++
		default:
			alive++
		}
	}
	m.members.WithLabelValues("alive").Set(float64(alive))
	m.members.WithLabelValues("dead").Set(float64(dead))
	m.members.WithLabelValues("draining").Set(float64(draining))
	if prev == nil {
		return
	}
	p := prev.view
	if p.Leader != v.Leader && v.Leader != "" {
		m.leaderChanges.Inc()
		d.log.Named(LogElection).Info("leader", "leader", v.Leader, "term", v.Term, "self", leading)
	}
	if len(p.Holdings) > 0 && len(v.Holdings) == 0 && !valid {
		m.leaseExpiries.Inc()
		d.log.Named(LogTable).Warn("lease ran out: holding nothing until renewed", "had", len(p.Holdings))
	}
	if len(p.Holdings) != len(v.Holdings) {
		d.log.Named(LogTable).Debug("holdings changed", "owned", len(v.Holdings), "index", v.Index)
	}
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

func (s *source) Mine() (api.Mine, <-chan struct{}) {
	snap := s.d.snap.Load()
	v := snap.view
	out := api.Mine{Node: v.Node, Term: v.Term, Index: v.Index, Leader: v.Leader,
		Partitions: []api.Partition{}}
	// The lease is checked against the clock now, not when the snapshot was
	// taken: a loop that stalled (GC, SIGSTOP) must not make us claim
	// partitions past our lease.
	if left := time.Until(v.LeaseUntil); left > 0 {
		out.LeaseRemainingMs = left.Milliseconds()
		for _, h := range v.Holdings {
			out.Partitions = append(out.Partitions, api.Partition{ID: h.ID, Token: h.Token, State: string(h.State)})
		}
	}
	return out, snap.changed
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
		Partitions: s.d.cfg.Partitions, Members: []api.Member{}}
	for i, m := range v.Members {
		httpAddr := metas[m.Name].HTTPAddr
		if m.Name == v.Node {
			httpAddr = s.d.HTTPAddr()
		}
		out.Members = append(out.Members, api.Member{Name: m.Name, Rank: i, Priority: m.Priority,
			Alive: m.Alive, Draining: m.Draining, Leader: m.Name == v.Leader, HTTPAddr: httpAddr,
			InConfig: m.InConfig, Owned: owned[m.Name]})
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
