// Package election is ringd's bully-style ring election as a pure state machine.
//
// Members are ordered into a ring by rank: higher priority first, then name.
// The highest-ranked live member is the rightful leader (the bully rule), but
// nobody leads without a majority: leadership is for a term, each member votes
// at most once per term, and a candidate needs votes from a majority of the
// current configuration (a joint majority of the old and new member sets while
// a configuration change is in flight). That is what keeps a network partition
// from producing two leaders, which plain gossip-bully cannot promise.
//
// A campaign has two phases. First the candidate probes the live members that
// outrank it; any that answers will campaign itself, so the candidate steps
// back. If none answers within ElectionTimeout, it asks every voter for a vote
// in a new term. Voters refuse candidates whose table is older than theirs (the
// up-to-date rule), and refuse anyone while they hear from a valid leader,
// unless the candidate outranks that leader and preemption is on, or the leader
// handed over to it (transfer).
//
// The leader sends heartbeats; a heartbeat acknowledged by a majority extends
// the leader lease from the moment the heartbeat was SENT (by the leader's own
// clock), so an acknowledgement that arrives late never stretches the lease.
// A leader whose lease runs out steps down by itself.
//
// Like etcd's raft, Node has no goroutines, sockets or clocks: the host feeds
// it messages (Step) and the passage of time (Tick), both with `now`, and
// drains the messages it wants sent (Outbox). The host also tells it who is
// alive (SetMembers) and which configuration and table it has (SetConfig).
package election
