package procluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ringd/ringd/clientlib/api"
)

// Snapshot is one GET /partitions/mine view per member, keyed by member name.
//
// The views are taken one after the other (concurrently, but not at one
// instant), so a partition that is handed over during a poll can show up with
// its old and its new owner. A double listing in a snapshot is therefore a
// hint, not proof of a double owner; a sound check uses the grants' leases and
// tokens over time.
type Snapshot map[string]api.Mine

// Names returns the members in s, sorted.
func (s Snapshot) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Only returns the views of the given members (those s has).
func (s Snapshot) Only(members []string) Snapshot {
	out := make(Snapshot, len(members))
	for _, n := range members {
		if v, ok := s[n]; ok {
			out[n] = v
		}
	}
	return out
}

// IDs returns the ids a view lists (any state), sorted.
func IDs(m api.Mine) []int {
	ids := make([]int, 0, len(m.Partitions))
	for _, p := range m.Partitions {
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	return ids
}

// Owners maps each listed partition id to the members that list it, in name
// order; a member that lists an id twice appears twice.
func Owners(s Snapshot) map[int][]string {
	owners := make(map[int][]string)
	for _, name := range s.Names() {
		for _, p := range s[name].Partitions {
			owners[p.ID] = append(owners[p.ID], name)
		}
	}
	return owners
}

// Missing returns the partitions 0..partitions-1 that no view in s lists.
func Missing(s Snapshot, partitions int) []int {
	owners := Owners(s)
	var ids []int
	for id := 0; id < partitions; id++ {
		if len(owners[id]) == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// Moved returns the partitions 0..partitions-1 whose owner differs between
// two snapshots. The owner is the one member listing the partition; listed by
// nobody or by several counts as "no owner", so such partitions count as moved
// unless they are like that in both.
func Moved(before, after Snapshot, partitions int) []int {
	ob, oa := Owners(before), Owners(after)
	owner := func(who []string) string {
		if len(who) == 1 {
			return who[0]
		}
		return ""
	}
	var ids []int
	for id := 0; id < partitions; id++ {
		if owner(ob[id]) != owner(oa[id]) {
			ids = append(ids, id)
		}
	}
	return ids
}

// Leader returns the leader every view in s names, "" if a view names none or
// two views differ.
func Leader(s Snapshot) string {
	leader := ""
	for _, name := range s.Names() {
		l := s[name].Leader
		if l == "" || (leader != "" && l != leader) {
			return ""
		}
		leader = l
	}
	return leader
}

// CheckCoverage returns nil when every partition 0..partitions-1 is listed (in
// any state: owned or releasing) by exactly one of members, and otherwise an
// error naming what is wrong: a member without a view, a view whose node is
// another member, ids out of range, partitions nobody lists, partitions listed
// twice. Views of members not in members are ignored; nil members means every
// member in s.
func CheckCoverage(s Snapshot, members []string, partitions int) error {
	if members == nil {
		members = s.Names()
	}
	var problems []string
	for _, n := range members {
		v, ok := s[n]
		if !ok {
			problems = append(problems, "no view from "+n)
			continue
		}
		if v.Node != "" && v.Node != n {
			problems = append(problems, fmt.Sprintf("%s answers as %q", n, v.Node))
		}
		for _, p := range v.Partitions {
			if p.ID < 0 || p.ID >= partitions {
				problems = append(problems, fmt.Sprintf("%s lists partition %d, outside 0..%d", n, p.ID, partitions-1))
			}
		}
	}
	sub := s.Only(members)
	if missing := Missing(sub, partitions); len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d partitions listed by nobody: %s", len(missing), shortList(missing)))
	}
	owners := Owners(sub)
	for _, id := range slices.Sorted(maps.Keys(owners)) {
		if len(owners[id]) > 1 {
			problems = append(problems, fmt.Sprintf("partition %d listed by %s", id, strings.Join(owners[id], " and ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// CheckAgreement is CheckCoverage plus: every one of members names the same
// leader, and that leader is one of members.
func CheckAgreement(s Snapshot, members []string, partitions int) error {
	if members == nil {
		members = s.Names()
	}
	if err := CheckCoverage(s, members, partitions); err != nil {
		return err
	}
	sub := s.Only(members)
	leader := Leader(sub)
	if leader == "" {
		var seen []string
		for _, n := range sub.Names() {
			seen = append(seen, fmt.Sprintf("%s→%q", n, sub[n].Leader))
		}
		return fmt.Errorf("no common leader: %s", strings.Join(seen, ", "))
	}
	if !slices.Contains(members, leader) {
		return fmt.Errorf("leader %s is not one of %s", leader, strings.Join(members, ", "))
	}
	return nil
}

// shortList prints ids, eliding the middle of a long list.
func shortList(ids []int) string {
	const max = 16
	if len(ids) > max {
		return fmt.Sprint(ids[:max/2]) + fmt.Sprintf(" ...(%d more)... ", len(ids)-max) + fmt.Sprint(ids[len(ids)-max/2:])
	}
	return fmt.Sprint(ids)
}
