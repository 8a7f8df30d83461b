package core

import (
	"sort"
	"time"

	"github.com/ringd/ringd/election"
)

// memberState adds what the core tracks over time to what gossip says.
type memberState struct {
	MemberInfo
	aliveSince time.Time
	deadSince  time.Time
	// flaps counts recent dead -> alive returns; the hold-down before such
	// a member gets partitions again grows with it.
	flaps int
}

// holdDown is how long a member must be alive before it gets partitions:
// settle, doubled for every recent flap (capped), so a flaky member does not
// make partitions oscillate. A member alive for ten hold-downs is forgiven
// its flaps; that is why asking changes m.
func (m *memberState) holdDown(now time.Time, settle time.Duration) time.Duration {
	if m.flaps > 0 && now.Sub(m.aliveSince) > 10*settle<<min(m.flaps, 4) {
		m.flaps = 0
	}
	return settle << min(m.flaps, 4)
}

// memberTable is the gossip view by member name, this member included. The
// core updates it (SetMembers); the leader reads it.
type memberTable map[string]*memberState

// current reports whether member name is alive in incarnation inc: the
// process a grant was made to is still the one gossip sees.
func (ms memberTable) current(name string, inc uint64) bool {
	m := ms[name]
	return m != nil && m.Alive && m.Incarnation == inc
}

// hasIdentity reports whether gossip knows the member of election name v
// under that very identity (alive or not): a member that came back without
// its state has a new one, and the old voter never returns.
func (ms memberTable) hasIdentity(v string) bool {
	m := ms[memberOf(v)]
	return m != nil && ElectionName(m.Name, m.Identity) == v
}

// aliveAs reports whether election name v is a live member under that very
// identity.
func (ms memberTable) aliveAs(v string) bool {
	return ms.hasIdentity(v) && ms[memberOf(v)].Alive
}

// sortByRank sorts election names in ring order (rank 0 first); dead and
// unknown members, and identities a member no longer has, go last. self,
// this member's election name, counts as alive.
func (ms memberTable) sortByRank(names []string, self string) {
	alive := func(n string) bool { return n == self || ms.aliveAs(n) }
	prio := func(n string) int {
		if m := ms[memberOf(n)]; m != nil {
			return m.Priority
		}
		return 0
	}
	sort.SliceStable(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if alive(a) != alive(b) {
			return alive(a)
		}
		return election.Outranks(a, prio(a), b, prio(b))
	})
}
