package core

import (
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
	InConfig    bool
}

// View returns a snapshot at now.
func (c *Core) View(now time.Time) View {
	st := c.el.Status()
	t := cloneTable(c.own.Table())
	cfg := election.Config{Voters: t.Members, Prev: t.PrevMembers}
	if len(t.Partitions) == 0 {
		cfg = c.electionConfig()
	}
	v := View{
		Node: c.opt.Self, Incarnation: c.opt.Incarnation, Role: st.Role, Term: st.Term,
		Leader: st.Leader, Index: c.own.Index(), LeaseUntil: c.own.LeaseUntil(),
		Holdings: c.own.Visible(now), Table: t, Draining: c.draining,
	}
	for _, m := range c.members {
		v.Members = append(v.Members, MemberView{Name: m.Name, Incarnation: m.Incarnation,
			Priority: m.Priority, Alive: m.Alive, Draining: m.Draining, InConfig: cfg.Contains(m.Name)})
	}
	sort.Slice(v.Members, func(i, j int) bool {
		a, b := v.Members[i], v.Members[j]
		return election.Outranks(a.Name, a.Priority, b.Name, b.Priority)
	})
	return v
}
