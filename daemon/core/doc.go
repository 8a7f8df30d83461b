// Package core is the pure protocol core of one ringd member: it composes the
// election (election.Node), this member's grants and lease
// (partitions.Ownership) and, while leading, the leader's table and its
// bookkeeping of what every member may still hold.
//
// Like election, it has no goroutines, sockets or clocks: the daemon feeds it
// gossip membership (SetMembers), peer messages (Step) and time (Tick), and
// after each input does what Ready returns (persist, send, record, announce,
// publish) and calls Advance; the Ready type is the host's contract. The same code
// runs in the simulated-network tests and in the real daemon.
//
// The files, by job:
//
//   - core.go: Core, its Options and inputs; members.go: the gossip view.
//   - ready.go: Ready and Advance, the host's contract; envelope.go: the
//     peer messages; events.go: what the core reports; view.go and debug.go:
//     snapshots for the API and for tests.
//   - leader.go: leaderState, the leader's working table for one term, which
//     decides grants, moves and hand-overs from small parts, each with one job:
//     holders.go (what every process may still hold), acks.go (who answers,
//     under which identity, with which table), tokens.go (fencing tokens),
//     planner.go (the cached rebalance plan) and confchange.go (the member
//     list and the voters). The Core feeds it and publishes its tables.
//
// Safety rests on three rules:
//
//   - A member holds partitions only while its lease runs. The lease runs from
//     when the member SENT the renewal (its heartbeat ack), by its own clock,
//     and only a leader with a valid leader lease grants renewals.
//   - The leader grants a partition only when no member may still hold it: the
//     previous owner reported the release (in a report written after it
//     applied the table that named it), or its lease surely ran out
//     (last renewal + Lease*(1+Drift) + SafetyMargin). A new leader cannot know
//     what an older leader renewed: from its votes it bounds when every
//     older leader lease ended, and grants nothing a silent member may hold
//     before a lease after that (the safe wait). The partitions of the
//     crashed previous leader go earlier, when the votes bound its own
//     holdings (handover.go; docs/architecture.md, "How soon a new leader
//     grants").
//   - A member never takes a grant again once it let go of it (dropped tokens),
//     and grants are to one process (incarnation), so a restart does not
//     inherit them.
package core
