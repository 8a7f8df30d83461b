// Package partitions holds the two data types that describe who works on
// what: the assignment Table the leader publishes (entries with owner, state
// and fencing token; members; voter configuration), and Ownership, one
// member's own view of its grants (pending, owned, releasing), its lease,
// the tokens it dropped and the view index its application polls. The
// leader's bookkeeping of what every member may still hold lives in
// daemon/core. The package is pure: no goroutines, sockets or clocks; time
// comes in as a value.
package partitions

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// State is the state of one partition's grant in the table.
type State string

const (
	// Unassigned: nobody holds a grant for the partition.
	Unassigned State = ""
	// Owned: the owner's app may work on the partition.
	Owned State = "owned"
	// Releasing: the owner's app must finish and let go; nobody else gets the
	// partition until the owner reports the release or its lease surely ran out.
	Releasing State = "releasing"
)

// TableID orders tables: a higher term wins, then a higher version.
type TableID struct {
	Term    uint64 `json:"term"`
	Version uint64 `json:"version"`
}

// Less reports whether a is older than b.
func (a TableID) Less(b TableID) bool {
	if a.Term != b.Term {
		return a.Term < b.Term
	}
	return a.Version < b.Version
}

func (a TableID) String() string { return fmt.Sprintf("%d.%d", a.Term, a.Version) }

// Entry is one partition's row in the table.
type Entry struct {
	// Owner is the member name that holds the grant, "" when unassigned.
	Owner string `json:"owner,omitempty"`
	// Incarnation identifies the owner's process: a grant is to one process, so
	// a member that restarted under the same name does not inherit it.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// Token is the fencing token of the grant.
	Token uint64 `json:"token,omitempty"`
	State State  `json:"state,omitempty"`
}

// Table is the leader's assignment of partitions 0..P-1.
type Table struct {
	ID     TableID `json:"id"`
	Leader string  `json:"leader"`
	// Members are the members admitted to the cluster: those that may get
	// partitions. Dead members leave it after --dead-member-timeout.
	Members []string `json:"members"`
	// Voters is the configuration: the few members (--voters, 3 or 5)
	// whose majority counts for elections and leader leases. The rest of
	// the members do not vote, so members coming and going (rollouts,
	// scaling, crash loops) never cost the majority.
	Voters []string `json:"voters,omitempty"`
	// PrevVoters is set while a change of the voters is not yet acknowledged
	// by a majority of the old voters and of the new ones (joint majority).
	PrevVoters []string `json:"prevVoters,omitempty"`
	Partitions []Entry  `json:"partitions"`
	// Frozen: an operator froze the assignment (maintenance mode): the
	// leader makes no rebalancing moves, while partitions without a holder
	// are still granted and drains still hand over. Every later leader's
	// table keeps it until an operator unfreezes. Not part of the binary
	// form: the peer envelope carries it beside the table (daemon/codec.go).
	Frozen bool `json:"frozen,omitempty"`
	// Pins keep partitions with a member (partition id -> member name) and
	// Excluded members own nothing, as operators asked; every later
	// leader's table keeps them. Like Frozen, the peer envelope carries
	// them beside the binary form.
	Pins     map[int]string `json:"pins,omitempty"`
	Excluded []string       `json:"excluded,omitempty"`
	// Standbys lists each partition's standby owners, next in line first
	// (the leader's --standbys): nil, or one list per partition. A standby
	// holds no grant; its app may warm caches. The leader gives a partition
	// whose owner is gone to its first standby that may take it, so each
	// new leader's table keeps the lists. Beside the binary form, as member
	// indexes (daemon/codec.go).
	Standbys [][]string `json:"standbys,omitempty"`
	// Reserved keeps partitions (partition id -> member) for members away
	// on a planned restart (--shutdown=restart): such a partition has no
	// owner until its member is back and may own again, and then goes to
	// it; Restarting holds when each member's reservations end (its
	// --rejoin-grace after the leader saw it go, by the clock of the leader
	// that saw it). Every later leader's table keeps both. Beside the
	// binary form.
	Reserved   map[int]string       `json:"reserved,omitempty"`
	Restarting map[string]time.Time `json:"restarting,omitempty"`
}

// Clone returns a copy of t that shares no slice with it.
func (t Table) Clone() Table {
	t.Members = slices.Clone(t.Members)
	t.Voters = slices.Clone(t.Voters)
	t.PrevVoters = slices.Clone(t.PrevVoters)
	t.Partitions = slices.Clone(t.Partitions)
	t.Pins = maps.Clone(t.Pins)
	t.Excluded = slices.Clone(t.Excluded)
	t.Standbys = slices.Clone(t.Standbys) // the lists themselves are never changed in place
	t.Reserved = maps.Clone(t.Reserved)
	t.Restarting = maps.Clone(t.Restarting)
	return t
}

// VoterSet returns the voters, and the previous voters while a change is in
// flight.
func (t Table) VoterSet() (voters, prev []string) {
	return t.Voters, t.PrevVoters
}
