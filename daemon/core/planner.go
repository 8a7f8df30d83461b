package core

import (
	"maps"
	"slices"
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
	return m.heldDown(now, opt.Settle, opt.FlapHoldDown) && !holdsAny(t, m)
}

// holdsAny reports whether table t lists member m's process as the owner of
// a partition.
func holdsAny(t partitions.Table, m *memberState) bool {
	for _, e := range t.Partitions {
		if e.Owner == m.Name && e.Incarnation == m.Incarnation {
			return true
		}
	}
	return false
}

// planCache answers rebalance.Plan for the leader, reusing the last answer
// while its inputs stay the same: planning costs milliseconds for large
// clusters, the leader asks on every tick, and the inputs rarely change.
// rebalance.Plan is a pure function of its inputs, so a failure is reused too.
type planCache struct {
	cfg rebalance.Config
	// The last inputs (copies) and answer; valid once one was computed.
	current, members []string
	res              rebalance.Result
	err              error
	valid            bool
}

// plan returns rebalance.Plan(current, members, cfg); computed reports
// whether it planned anew rather than reusing the last answer, so that a
// caller reports a failure once per set of inputs. cfg differs from the
// cache's only in the fields the leader fills in from its members and
// table (weights, pins, zones, standbys).
//
// The inputs are compared as they are, name by name, not through a key
// built from them: on every tick of an idle leader that would be a string
// of every partition's owner, made only to be thrown away.
func (pc *planCache) plan(current, members []string, cfg rebalance.Config) (res rebalance.Result, computed bool, err error) {
	if pc.valid && slices.Equal(current, pc.current) && slices.Equal(members, pc.members) && sameLeaderInputs(cfg, pc.cfg) {
		return pc.res, false, pc.err
	}
	pc.cfg = cfg
	pc.res, pc.err = rebalance.Plan(current, members, pc.cfg)
	pc.current, pc.members, pc.valid = slices.Clone(current), slices.Clone(members), true
	return pc.res, true, pc.err
}

// sameLeaderInputs compares the fields of two configs that the leader
// fills in.
func sameLeaderInputs(a, b rebalance.Config) bool {
	return maps.Equal(a.Weights, b.Weights) && maps.Equal(a.Pins, b.Pins) && maps.Equal(a.Zones, b.Zones) &&
		a.Standbys == b.Standbys && slices.EqualFunc(a.Warm, b.Warm, slices.Equal)
}
