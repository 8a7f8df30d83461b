package election

import (
	"slices"
	"sort"
	"time"

	"github.com/ringd/ringd/partitions"
)

// Role is what a member is doing in the election.
type Role int

const (
	Follower Role = iota
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	default:
		return "follower"
	}
}

// MsgType names the election messages.
type MsgType uint8

const (
	// MsgProbe asks a higher-ranked member whether it is alive and will lead.
	MsgProbe MsgType = iota + 1
	// MsgProbeAck answers a probe: "I am here and will campaign (or lead)".
	MsgProbeAck
	// MsgVoteRequest asks for a vote in Term.
	MsgVoteRequest
	// MsgVoteResponse grants or refuses a vote.
	MsgVoteResponse
	// MsgHeartbeat is the leader's periodic message; Seq identifies it.
	MsgHeartbeat
	// MsgHeartbeatAck acknowledges heartbeat Seq (or, with a higher Term,
	// tells a stale leader that it is stale).
	MsgHeartbeatAck
	// MsgTimeoutNow tells the transfer target to campaign at once.
	MsgTimeoutNow
	// MsgPreVoteRequest asks "would you vote for me in Term?" without
	// changing anybody's term (Raft's pre-vote): a member that cannot win,
	// such as one coming back from a partition with an old table, then
	// never bumps terms and deposes a healthy leader.
	MsgPreVoteRequest
	// MsgPreVoteResponse answers a pre-vote.
	MsgPreVoteResponse
)

var msgTypeNames = map[MsgType]string{
	MsgProbe: "probe", MsgProbeAck: "probe-ack", MsgVoteRequest: "vote-request",
	MsgVoteResponse: "vote-response", MsgHeartbeat: "heartbeat",
	MsgHeartbeatAck: "heartbeat-ack", MsgTimeoutNow: "timeout-now",
	MsgPreVoteRequest: "prevote-request", MsgPreVoteResponse: "prevote-response",
}

func (t MsgType) String() string {
	if s, ok := msgTypeNames[t]; ok {
		return s
	}
	return "unknown"
}

// Message is one election message. From and To are member names.
type Message struct {
	Type MsgType `json:"type"`
	From string  `json:"from"`
	To   string  `json:"to"`
	Term uint64  `json:"term"`
	// LastTable is the candidate's newest table (vote requests): voters refuse
	// candidates older than themselves.
	LastTable partitions.TableID `json:"lastTable,omitempty"`
	// Preempt marks a vote request from a member that outranks the sitting
	// leader; Transfer one that the leader handed over to.
	Preempt  bool `json:"preempt,omitempty"`
	Transfer bool `json:"transfer,omitempty"`
	// Granted is the answer of a vote response.
	Granted bool `json:"granted,omitempty"`
	// Seq numbers heartbeats; acks echo it.
	Seq uint64 `json:"seq,omitempty"`
}

// Member is what the host knows about another member from gossip.
type Member struct {
	Name     string
	Priority int
	Alive    bool
	// AliveSince is when the member was last seen coming alive; preemption
	// waits until the preempting member has been alive for Settle.
	AliveSince time.Time
}

// Outranks reports whether member a comes before member b in the ring:
// higher priority first, then the smaller name.
func Outranks(aName string, aPrio int, bName string, bPrio int) bool {
	if aPrio != bPrio {
		return aPrio > bPrio
	}
	return aName < bName
}

// Ring returns the members in ring order (rank 0 first).
func Ring(members []Member) []Member {
	out := append([]Member(nil), members...)
	sort.Slice(out, func(i, j int) bool {
		return Outranks(out[i].Name, out[i].Priority, out[j].Name, out[j].Priority)
	})
	return out
}

// Config is the configuration: who counts for a majority.
type Config struct {
	// Voters is the current member set.
	Voters []string
	// Prev is the previous member set while a change is in flight; then a
	// majority of both is needed.
	Prev []string
}

// Contains reports whether name counts for the majority.
func (c Config) Contains(name string) bool {
	return slices.Contains(c.Voters, name) || slices.Contains(c.Prev, name)
}

// All returns the union of both member sets, sorted.
func (c Config) All() []string {
	seen := map[string]bool{}
	var out []string
	for _, set := range [][]string{c.Voters, c.Prev} {
		for _, n := range set {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Empty reports whether there is no configuration yet.
func (c Config) Empty() bool { return len(c.Voters) == 0 && len(c.Prev) == 0 }

// HasQuorum reports whether yes holds a majority of Voters and, during a
// change, of Prev too.
func (c Config) HasQuorum(yes func(name string) bool) bool {
	if len(c.Voters) == 0 {
		return false
	}
	return majority(c.Voters, yes) && (len(c.Prev) == 0 || majority(c.Prev, yes))
}

func majority(set []string, yes func(string) bool) bool {
	n := 0
	for _, name := range set {
		if yes(name) {
			n++
		}
	}
	return n > len(set)/2
}

// HardState is what must survive a restart for votes to stay single: with a
// data dir the host persists it before sending anything.
type HardState struct {
	Term     uint64 `json:"term"`
	VotedFor string `json:"votedFor"`
}

// Options tune a Node. All durations must be positive.
type Options struct {
	Self              string
	Priority          int
	HeartbeatInterval time.Duration
	LeaderTimeout     time.Duration
	ElectionTimeout   time.Duration
	LeaderLease       time.Duration
	Settle            time.Duration
	Preempt           bool
}
