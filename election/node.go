package election

import (
	"errors"
	"fmt"
	"time"

	"github.com/ringd/ringd/partitions"
)

// Sentinel errors of the election.
var (
	// ErrNotLeader: only the leader can hand over leadership.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnknownMember: the transfer target is not a live voter.
	ErrUnknownMember = errors.New("transfer target is not a live member of the configuration")
)

// campaignPhase is where a candidate is in its campaign.
type campaignPhase int

const (
	phaseProbing campaignPhase = iota + 1
	phasePreVoting
	phaseVoting
)

// hbHistory is how many heartbeat send times a leader remembers; acks of
// older heartbeats are ignored (they could only shorten the lease anyway).
const hbHistory = 64

// Node is one member's election state machine.
type Node struct {
	opt Options

	hard HardState
	// hardChanged is set whenever hard changes, until the host takes it.
	hardChanged bool

	role   Role
	leader string
	// lastContact is when a follower last heard from a valid leader, or when
	// it last gave a vote or stepped back; it campaigns LeaderTimeout later.
	lastContact time.Time
	// backoff delays the next campaign after a failed one, longer for
	// lower-ranked members so the highest-ranked tends to win first.
	backoff time.Duration

	members map[string]Member
	config  Config
	table   partitions.TableID
	// preVoteTerm is the term the current pre-vote proposed.
	preVoteTerm uint64
	// votedAt is when this member last granted a vote to another member.
	votedAt time.Time
	// preemptAfter: no preemption before this (damping, transfers).
	preemptAfter   time.Time
	preemptStrikes int
	// termFloor is the lowest term a new campaign may use (wall-clock floor).
	termFloor uint64
	// voteFloor is the lowest term this member may vote in (after a restart
	// without a data dir).
	voteFloor uint64

	// candidate state
	phase         campaignPhase
	phaseDeadline time.Time
	probeAnswered bool
	votes         map[string]bool
	voteSentAt    time.Time
	transfer      bool
	preempt       bool

	// leader state
	electedAt     time.Time
	hbSeq         uint64
	hbSent        [hbHistory]time.Time
	acked         map[string]time.Time
	leaseStart    time.Time
	nextHeartbeat time.Time

	started bool
	outbox  []Message
}

// New returns a follower with the given persisted state (zero if none).
func New(opt Options, hard HardState) *Node {
	return &Node{
		opt:     opt,
		hard:    hard,
		role:    Follower,
		members: map[string]Member{},
		votes:   map[string]bool{},
		acked:   map[string]time.Time{},
	}
}

// Status is a read-only snapshot of the node.
type Status struct {
	Role      Role
	Term      uint64
	Leader    string
	VotedFor  string
	ElectedAt time.Time
	// LeaseStart is when the leader sent the newest heartbeat a majority
	// acknowledged; the leader lease runs LeaderLease from there.
	LeaseStart time.Time
	// PreemptAfter is when this member may preempt a leader again (damping
	// after lost leases, or after it handed leadership over).
	PreemptAfter time.Time
}

// Status returns the current state.
func (n *Node) Status() Status {
	return Status{Role: n.role, Term: n.hard.Term, Leader: n.leader, VotedFor: n.hard.VotedFor,
		ElectedAt: n.electedAt, LeaseStart: n.leaseStart, PreemptAfter: n.preemptAfter}
}

// IsLeader reports whether this member leads with a valid lease at now.
func (n *Node) IsLeader(now time.Time) bool {
	return n.role == Leader && n.leaseValid(now)
}

// HardState returns the persistent state and whether it changed since the
// last call.
func (n *Node) HardState() (HardState, bool) {
	changed := n.hardChanged
	n.hardChanged = false
	return n.hard, changed
}

// Outbox returns and clears the messages to send.
func (n *Node) Outbox() []Message {
	out := n.outbox
	n.outbox = nil
	return out
}

// SetMembers tells the node who exists and who is alive (from gossip).
func (n *Node) SetMembers(members []Member) {
	n.members = make(map[string]Member, len(members))
	for _, m := range members {
		n.members[m.Name] = m
	}
}

// SetConfig tells the node its current configuration and newest table.
func (n *Node) SetConfig(c Config, table partitions.TableID) {
	n.config = c
	n.table = table
}

// SetTermFloor sets the lowest term a new campaign may use. The host passes a
// wall-clock derived value so terms keep growing across a restart of the
// whole cluster without a disk.
func (n *Node) SetTermFloor(floor uint64) { n.termFloor = floor }

// SetVoteFloor refuses votes in terms at or below floor: after a restart
// without a data dir, this member cannot know whom it voted for before.
func (n *Node) SetVoteFloor(floor uint64) { n.voteFloor = floor }

func (n *Node) self() string { return n.opt.Self }

func (n *Node) rankOf(name string) (string, int) {
	if name == n.self() {
		return name, n.opt.Priority
	}
	return name, n.members[name].Priority
}

func (n *Node) outranks(a, b string) bool {
	an, ap := n.rankOf(a)
	bn, bp := n.rankOf(b)
	return Outranks(an, ap, bn, bp)
}

func (n *Node) alive(name string) bool {
	if name == n.self() {
		return true
	}
	m, ok := n.members[name]
	return ok && m.Alive
}

func (n *Node) send(m Message) {
	m.From = n.self()
	if m.Term == 0 {
		m.Term = n.hard.Term
	}
	n.outbox = append(n.outbox, m)
}

func (n *Node) setTerm(term uint64) {
	if term > n.hard.Term {
		n.hard.Term = term
		n.hard.VotedFor = ""
		n.hardChanged = true
	}
}

// becomeFollower steps down (or stays down) in the current term.
func (n *Node) becomeFollower(now time.Time, leader string) {
	n.role = Follower
	n.leader = leader
	n.lastContact = now
	n.phase = 0
	n.transfer, n.preempt = false, false
}

// leaseValid: the leader lease runs LeaderLease from the newest heartbeat
// send time a majority acknowledged.
func (n *Node) leaseValid(now time.Time) bool {
	return !n.leaseStart.IsZero() && now.Before(n.leaseStart.Add(n.opt.LeaderLease))
}

// hasValidLeader reports whether a follower currently hears from a live leader.
func (n *Node) hasValidLeader(now time.Time) bool {
	switch n.role {
	case Leader:
		return n.leaseValid(now)
	case Follower:
		return n.leader != "" && n.alive(n.leader) &&
			now.Sub(n.lastContact) < n.opt.LeaderTimeout
	}
	return false
}

// Tick advances time: campaigns, phase timeouts, heartbeats, lease checks.
func (n *Node) Tick(now time.Time) {
	if !n.started {
		n.started = true
		n.lastContact = now
	}
	switch n.role {
	case Leader:
		if !n.leaseValid(now) {
			n.lostLease(now)
			n.becomeFollower(now, "")
			return
		}
		if !now.Before(n.nextHeartbeat) {
			n.broadcastHeartbeat(now)
		}
	case Candidate:
		if now.Before(n.phaseDeadline) {
			return
		}
		if n.phase == phaseProbing && !n.probeAnswered {
			n.startPreVote(now)
			return
		}
		// A higher-ranked member answered and campaigns itself, or our vote
		// failed: step back and try again later if nobody leads by then.
		failedVote := n.phase == phaseVoting
		failedPreempt := failedVote && n.preempt
		n.becomeFollower(now, "")
		if failedVote {
			n.backoff = n.failedBackoff()
		}
		if failedPreempt {
			// A takeover that got past the pre-vote but lost the vote
			// bumped the term and so deposed the leader for nothing:
			// damp it like a lost lease.
			n.damp(now)
		}
	case Follower:
		if n.shouldCampaign(now) {
			n.campaign(now, false)
		}
	}
}

// failedBackoff waits longer the lower this member ranks among the voters, so
// that after a split vote the best-ranked candidate goes first.
func (n *Node) failedBackoff() time.Duration {
	pos := 0
	for _, v := range n.config.All() {
		if v != n.self() && n.alive(v) && n.outranks(v, n.self()) {
			pos++
		}
	}
	return time.Duration(pos+1) * n.opt.ElectionTimeout
}

func (n *Node) shouldCampaign(now time.Time) bool {
	if !n.config.Contains(n.self()) {
		return false // only voters lead
	}
	leaderOK := n.leader != "" && n.alive(n.leader) && now.Sub(n.lastContact) < n.opt.LeaderTimeout
	if !leaderOK {
		wait := n.opt.LeaderTimeout
		if n.leader != "" && !n.alive(n.leader) {
			// Gossip declared the leader dead: no need to wait for the
			// heartbeat timeout, but still let a fresh vote settle.
			wait = n.opt.ElectionTimeout
		}
		return now.Sub(n.lastContact) >= wait+n.backoff
	}
	return n.canPreempt(now, n.leader)
}

// canPreempt: a member that outranks the sitting leader and has been alive for
// Settle may take over (bully rule), when preemption is on.
func (n *Node) canPreempt(now time.Time, leader string) bool {
	if !n.opt.Preempt || leader == "" || leader == n.self() || !n.outranks(n.self(), leader) {
		return false
	}
	me, ok := n.members[n.self()]
	if ok && !me.AliveSince.IsZero() && now.Sub(me.AliveSince) < n.opt.Settle {
		return false
	}
	if now.Before(n.preemptAfter) {
		return false
	}
	return now.Sub(n.lastContact) < n.opt.LeaderTimeout || n.alive(leader)
}

// campaign starts an election: probe the higher-ranked live voters first, or
// go straight to voting when there are none or when handed over.
func (n *Node) campaign(now time.Time, transfer bool) {
	// Decide about preemption before forgetting the sitting leader:
	// hasLeaderToPreempt reads n.leader, and with it cleared first the
	// Preempt flag would never be set, and voters would refuse every
	// preempting candidate (TestPreemptingPreVoteCarriesFlag).
	n.preempt = !transfer && n.hasLeaderToPreempt(now)
	// The leader whose heartbeats stopped for a leader timeout is not worth
	// a probe, even while gossip still calls it alive: gossip takes seconds
	// (longer in bigger clusters) to declare a crashed member dead, and a
	// probe it cannot answer costs a whole election timeout. If it is alive
	// after all, it still leads: its voters refuse us while they hear it.
	silent := ""
	if !n.preempt && n.leader != "" && now.Sub(n.lastContact) >= n.opt.LeaderTimeout {
		silent = n.leader
	}
	n.role = Candidate
	n.leader = ""
	n.transfer = transfer
	n.backoff = 0
	n.probeAnswered = false
	if transfer {
		n.startVoting(now)
		return
	}
	var higher []string
	for _, v := range n.config.All() {
		if v != n.self() && v != silent && n.alive(v) && n.outranks(v, n.self()) {
			higher = append(higher, v)
		}
	}
	if len(higher) == 0 {
		n.startPreVote(now)
		return
	}
	n.phase = phaseProbing
	n.phaseDeadline = now.Add(n.opt.ElectionTimeout)
	for _, h := range higher {
		n.send(Message{Type: MsgProbe, To: h, LastTable: n.table})
	}
}

func (n *Node) hasLeaderToPreempt(now time.Time) bool {
	return n.leader != "" && n.canPreempt(now, n.leader)
}

// nextTerm is the term a campaign would use.
func (n *Node) nextTerm() uint64 {
	// Above the vote floor too: a campaign votes for itself, and after a
	// restart without a data dir this member may already have voted for
	// someone else in a term at or below the floor (a double vote, see
	// TestVoteFloorCoversOwnVote).
	// Above the newest table's term too: tokens are term*1000+n, and a
	// campaign below the term of a table this member applied would mint
	// tokens below that table's (possible without a data dir, when the
	// hard term was lost and the wall clock is behind the table's term).
	return max(n.hard.Term+1, n.table.Term+1, n.termFloor, n.voteFloor+1)
}

// startPreVote asks every voter whether it would vote for us in the next
// term, without changing any term.
func (n *Node) startPreVote(now time.Time) {
	n.role = Candidate
	n.phase = phasePreVoting
	n.phaseDeadline = now.Add(n.opt.ElectionTimeout)
	n.votes = map[string]bool{n.self(): true}
	// Remember the proposed term: with a wall-clock term floor, nextTerm
	// moves while the answers travel, and answers must be matched to the
	// term they were given for.
	term := n.nextTerm()
	n.preVoteTerm = term
	for _, v := range n.config.All() {
		if v == n.self() {
			continue
		}
		n.send(Message{Type: MsgPreVoteRequest, To: v, Term: term, LastTable: n.table, Preempt: n.preempt})
	}
	n.maybePreVoteWon(now)
}

func (n *Node) maybePreVoteWon(now time.Time) {
	if n.role == Candidate && n.phase == phasePreVoting &&
		n.config.HasQuorum(func(name string) bool { return n.votes[name] }) {
		n.startVoting(now)
	}
}

// wouldVote is the vote rule shared by pre-votes and votes (without the
// one-vote-per-term check, which only real votes record).
func (n *Node) wouldVote(now time.Time, m Message) bool {
	if m.Term < n.hard.Term || m.Term <= n.voteFloor {
		return false
	}
	// Leader stickiness: while we hear from a valid leader, a candidate may
	// only take over when handed over to, or when it outranks that leader
	// and preemption is on. This keeps a member with a flaky link from
	// deposing a healthy leader.
	if n.hasValidLeader(now) && n.leader != m.From && !m.Transfer &&
		!(m.Preempt && n.opt.Preempt && n.outranks(m.From, n.leader)) {
		return false
	}
	// Having just voted, the winner's first heartbeat is on its way: treat
	// the candidate we voted for as the leader-to-be for a leader timeout,
	// so another candidate cannot slip in between the vote and that
	// heartbeat (it would win nothing, but its higher term would depose
	// the winner).
	if !n.votedAt.IsZero() && now.Sub(n.votedAt) < n.opt.LeaderTimeout &&
		n.hard.VotedFor != "" && n.hard.VotedFor != m.From && !m.Transfer {
		return false
	}
	// Up-to-date rule: never help a candidate whose table is older.
	return !m.LastTable.Less(n.table)
}

// startVoting asks every voter for a vote in a new term.
func (n *Node) startVoting(now time.Time) {
	n.setTerm(n.nextTerm())
	n.hard.VotedFor = n.self()
	n.hardChanged = true
	n.role = Candidate
	n.phase = phaseVoting
	n.phaseDeadline = now.Add(n.opt.ElectionTimeout)
	n.votes = map[string]bool{n.self(): true}
	n.voteSentAt = now
	for _, v := range n.config.All() {
		if v == n.self() {
			continue
		}
		n.send(Message{Type: MsgVoteRequest, To: v, LastTable: n.table,
			Preempt: n.preempt, Transfer: n.transfer})
	}
	n.maybeWin(now)
}

func (n *Node) maybeWin(now time.Time) {
	if n.role != Candidate || n.phase != phaseVoting {
		return
	}
	if !n.config.HasQuorum(func(name string) bool { return n.votes[name] }) {
		return
	}
	n.role = Leader
	n.leader = n.self()
	n.phase = 0
	n.electedAt = now
	// The votes were given after the requests went out: the lease runs from
	// the request send time, like a heartbeat's.
	n.leaseStart = n.voteSentAt
	n.acked = map[string]time.Time{}
	for v := range n.votes {
		n.acked[v] = n.voteSentAt
	}
	n.hbSent = [hbHistory]time.Time{}
	n.broadcastHeartbeat(now)
}

// broadcastHeartbeat sends a heartbeat to every known member and voter: also
// non-voters need them, to renew their leases.
func (n *Node) broadcastHeartbeat(now time.Time) {
	n.hbSeq++
	n.hbSent[n.hbSeq%hbHistory] = now
	n.nextHeartbeat = now.Add(n.opt.HeartbeatInterval)
	n.acked[n.self()] = now
	n.updateLease()
	for _, name := range n.peers() {
		n.send(Message{Type: MsgHeartbeat, To: name, Seq: n.hbSeq})
	}
}

// peers lists every voter and live member other than self, sorted.
func (n *Node) peers() []string {
	var alive []string
	for name, m := range n.members {
		if m.Alive {
			alive = append(alive, name)
		}
	}
	return Peers(n.self(), n.config.All(), alive)
}

// updateLease moves leaseStart to the newest heartbeat send time that a
// majority has acknowledged.
func (n *Node) updateLease() {
	var best time.Time
	// Candidate start times are the distinct ack times; the newest one a
	// majority reached (each voter's ack time >= it) is the lease start.
	for _, t := range n.acked {
		if t.After(best) && n.config.HasQuorum(func(name string) bool {
			at, ok := n.acked[name]
			return ok && !at.Before(t)
		}) {
			best = t
		}
	}
	if best.After(n.leaseStart) {
		n.leaseStart = best
	}
}

// Step handles one message received at now.
func (n *Node) Step(now time.Time, m Message) {
	if !n.started {
		n.started = true
		n.lastContact = now
	}
	if n.role == Leader && !n.leaseValid(now) {
		// The lease ran out before a tick noticed (a pause, a GC): step
		// down here, with the damping a lost lease brings, before a newer
		// term in this message would step us down without it.
		n.lostLease(now)
		n.becomeFollower(now, "")
	}
	switch m.Type {
	case MsgProbe:
		n.onProbe(now, m)
	case MsgProbeAck:
		if n.role == Candidate && n.phase == phaseProbing {
			n.probeAnswered = true
		}
	case MsgPreVoteRequest:
		n.onPreVoteRequest(now, m)
	case MsgPreVoteResponse:
		n.onPreVoteResponse(now, m)
	case MsgVoteRequest:
		n.onVoteRequest(now, m)
	case MsgVoteResponse:
		n.onVoteResponse(now, m)
	case MsgHeartbeat:
		n.onHeartbeat(now, m)
	case MsgHeartbeatAck:
		n.onHeartbeatAck(now, m)
	case MsgTimeoutNow:
		if m.Term == n.hard.Term && m.From == n.leader && n.config.Contains(n.self()) {
			n.campaign(now, true)
		}
	}
}

func (n *Node) onProbe(now time.Time, m Message) {
	if !n.outranks(n.self(), m.From) {
		return
	}
	if n.role != Leader && n.table.Less(m.LastTable) {
		// The prober's table is newer than ours: we could not win its vote
		// (up-to-date rule), so answering "step back, I will lead" would
		// stall it behind a campaign that fails again and again, as a
		// restarted top-ranked member without a table did. Let it
		// campaign itself.
		return
	}
	switch {
	case n.role == Leader && n.leaseValid(now):
		// The prober lost our heartbeats; tell it we are here.
		n.send(Message{Type: MsgProbeAck, To: m.From})
		n.send(Message{Type: MsgHeartbeat, To: m.From, Seq: n.hbSeq})
	case n.role == Candidate:
		n.send(Message{Type: MsgProbeAck, To: m.From})
	case !n.hasValidLeader(now) && n.config.Contains(n.self()):
		n.send(Message{Type: MsgProbeAck, To: m.From})
		n.campaign(now, false)
	}
}

func (n *Node) onPreVoteRequest(now time.Time, m Message) {
	// A pre-vote changes nothing here: the answer says what a vote would be.
	granted := m.Term > n.hard.Term && n.wouldVote(now, m)
	// A refusal carries our own term (not max(m.Term, ours), which equals
	// the candidate's proposed term when we are behind it), or our vote
	// floor when the proposed term is at or below it: the candidate must
	// learn the term it has to exceed, or it proposes the same term forever
	// and nobody is elected (a livelock, see TestPreVoteRefusalTeachesTerm
	// and testdata/diskless_restart).
	term := m.Term
	if !granted {
		term = n.hard.Term
		if m.Term <= n.voteFloor {
			term = max(term, n.voteFloor)
		}
	}
	n.send(Message{Type: MsgPreVoteResponse, To: m.From, Term: term, Granted: granted})
}

func (n *Node) onPreVoteResponse(now time.Time, m Message) {
	if n.role != Candidate || n.phase != phasePreVoting {
		return
	}
	if !m.Granted && m.Term > n.hard.Term {
		// Someone is in a newer term already: follow it. (Refusals carry
		// the voter's own term, see onPreVoteRequest.)
		n.setTerm(m.Term)
		n.becomeFollower(now, "")
		return
	}
	if m.Granted && m.Term == n.preVoteTerm {
		n.votes[m.From] = true
		n.maybePreVoteWon(now)
	}
}

func (n *Node) onVoteRequest(now time.Time, m Message) {
	if !n.wouldVote(now, m) {
		// Refuse without adopting the term: a candidate that cannot win
		// must not depose anyone.
		n.send(Message{Type: MsgVoteResponse, To: m.From, Granted: false})
		return
	}
	if m.Term > n.hard.Term {
		n.setTerm(m.Term)
		if n.role != Follower {
			n.becomeFollower(now, "")
		}
	}
	if n.hard.VotedFor == "" || n.hard.VotedFor == m.From {
		n.hard.VotedFor = m.From
		n.hardChanged = true
		n.leader = ""
		n.lastContact = now // give the candidate time to win
		n.votedAt = now
		n.send(Message{Type: MsgVoteResponse, To: m.From, Granted: true})
		return
	}
	n.send(Message{Type: MsgVoteResponse, To: m.From, Granted: false})
}

func (n *Node) onVoteResponse(now time.Time, m Message) {
	if m.Term > n.hard.Term {
		n.setTerm(m.Term)
		n.becomeFollower(now, "")
		return
	}
	if m.Term != n.hard.Term || n.role != Candidate || n.phase != phaseVoting || !m.Granted {
		return
	}
	n.votes[m.From] = true
	n.maybeWin(now)
}

func (n *Node) onHeartbeat(now time.Time, m Message) {
	if m.Term < n.hard.Term {
		// Tell the stale leader about the newer term so it steps down.
		n.send(Message{Type: MsgHeartbeatAck, To: m.From, Seq: m.Seq})
		return
	}
	if n.role == Candidate && n.preempt && m.Term == n.hard.Term {
		// We are campaigning to replace this very leader: its heartbeats
		// must not cancel the campaign (they would, every interval, and a
		// preempting member below a silent higher-ranked one would never
		// get past probing). Keep acknowledging: it leads until we win.
		n.lastContact = now
		n.send(Message{Type: MsgHeartbeatAck, To: m.From, Seq: m.Seq})
		return
	}
	n.setTerm(m.Term)
	// A leader of the same term is impossible (one vote each); a newer
	// term wins.
	n.role = Follower
	n.phase = 0
	n.leader = m.From
	n.lastContact = now
	n.backoff = 0
	n.send(Message{Type: MsgHeartbeatAck, To: m.From, Seq: m.Seq})
}

func (n *Node) onHeartbeatAck(now time.Time, m Message) {
	if m.Term > n.hard.Term {
		n.setTerm(m.Term)
		n.becomeFollower(now, "")
		return
	}
	if n.role != Leader || m.Term != n.hard.Term || m.Seq == 0 || m.Seq > n.hbSeq || n.hbSeq-m.Seq >= hbHistory {
		return
	}
	sent := n.hbSent[m.Seq%hbHistory]
	if sent.After(n.acked[m.From]) {
		n.acked[m.From] = sent
		n.updateLease()
	}
}

// Transfer hands leadership to a named live voter: the leader steps down and
// the target campaigns at once; voters accept it despite the old leader.
func (n *Node) Transfer(now time.Time, to string) error {
	if n.role != Leader {
		return ErrNotLeader
	}
	if to == n.self() {
		return nil
	}
	if !n.config.Contains(to) || !n.alive(to) {
		return fmt.Errorf("%w: %q", ErrUnknownMember, to)
	}
	n.send(Message{Type: MsgTimeoutNow, To: to})
	n.becomeFollower(now, to)
	// An operator handed leadership over, usually away from the top of the
	// ring: do not take it straight back by preemption.
	n.preemptAfter = now.Add(TransferHold)
	return nil
}

// TransferHold is how long a leader that handed over does not preempt the
// member it handed over to.
const TransferHold = time.Minute

// lostLease damps a flaky member: each time it loses its leader lease it
// waits longer (2×Settle, doubling, capped at 128×Settle) before it may
// preempt again, so a member with a bad link at the top of the ring does not
// keep deposing healthy leaders. A leader that kept its lease for 32×Settle
// starts over.
func (n *Node) lostLease(now time.Time) {
	if now.Sub(n.electedAt) >= 32*n.opt.Settle {
		n.preemptStrikes = 0
	}
	n.damp(now)
}

// damp holds preemption off for 2×Settle, doubling with every strike.
func (n *Node) damp(now time.Time) {
	n.preemptAfter = now.Add(2 * n.opt.Settle << min(n.preemptStrikes, 6))
	n.preemptStrikes++
}

// StepDown makes a leader give up leadership now (shutdown, drain).
func (n *Node) StepDown(now time.Time) {
	if n.role != Follower {
		n.becomeFollower(now, "")
	}
}
