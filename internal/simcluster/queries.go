package simcluster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/partitions"
)

// Holders maps each partition to the members whose apps hold it now.
func (c *Cluster) Holders() [][]string {
	out := make([][]string, Partitions)
	for _, n := range c.names {
		for _, h := range c.appHoldings(c.members[n]) {
			out[h.ID] = append(out[h.ID], n)
		}
	}
	return out
}

// Covered reports whether every partition is held by exactly one app, that
// of a running member.
func (c *Cluster) Covered() bool { return c.coveredBy(nil) }

// CoveredBy is Covered with every holder among names.
func (c *Cluster) CoveredBy(names []string) bool { return c.coveredBy(names) }

// coveredBy is Covered, with every holder among names unless names is nil.
func (c *Cluster) coveredBy(names []string) bool {
	for _, hs := range c.Holders() {
		if len(hs) != 1 || (names != nil && !slices.Contains(names, hs[0])) || !c.Up(hs[0]) {
			return false
		}
	}
	return true
}

// GhostsGone reports whether no app works on from a crashed sidecar's lease.
func (c *Cluster) GhostsGone() bool {
	for _, n := range c.names {
		m := c.members[n]
		c.appHoldings(m) // drops an expired ghost
		if len(m.app.ghost) > 0 || (m.crashed && len(c.appHoldings(m)) > 0) {
			return false
		}
	}
	return true
}

// Require runs the cluster until cond holds and fails the test, with the
// members' state and the end of the trace, when it does not within limit.
// what names the condition in that message.
func (c *Cluster) Require(limit time.Duration, what string, cond func() bool) {
	c.t.Helper()
	if !c.RunUntil(limit, cond) {
		c.t.Fatalf("seed %d: %s: not within %v\n%s\ntrace:\n%s", c.seed, what, limit, c.Describe(), c.Trace(60))
	}
}

// Leaders lists the running members among the given ones that lead with a
// valid leader lease.
func (c *Cluster) Leaders(among []string) []string {
	var out []string
	for _, n := range among {
		if c.Up(n) && c.members[n].core.IsLeader(c.Now(n)) {
			out = append(out, n)
		}
	}
	return out
}

// Leader returns the single valid leader among all members, or "".
func (c *Cluster) Leader() string {
	if ls := c.Leaders(c.names); len(ls) == 1 {
		return ls[0]
	}
	return ""
}

// View returns name's core view at its clock.
func (c *Cluster) View(name string) core.View { return c.members[name].core.View(c.Now(name)) }

// Tokens maps partition -> token of what name's app holds.
func (c *Cluster) Tokens(name string) map[int]uint64 {
	out := map[int]uint64{}
	for _, h := range c.appHoldings(c.members[name]) {
		out[h.ID] = h.Token
	}
	return out
}

// MaxToken is the highest token any interval so far had.
func (c *Cluster) MaxToken() uint64 {
	var best uint64
	for p := 0; p < Partitions; p++ {
		for _, iv := range c.check.Intervals(p) {
			best = max(best, iv.Token)
		}
	}
	return best
}

// Others returns the names other than those given.
func (c *Cluster) Others(not ...string) []string {
	var out []string
	for _, n := range c.names {
		if !slices.Contains(not, n) {
			out = append(out, n)
		}
	}
	return out
}

// Describe summarizes every member's state, for failure reports.
func (c *Cluster) Describe() string {
	var b strings.Builder
	for _, n := range c.names {
		m := c.members[n]
		state := "up"
		switch {
		case m.crashed:
			state = "crashed"
		case c.net.Paused(n):
			state = "paused"
		}
		v := m.core.View(c.Now(n))
		owners := map[string]int{}
		for _, e := range v.Table.Partitions {
			owners[fmt.Sprintf("%s/%s", e.Owner, e.State)]++
		}
		var alive []string
		for _, mv := range v.Members {
			if mv.Alive {
				alive = append(alive, mv.Name)
			}
		}
		fmt.Fprintf(&b, "%s inc %d %s: %v term %d leader %q table %v members %v voters %v prev %v alive %v lease %v holds %d draining %t owners %v\n",
			n, m.inc, state, v.Role, v.Term, v.Leader, v.Table.ID, v.Table.Members, v.Table.Voters, v.Table.PrevVoters,
			alive, v.LeaseUntil.Sub(c.Now(n)), len(v.Holdings), v.Draining, owners)
	}
	return b.String()
}

// VotersLost reports whether the newest configuration any member holds (also
// the last view of a crashed or departed process: a configuration does not
// go away when the members that know it are down) has lost a majority of its
// voters (or, during a change, of either voter set) for good: a voter is gone
// for good once its member runs under another identity (it restarted without
// its state) or left. No leader is promised then (docs/architecture.md).
func (c *Cluster) VotersLost() bool {
	var newest partitions.Table
	for _, n := range c.names {
		if t := c.members[n].core.View(c.Now(n)).Table; newest.ID.Less(t.ID) {
			newest = t
		}
	}
	kept := func(set []string) bool {
		n := 0
		for _, v := range set {
			for _, name := range c.names {
				if m := c.members[name]; !m.gone && core.ElectionName(name, m.identity) == v {
					n++
				}
			}
		}
		return n > len(set)/2
	}
	if newest.ID == (partitions.TableID{}) {
		// Every member that had the cluster's table lost it (restarts
		// without their data dir): nothing is left to elect from.
		return c.hadTable
	}
	return len(newest.Voters) > 0 && (!kept(newest.Voters) || (len(newest.PrevVoters) > 0 && !kept(newest.PrevVoters)))
}
