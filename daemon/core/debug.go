package core

import (
	"fmt"
	"strings"
	"time"

	"github.com/ringd/ringd/partitions"
)

// LeaderDebug summarises the leader's bookkeeping at now: why partitions are
// (not) being granted. Empty when this member does not lead.
func (c *Core) LeaderDebug(now time.Time) string {
	l := c.leader
	if l == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "term %d, elected %v ago, safe wait left %v, table %s, members %v voters %v prev %v, assignable %v\n",
		l.term, now.Sub(l.electedAt).Round(time.Millisecond), max(0, l.holders.safeUntil.Sub(now)).Round(time.Millisecond),
		l.table.ID, l.table.Members, l.table.Voters, l.table.PrevVoters, l.assignable(now))
	for _, k := range l.holders.keys() {
		h := l.holders.views[k]
		fmt.Fprintf(&b, "  holder %s/%d known=%v seq=%d items=%d applied=%s lastRenew=%v ago heldUntil in %v current=%v\n",
			k.name, k.inc, h.known, h.seq, len(h.items), h.applied, now.Sub(h.lastRenew).Round(time.Millisecond),
			l.holders.heldUntil(h).Sub(now).Round(time.Millisecond), l.members.current(k.name, k.inc))
	}
	owned, releasing := 0, 0
	for _, e := range l.table.Partitions {
		switch {
		case e.Owner == "":
		case e.State == partitions.Releasing:
			releasing++
		default:
			owned++
		}
	}
	fmt.Fprintf(&b, "  entries: %d owned, %d releasing, %d unassigned\n", owned, releasing, len(l.table.Partitions)-owned-releasing)
	return b.String()
}
