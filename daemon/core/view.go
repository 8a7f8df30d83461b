package core

import (
	"slices"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// View is a snapshot of the core for the API and metrics. Nothing in it is
// changed by the core afterwards, so it may be read on any goroutine; its
// table and holdings are shared with other views of the same table and
// holdings, so callers must not modify them.
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
	// Restarting: this member stops for a planned restart (SetRestarting):
	// it leaves once its partitions are released and its leadership handed
	// over, and keeps its vote.
	Restarting bool
	// ForcedVoters are the members (names) of the voter configuration an
	// operator forced on this member (ForceVoters), while it elects by it:
	// until a table of a later term replaces it. Nil otherwise.
	ForcedVoters []string
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

// View returns a snapshot at now. Its Table is shared with other views of
// the same applied table: read it, never change it.
func (c *Core) View(now time.Time) View {
	st := c.el.Status()
	t := c.own.TableCopy()
	cfg := c.electionConfig()
	return View{
		Node: c.opt.Self, Incarnation: c.opt.Incarnation, Role: st.Role, Term: st.Term,
		Leader: memberOf(st.Leader), Index: c.own.Index(), LeaseUntil: c.own.LeaseUntil(),
		Holdings: c.own.Visible(now), Table: t, Draining: c.draining, Restarting: c.restarting,
		Members:      c.memberViews.get(c, t, cfg),
		ForcedVoters: c.forcedNames(),
	}
}

// forcedNames lists the forced voters' member names, nil when none.
func (c *Core) forcedNames() []string {
	if c.forced == nil {
		return nil
	}
	out := make([]string, 0, len(c.forced.Voters))
	for _, v := range c.forced.Voters {
		out = append(out, memberOf(v))
	}
	return out
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
	case self && !v.Restarting:
		return "voter replacement"
	}
	return ""
}

// memberViewCache holds View's member list between changes: the host reads
// a view after every input, and building the list sorts every member (a
// tenth of a 100-member cluster's CPU in figure e of issue 11 went there).
// The list is shared by the views until the next change; readers must not
// modify it.
type memberViewCache struct {
	valid    bool
	gen      uint64   // Core.membersGen it was built for
	inConfig []string // the members that are InConfig (the table's)
	from     []string // the slice inConfig was copied from: the same one needs no comparing
	config   election.Config
	list     []MemberView
}

// get returns the member list for the current members, the applied table t
// (before any, the configuration's members are InConfig) and the voter
// configuration cfg, building it again only when one of them changed.
func (mc *memberViewCache) get(c *Core, t partitions.Table, cfg election.Config) []MemberView {
	tableMembers := t.Members
	if len(t.Partitions) == 0 {
		tableMembers = memberNames(cfg.All())
	}
	// The table's member list, not its id: most tables move partitions
	// and keep the members, and at 500 members a rebuild per table was a
	// tenth of figure e's CPU.
	if mc.valid && mc.gen == c.membersGen && (sameArray(mc.from, tableMembers) || slices.Equal(mc.inConfig, tableMembers)) &&
		slices.Equal(mc.config.Voters, cfg.Voters) && slices.Equal(mc.config.Prev, cfg.Prev) {
		return mc.list
	}
	inConfig := make(map[string]bool, len(tableMembers))
	for _, m := range tableMembers {
		inConfig[m] = true
	}
	// Voters by member name: the few voters' election names, so that the
	// loop below builds no election name per member.
	voters := make(map[string][]string, len(cfg.Voters)+len(cfg.Prev))
	for _, v := range slices.Concat(cfg.Voters, cfg.Prev) {
		voters[memberOf(v)] = append(voters[memberOf(v)], v)
	}
	list := make([]MemberView, 0, len(c.members))
	for _, m := range c.members {
		voter := false
		if names := voters[m.Name]; names != nil {
			voter = slices.Contains(names, ElectionName(m.Name, m.Identity))
		}
		list = append(list, MemberView{Name: m.Name, Incarnation: m.Incarnation,
			Priority: m.Priority, Alive: m.Alive, Draining: m.Draining,
			InConfig: inConfig[m.Name], Voter: voter})
	}
	slices.SortFunc(list, func(a, b MemberView) int {
		switch {
		case election.Outranks(a.Name, a.Priority, b.Name, b.Priority):
			return -1
		case election.Outranks(b.Name, b.Priority, a.Name, a.Priority):
			return 1
		}
		return 0
	})
	*mc = memberViewCache{valid: true, gen: c.membersGen, inConfig: slices.Clone(tableMembers), from: tableMembers,
		config: election.Config{Voters: slices.Clone(cfg.Voters), Prev: slices.Clone(cfg.Prev)}, list: list}
	return list
}

// sameArray reports whether a and b are the same slice of one array
// (tables are replaced, never changed in place, so the same slice holds
// the same names).
func sameArray[T any](a, b []T) bool { return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0] }
