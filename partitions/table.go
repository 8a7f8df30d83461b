// Package partitions holds the assignment table that the leader publishes, this
// member's view of what it owns (with its lease), and the leader's bookkeeping of
// what every member may still hold. It is pure: no goroutines, sockets or clocks;
// time comes in as a value.
package partitions

import "fmt"

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
	// Members is the configuration: the members whose majority counts for
	// elections and leader leases.
	Members []string `json:"members"`
	// PrevMembers is set while a configuration change is not yet acknowledged by
	// a majority of the old configuration and of the new one (joint majority).
	PrevMembers []string `json:"prevMembers,omitempty"`
	Partitions  []Entry  `json:"partitions"`
}
