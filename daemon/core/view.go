package core

import (
	"slices"
	"sort"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// View is a snapshot of the core for the API and metrics. It holds no
// references into the core.
type View struct {
	Node        string
	Incarnation uint64
	Role        election.Role
	Term        uint64
	Leader      string
	// Index grows whenever what the app sees may change.
	Index      uint64
	LeaseUntil time.Time
	// Holdings are this member's grants the app may work on, as of the
	// snapshot; callers must still check LeaseUntil against their clock.
	Holdings []partitions.Holding
	Table    partitions.Table
	Members  []MemberView
	Draining bool
}

// MemberView is one member as the core sees it, in ring order.
type MemberView struct {
	Name        string
	Incarnation uint64
	Priority    int
	Alive       bool
	Draining    bool
	// InConfig: admitted to the table's members (may get partitions).
	InConfig bool
	// Voter: counts for the majority (a voter, or a previous voter while a
	// change of voters is in flight).
	Voter bool
}

// viewCache is the copy of the applied table that views hand out. The host
// asks for a view after every input and tick; copying a table of thousands
// of partitions each time cost more than everything else a member does
// (issue 11, figure e). Views only read their table, so all views of one
// applied table share one copy, still none of the core's own.
type viewCache struct {
	of    partitions.Table // the applied table the copy was made of
	table partitions.Table
}

// get returns the shared copy of t, making a new one when t is not the
// table the last copy was made of.
func (vc *viewCache) get(t partitions.Table) partitions.Table {
	if t.ID != vc.of.ID || !sameBacking(t.Partitions, vc.of.Partitions) || !sameBacking(t.Members, vc.of.Members) ||
		!sameBacking(t.Voters, vc.of.Voters) || !sameBacking(t.PrevVoters, vc.of.PrevVoters) || t.Leader != vc.of.Leader {
		vc.of, vc.table = t, cloneTable(t)
	}
	return vc.table
}

// sameBacking reports whether a and b are the same slice (same array, same
// length): the core replaces tables, it never changes one in place.
func sameBacking[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// View returns a snapshot at now. Its Table is shared with other views of
// the same applied table: read it, never change it.
func (c *Core) View(now time.Time) View {
	st := c.el.Status()
	t := c.view.get(c.own.Table())
	cfg := c.electionConfig()
	members := t.Members
	if len(t.Partitions) == 0 {
		members = memberNames(cfg.All())
	}
	inConfig := make(map[string]bool, len(members))
	for _, m := range members {
		inConfig[m] = true
	}
	v := View{
		Node: c.opt.Self, Incarnation: c.opt.Incarnation, Role: st.Role, Term: st.Term,
		Leader: memberOf(st.Leader), Index: c.own.Index(), LeaseUntil: c.own.LeaseUntil(),
		Holdings: c.own.Visible(now), Table: t, Draining: c.draining,
	}
	for _, m := range c.members {
		v.Members = append(v.Members, MemberView{Name: m.Name, Incarnation: m.Incarnation,
			Priority: m.Priority, Alive: m.Alive, Draining: m.Draining,
			InConfig: inConfig[m.Name], Voter: cfg.Contains(ElectionName(m.Name, m.Identity))})
	}
	sort.Slice(v.Members, func(i, j int) bool {
		a, b := v.Members[i], v.Members[j]
		return election.Outranks(a.Name, a.Priority, b.Name, b.Priority)
	})
	return v
}

// LeavePending says what a draining member still waits for before it can
// leave without costing the cluster anything, or "" when nothing: its
// partitions moved away (the leader's table no longer lists it as an owner,
// so the leader got its release reports; leaving with a report in flight
// would leave the partitions without a holder until its lease ran out), its
// leadership handed over, its vote given up. Each is waived when no other live
// admitted member could take over.
func (v View) LeavePending() string {
	others, self := false, false
	for _, m := range v.Members {
		if m.Name != v.Node && m.Alive && m.InConfig && !m.Draining {
			others = true
		}
		if m.Name == v.Node && m.Voter {
			self = true
		}
	}
	listed := slices.ContainsFunc(v.Table.Partitions, func(e partitions.Entry) bool { return e.Owner == v.Node })
	switch {
	case !others:
		return ""
	case len(v.Holdings) > 0 || listed:
		return "partitions to move away"
	case v.Role == election.Leader:
		return "leadership hand-over"
	case self:
		return "voter replacement"
	}
	return ""
}
