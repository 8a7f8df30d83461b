package core

import (
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

// heldDownAndEmpty reports whether the planner leaves member m out at now:
// it is within its hold-down (a new member, or one that flapped) and holds
// nothing in table t. A member that still holds partitions kept its lease
// through whatever gossip said; taking them away would move them for
// nothing (and back after the hold-down), so it keeps its share.
func heldDownAndEmpty(now time.Time, opt Options, m *memberState, t partitions.Table) bool {
	if !m.heldDown(now, opt.Settle, opt.FlapHoldDown) {
		return false
	}
	for _, e := range t.Partitions {
		if e.Owner == m.Name && e.Incarnation == m.Incarnation {
			return false
		}
	}
	return true
}

// planCache answers rebalance.Plan for the leader, reusing the last answer
// while its inputs stay the same: planning costs milliseconds for large
// clusters, the leader asks on every tick, and the inputs rarely change.
// rebalance.Plan is a pure function of its inputs, so a failure is reused too.
type planCache struct {
	cfg rebalance.Config
	// The last inputs (see key) and answer; valid once one was computed.
	key   string
	res   rebalance.Result
	err   error
	valid bool
}

// plan returns rebalance.Plan(current, members, the cache's config);
// computed reports whether it planned anew rather than reusing the last
// answer, so that a caller reports a failure once per set of inputs.
func (pc *planCache) plan(current, members []string) (res rebalance.Result, computed bool, err error) {
	key := planKey(current, members)
	if pc.valid && key == pc.key {
		return pc.res, false, pc.err
	}
	pc.res, pc.err = rebalance.Plan(current, members, pc.cfg)
	pc.key, pc.valid = key, true
	return pc.res, true, pc.err
}

// planKey encodes plan's inputs in one string that no other inputs give:
// each list and each name is prefixed with its length, so names from peers
// may hold any byte.
func planKey(current, members []string) string {
	var b strings.Builder
	for _, list := range [][]string{members, current} {
		b.WriteString(strconv.Itoa(len(list)))
		b.WriteByte(':')
		for _, name := range list {
			b.WriteString(strconv.Itoa(len(name)))
			b.WriteByte(':')
			b.WriteString(name)
		}
	}
	return b.String()
}
