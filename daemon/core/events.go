package core

import "time"

// EventKind names what happened, for metrics and the change log.
type EventKind string

const (
	// EventElected: this member became leader. Took is its safe wait (what
	// a silent member may hold is granted after it); when the votes bound
	// the previous leader's holdings, From names it, Partition counts the
	// partitions its table lists as that leader's, and Bound is when they
	// may move (both from At).
	EventElected EventKind = "elected"
	// EventMoveStarted: the leader marked a partition releasing to move it.
	EventMoveStarted EventKind = "move-started"
	// EventMoveFinished: a moved partition was granted to its new owner;
	// Took is the whole handoff (releasing -> granted).
	EventMoveFinished EventKind = "move-finished"
	// EventGranted: an unassigned partition was granted (start-up,
	// failover after a lease ran out).
	EventGranted EventKind = "granted"
	// EventConfigChanged: the leader changed the voters; Members lists
	// the new ones.
	EventConfigChanged EventKind = "config-changed"
	// EventHandedOver: the leader, no longer a voter, handed leadership to
	// To.
	EventHandedOver EventKind = "handed-over"
	// EventPlanFailed: the leader could not plan the assignment (Err, from
	// rebalance.Plan, such as two member names that collide on the ring);
	// nothing is granted or moved until the members change. Reported when
	// the planning inputs change and planning fails again, not every tick.
	EventPlanFailed EventKind = "plan-failed"
	// EventTransferFailed: the leader could not hand leadership to To as
	// member From asked (an operator's request made there); Err says why.
	EventTransferFailed EventKind = "transfer-failed"
	// EventFrozen: the leader froze the assignment, as member From asked.
	EventFrozen EventKind = "frozen"
	// EventUnfrozen: the leader unfroze the assignment, as member From asked.
	EventUnfrozen EventKind = "unfrozen"
	// EventPinned: the leader pinned Partition to To ("": unpinned it), as
	// member From asked.
	EventPinned EventKind = "pinned"
	// EventExcluded and EventIncluded: the leader keeps member To from
	// owning partitions, or lets it again, as member From asked.
	EventExcluded EventKind = "excluded"
	EventIncluded EventKind = "included"
	// EventRestartKept: member To stops for a planned restart; the leader
	// keeps its partitions for it, unowned, for Took (its rejoin grace).
	EventRestartKept EventKind = "restart-kept"
	// EventRestartEnded: the leader stopped keeping partitions for member
	// To: Partition of them were still kept, and go to others now (the
	// grace ran out, or the member was excluded). A member that came back
	// in time gets its partitions as EventGranted with Rejoined set.
	EventRestartEnded EventKind = "restart-ended"
)

// Event is one thing the core did, reported to the daemon.
type Event struct {
	Kind      EventKind
	At        time.Time
	Partition int
	From, To  string
	Token     uint64
	Took      time.Duration
	Bound     time.Duration
	Members   []string
	// Err is why, for the failure kinds.
	Err error
	// Standby: a grant went to one of the partition's standbys (a
	// failover or a move the standby took over). Rejoined: a grant gave a
	// partition kept for a planned restart back to its member.
	Standby, Rejoined bool
}

// maxEvents bounds the buffer between drains.
const maxEvents = 4096

func (c *Core) emit(e Event) {
	if len(c.events) < maxEvents {
		c.events = append(c.events, e)
	}
}
