package core

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// Options configure a Core. The daemon fills them from its validated Config.
type Options struct {
	Self        string
	Incarnation uint64
	// Identity is this member's voter identity: the same across restarts
	// that keep their state (--data-dir), new otherwise (the daemon then
	// uses the incarnation). A voter is a name and an identity: a member
	// that lost its state cannot vote as the voter it was (it may have
	// voted in a term it does not remember) until a leader with a majority
	// makes its new identity a voter.
	Identity uint64
	Priority int
	// FirstIndex is where this incarnation's view index starts (see
	// partitions.NewOwnership); the daemon uses the wall-clock microsecond
	// of its start.
	FirstIndex uint64

	Partitions int
	Load       float64
	// Weight is this member's share of the partitions relative to the
	// others (rebalance.Config.Weights); 0 counts as 1.
	Weight float64
	// Zone is this member's zone (rebalance.Config.Zones), "" for none.
	Zone string
	// Standbys is how many standby owners a leader lists for each
	// partition (rebalance.Config.Standbys); the leader's is in force.
	Standbys int

	HeartbeatInterval time.Duration
	LeaderTimeout     time.Duration
	ElectionTimeout   time.Duration
	LeaderLease       time.Duration
	Lease             time.Duration
	Drift             float64
	SafetyMargin      time.Duration
	Settle            time.Duration
	// FlapHoldDown is how long a member that came back from an outage
	// within its process (a flap) waits before it gets partitions again,
	// doubling with each further flap; 0 turns flap damping off (a member
	// back waits Settle, as a new one). See members.go.
	FlapHoldDown   time.Duration
	ReleaseTimeout time.Duration
	// MoveBudget is how many partitions a leader lets be in planned motion
	// (releasing, for a rebalance) at once; 0: no limit. MoveCooldown is
	// how long after a partition got an owner a rebalance may move it
	// again; 0: at once. Neither holds back a drain, a leave or the grant
	// of a partition whose owner failed.
	MoveBudget   int
	MoveCooldown time.Duration
	Preempt      bool
	// Voters is how many members vote (0: DefaultVoters); the rest are
	// members without a vote.
	Voters int
	// DeadVoterTimeout: a voter dead this long is replaced by a live
	// member (0: at once).
	DeadVoterTimeout time.Duration
	// DeadMemberTimeout: a dead member leaves the member list (and this
	// core forgets it) after this long.
	DeadMemberTimeout time.Duration

	// BootstrapExpect: form the first configuration once this many members
	// are alive. BootstrapAlone: a lone member with no seeds may form a
	// one-member configuration. With neither, wait for a leader's table.
	BootstrapExpect int
	BootstrapAlone  bool

	// UnsafeGrantWithoutWaiting breaks the safety rules on purpose: the
	// leader grants partitions without waiting for releases or lease
	// expiry. Tests use it to show that the ownership checker catches a
	// double owner. Never set it in production.
	UnsafeGrantWithoutWaiting bool
}

// electionName is this member's election name.
func (o Options) electionName() string { return ElectionName(o.Self, o.Identity) }

// leaseSafe is how long after a member's last renewal its lease surely ended.
func (o Options) leaseSafe() time.Duration {
	return scale(o.Lease, o.Drift) + o.SafetyMargin
}

func scale(d time.Duration, drift float64) time.Duration {
	return time.Duration(float64(d) * (1 + drift))
}

// maxVoters is Voters, DefaultVoters when unset.
func (o Options) maxVoters() int {
	if o.Voters > 0 {
		return o.Voters
	}
	return DefaultVoters
}

// DefaultVoters is how many members vote when Options.Voters is 0: five
// voters survive two failures, and a few messages per heartbeat more than
// three cost nothing worth saving.
const DefaultVoters = 5

// MemberInfo is what gossip says about a member.
type MemberInfo struct {
	Name        string
	Incarnation uint64
	// Identity is the member's voter identity (see Options.Identity).
	Identity uint64
	Priority int
	Alive    bool
	Draining bool
	// Leaving: the member drains because it shuts down for good; the
	// leader takes its vote away at once.
	Leaving bool
	// HasTable: the member belongs to a cluster (it applied a table, or
	// kept a configuration across a restart). A member without one never
	// bootstraps while it sees such a member alive.
	HasTable bool
	// Weight is the member's share of the partitions (--weight); 0, from a
	// member of an older version, counts as 1.
	Weight float64
	// Zone is the member's --zone ("" for none).
	Zone string
	// Restarting: the member stops for a planned restart (--shutdown
	// restart) and asks the leader to keep its partitions, unowned, for
	// RejoinGrace after it saw the member go.
	Restarting  bool
	RejoinGrace time.Duration
}

// ElectionName is how the election knows a member: its name and its voter
// identity, so that a member that restarted without its state is a new
// voter, not the old one.
func ElectionName(name string, identity uint64) string {
	return name + electionNameSep + strconv.FormatUint(identity, 36)
}

const electionNameSep = "@"

// MemberOf returns the member name of an election name.
func MemberOf(electionName string) string { return memberOf(electionName) }

// memberOf returns the member name of an election name.
func memberOf(electionName string) string {
	name, _, _ := strings.Cut(electionName, electionNameSep)
	return name
}

// memberNames returns the member names of election names, each once, in
// their order.
func memberNames(electionNames []string) []string {
	var out []string
	for _, v := range electionNames {
		if n := memberOf(v); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Durable is what a member keeps across restarts with --data-dir, written
// (fsync) before anything that depends on it is sent: the election's term
// and vote, the voter identity they belong to, and the newest voter
// configuration it applied (so that it never bootstraps a cluster of its
// own, and votes like the voter it was).
type Durable struct {
	// Version is the format version (DurableVersion).
	Version  int                `json:"version"`
	Identity uint64             `json:"identity"`
	Election election.HardState `json:"election"`
	Config   SavedConfig        `json:"config"`
	// Bounds are the LeaseBounds kept with the last acknowledgement
	// (lastAck.bounds), stored before the ack or vote that carries them.
	Bounds *LeaseBounds `json:"bounds,omitempty"`
}

// DurableVersion is the version of the Durable format.
const DurableVersion = 1

// SavedConfig is a voter configuration and the newest table this member
// applied (at or after the one that carried the configuration).
type SavedConfig struct {
	// Table is the newest table applied: after a restart the member still
	// refuses votes to candidates with an older table, since the leader may
	// have counted its acknowledgement of this one (committed).
	Table      partitions.TableID `json:"table"`
	Voters     []string           `json:"voters,omitempty"`
	PrevVoters []string           `json:"prevVoters,omitempty"`
}

// Empty reports whether no configuration was saved.
func (s SavedConfig) Empty() bool { return len(s.Voters) == 0 }

// Core is one member's protocol state. Not safe for concurrent use: the
// daemon calls it from one loop.
type Core struct {
	opt Options
	el  *election.Node
	own *partitions.Ownership

	members memberTable
	// membersGen grows whenever members changes (SetMembers, SetDraining),
	// so that View rebuilds its member list only then (memberViews).
	membersGen  uint64
	memberViews memberViewCache
	// lastReap is when reapMembers last looked (see reapEvery).
	lastReap time.Time
	draining bool
	leaving  bool
	// restarting: SetRestarting was called (a planned restart).
	restarting bool
	// saved is the newest voter configuration applied (see Durable).
	saved SavedConfig
	// forced is a voter configuration an operator forced (ForceVoters)
	// after a majority of the voters was lost for good. It outranks the
	// table's configuration until a table of a later term than forcedTerm
	// carries it: the leader elected by it writes it into its first table.
	forced     *election.Config
	forcedTerm uint64
	// sawTable: a peer showed a table (heartbeat, probe, vote request,
	// ack); a member without one then waits for it instead of
	// bootstrapping a cluster of its own.
	sawTable bool

	leader *leaderState

	// member side of lease renewal: every heartbeat ack is a renewal
	// request, remembered with its send time until the leader answers.
	ackSeq    uint64
	ackSentAt map[uint64]time.Time

	reportedSeq uint64
	// reportApplied: a new table was applied; report to the leader even
	// if the holdings did not change (onTable).
	reportApplied  bool
	lastReportAt   time.Time
	lastWantTable  time.Time
	lastLeader     string
	lastTerm       uint64
	voteReports    map[string]partitions.Report
	voteReportTerm uint64
	// voteAcks are the AckRecords of the granted votes of voteReportTerm
	// (nil for a vote that carried none).
	voteAcks map[string]*AckRecord

	// acked is the last leader heartbeat this process acknowledged (see
	// handover.go); hbIn the heartbeat being handled, so that its ack can
	// be recognised; votePrior the term before the vote being answered;
	// termSeen and termPrior the current term and the one before it.
	acked     lastAck
	hbIn      *incomingHeartbeat
	votePrior uint64
	voteFrom  string
	voteInc   uint64
	// voteBounds are the LeaseBounds of the vote request being answered.
	voteBounds *LeaseBounds
	termSeen   uint64
	termPrior  uint64
	// leaseGiven is the member lease the current leader grants (its
	// --lease, from its heartbeats): renewals run this long.
	leaseGiven time.Duration

	// leaderDue asks flush to run the leader's planning.
	leaderDue bool

	// events and out wait for the host's next Ready; stored is the
	// Durable the host last confirmed stored (Advance).
	events     []Event
	out        []Outgoing
	stored     Durable
	storedOnce bool
}

// New returns a Core for a fresh incarnation with what it kept across the
// restart (zero without a data dir, or when it lost it).
func New(opt Options, kept Durable) *Core {
	hard := kept.Election
	if kept.Identity != opt.Identity {
		hard = election.HardState{} // another identity's votes are not ours
		kept.Config = SavedConfig{}
	}
	c := &Core{
		opt:   opt,
		saved: kept.Config,
		el: election.New(election.Options{
			Self: ElectionName(opt.Self, opt.Identity), Priority: opt.Priority,
			HeartbeatInterval: opt.HeartbeatInterval, LeaderTimeout: opt.LeaderTimeout,
			ElectionTimeout: opt.ElectionTimeout, LeaderLease: opt.LeaderLease,
			Settle: opt.Settle, Preempt: opt.Preempt,
		}, hard),
		own:         partitions.NewOwnership(opt.Self, opt.Incarnation, opt.ReleaseTimeout, opt.FirstIndex),
		members:     memberTable{},
		ackSentAt:   map[uint64]time.Time{},
		voteReports: map[string]partitions.Report{},
		voteAcks:    map[string]*AckRecord{},
		termSeen:    hard.Term,
		termPrior:   hard.Term,
		acked:       lastAck{bounds: keptBounds(opt, kept)},
		leaseGiven:  opt.Lease,
	}
	c.members[opt.Self] = &memberState{MemberInfo: MemberInfo{Name: opt.Self,
		Incarnation: opt.Incarnation, Identity: opt.Identity, Priority: opt.Priority, Alive: true, Weight: opt.Weight, Zone: opt.Zone}}
	c.syncElection()
	return c
}

// keptBounds are the bounds an earlier process of this voter kept, widened
// by this one's own settings.
func keptBounds(opt Options, kept Durable) LeaseBounds {
	b := opt.ownBounds()
	if kept.Identity == opt.Identity && kept.Bounds != nil {
		b = b.widen(*kept.Bounds)
	}
	return b
}

// self is this member's election name.
func (c *Core) self() string { return c.opt.electionName() }

// electionName is the election name of a member as gossip knows it now, ""
// for an unknown member.
func (c *Core) electionName(member string) string {
	if m := c.members[member]; m != nil {
		return ElectionName(member, m.Identity)
	}
	return ""
}

// saveConfig remembers, for Durable, the voter configuration of an applied
// table when it changed, and the id of every applied table. The id is
// stored before this member acknowledges the table (Ready persists before
// it sends): a leader counts that acknowledgement when it gives away a
// partition it let go of itself (committed), and a successor elected with
// this member's vote must have that table or a newer one, restart or not.
func (c *Core) saveConfig(t partitions.Table) {
	voters, prev := t.VoterSet()
	if len(voters) == 0 {
		return
	}
	if c.forced != nil {
		if t.ID.Term <= c.forcedTerm {
			// A table of the lost configuration: the forced one stays.
			if c.saved.Table.Less(t.ID) {
				c.saved.Table = t.ID
			}
			return
		}
		c.forced = nil // a leader of the forced configuration took over
	}
	if slices.Equal(voters, c.saved.Voters) && slices.Equal(prev, c.saved.PrevVoters) {
		if c.saved.Table.Less(t.ID) {
			c.saved.Table = t.ID
		}
		return
	}
	c.saved = SavedConfig{Table: t.ID, Voters: slices.Clone(voters), PrevVoters: slices.Clone(prev)}
}

// SetMembers updates the gossip view. Self is always alive.
func (c *Core) SetMembers(now time.Time, infos []MemberInfo) {
	seen := map[string]bool{c.opt.Self: true}
	changed := false
	for _, info := range infos {
		if info.Name == c.opt.Self || info.Name == "" {
			continue
		}
		seen[info.Name] = true
		m := c.members[info.Name]
		if m == nil {
			m = &memberState{}
			c.members[info.Name] = m
		}
		before := m.MemberInfo
		m.observe(now, info, c.opt.FlapHoldDown)
		changed = changed || m.MemberInfo != before
	}
	for name, m := range c.members {
		if !seen[name] && m.Alive {
			m.gone(now)
			changed = true
		}
	}
	if c.reapMembers(now) {
		changed = true
	}
	self := c.members[c.opt.Self]
	self.Draining, self.Leaving = c.draining, c.leaving
	if self.aliveSince.IsZero() {
		self.aliveSince = now
		changed = true // the election reads it (the settle rule)
	}
	if changed {
		// Only then: gossip also wakes the host for changes that do
		// not show here (a second process of a member, a dead node
		// forgotten), and the member views built for the last
		// generation stay right.
		c.membersGen++
		c.syncElection()
	} else {
		c.syncElectionConfig()
	}
}

// reapEvery is how often reapMembers looks for members to forget.
const reapEvery = time.Second

// reapMembers forgets members dead for DeadMemberTimeout that the table no
// longer lists, so that churn under new names (every rollout) keeps the
// member map bounded.
func (c *Core) reapMembers(now time.Time) (reaped bool) {
	// Once a second is precise enough for a timeout of a minute, and a
	// look at every member on each tick and gossip change was a tenth of
	// a 500-member cluster's CPU (issue 11, figure e).
	if c.opt.DeadMemberTimeout <= 0 || (!c.lastReap.IsZero() && now.Sub(c.lastReap) < reapEvery && now.After(c.lastReap)) {
		return false
	}
	c.lastReap = now
	t := c.own.Table()
	for name, m := range c.members {
		if !m.Alive && name != c.opt.Self && now.Sub(m.deadSince) >= c.opt.DeadMemberTimeout &&
			!slices.Contains(t.Members, name) && !slices.ContainsFunc(slices.Concat(t.Voters, t.PrevVoters),
			func(v string) bool { return memberOf(v) == name }) {
			delete(c.members, name)
			reaped = true
		}
	}
	if reaped {
		c.membersGen++
	}
	return reaped
}

func (c *Core) syncElection() {
	list := make([]election.Member, 0, len(c.members))
	for _, m := range c.members {
		list = append(list, election.Member{Name: m.electionName(), Priority: m.Priority,
			Alive: m.Alive, AliveSince: m.aliveSince})
	}
	c.el.SetMembers(list)
	c.syncElectionConfig()
}

// syncElectionConfig gives the election the configuration and the newest
// table id.
func (c *Core) syncElectionConfig() {
	id := c.own.Table().ID
	if id.Less(c.saved.Table) {
		id = c.saved.Table
	}
	c.el.SetConfig(c.electionConfig(), id)
}

// electionConfig is the configuration (election names) from the newest
// table; before any, the one this member saved before a restart; without
// that, the bootstrap configuration, unless a peer showed a table (then this
// member waits for it: it must never form a cluster of its own while one
// exists within reach).
func (c *Core) electionConfig() election.Config {
	if c.forced != nil {
		return *c.forced
	}
	t := c.own.Table()
	if len(t.Partitions) > 0 {
		voters, prev := t.VoterSet()
		return election.Config{Voters: voters, Prev: prev}
	}
	switch {
	case !c.saved.Empty():
		return election.Config{Voters: c.saved.Voters, Prev: c.saved.PrevVoters}
	case c.sawTable || c.clusterInSight():
		return election.Config{}
	case c.opt.BootstrapExpect > 0:
		var alive []string
		for name, m := range c.members {
			if m.Alive {
				alive = append(alive, ElectionName(name, m.Identity))
			}
		}
		if len(alive) < c.opt.BootstrapExpect {
			return election.Config{}
		}
		sort.Strings(alive)
		return election.Config{Voters: alive}
	case c.opt.BootstrapAlone:
		return election.Config{Voters: []string{c.self()}}
	}
	return election.Config{}
}

// Errors of ForceVoters.
var (
	ErrForceEmpty    = errors.New("name at least one member to vote")
	ErrForceNotAlive = errors.New("a forced voter must be a member this one sees alive")
	ErrForceLeader   = errors.New("a leader is in office: forcing the voters is only for a cluster that lost the majority of its voters for good")
)

// ForceVoters replaces the voter configuration with the named members,
// without the agreement of the configuration in force: the recovery after
// a majority of the voters was lost for good (as Raft's peers.json). Run
// it on every surviving member with the same names; the members named then
// elect a leader among themselves, which writes the configuration into its
// first table, and every member adopts it from there. It is safe only if
// the voters left out are really gone: a majority of the old configuration
// that still runs somewhere could elect a second leader.
func (c *Core) ForceVoters(now time.Time, names []string) error {
	if len(names) == 0 {
		return ErrForceEmpty
	}
	// A leader in office renews this member's lease (voters and the rest
	// alike); a member that still names a leader it no longer hears from
	// (a member without a vote never campaigns, so never forgets it) is
	// not refused.
	if st := c.el.Status(); st.Role == election.Leader || c.own.LeaseValid(now) {
		return fmt.Errorf("%w (%s, term %d)", ErrForceLeader, memberOf(st.Leader), st.Term)
	}
	var voters []string
	for _, name := range names {
		m := c.members[name]
		if m == nil || !m.Alive {
			return fmt.Errorf("%w: %q", ErrForceNotAlive, name)
		}
		en := ElectionName(name, m.Identity)
		if !slices.Contains(voters, en) {
			voters = append(voters, en)
		}
	}
	sort.Strings(voters)
	c.forced = &election.Config{Voters: voters}
	id := c.own.Table().ID
	if id.Less(c.saved.Table) {
		id = c.saved.Table
	}
	c.forcedTerm = id.Term
	c.saved = SavedConfig{Table: id, Voters: slices.Clone(voters)}
	c.syncElectionConfig()
	c.flush(now)
	return nil
}

// HasTable reports whether this member belongs to a cluster: it applied a
// table or kept a configuration (the daemon gossips it, see
// MemberInfo.HasTable).
func (c *Core) HasTable() bool { return c.own.Table().ID != (partitions.TableID{}) || !c.saved.Empty() }

// clusterInSight reports whether gossip shows a live member that belongs to a
// cluster.
func (c *Core) clusterInSight() bool {
	for name, m := range c.members {
		if name != c.opt.Self && m.Alive && m.HasTable {
			return true
		}
	}
	return false
}

// noteTable records that a peer has a table (see sawTable).
func (c *Core) noteTable(id partitions.TableID) {
	if id != (partitions.TableID{}) && !c.sawTable {
		c.sawTable = true
		c.syncElection()
	}
}

// SetDraining marks this member draining: the leader moves its partitions
// away. The daemon also announces it in gossip metadata.
func (c *Core) SetDraining(d bool) {
	c.draining = d
	c.members[c.opt.Self].Draining = d
	c.membersGen++
}

// SetLeaving marks this member leaving for good (a graceful shutdown): it
// drains, and the leader replaces it among the voters at once (a member that
// only drains keeps its vote). There is no way back.
func (c *Core) SetLeaving() {
	c.SetDraining(true)
	c.leaving = true
	c.members[c.opt.Self].Leaving = true
	c.membersGen++
}

// SetRestarting marks this member as stopping for a planned restart
// (--shutdown restart): it drains, but the leader keeps its partitions for
// it, owned by nobody, until it is back under the same name or grace has
// passed; it keeps its vote. There is no way back within this process.
func (c *Core) SetRestarting(grace time.Duration) {
	c.SetDraining(true)
	c.restarting = true
	self := c.members[c.opt.Self]
	self.Restarting, self.RejoinGrace = true, grace
	c.membersGen++
}

// Restarting reports whether SetRestarting was called.
func (c *Core) Restarting() bool { return c.restarting }

// Leaving reports whether this member is leaving (SetLeaving).
func (c *Core) Leaving() bool { return c.leaving }

// Draining reports whether this member is draining.
func (c *Core) Draining() bool { return c.draining }

// Step handles one peer message received at now.
func (c *Core) Step(now time.Time, env Envelope) {
	if env.From == "" || env.From == c.opt.Self {
		return
	}
	c.started(now)
	c.noteTable(env.TableID)
	if env.Table != nil {
		c.noteTable(env.Table.ID)
	}
	if m := env.Election; m != nil {
		c.noteTable(m.LastTable)
		m.From = ElectionName(env.From, env.Identity)
		m.To = c.self()
		if m.Type == election.MsgVoteResponse && m.Granted && m.Term == c.el.Status().Term {
			// Only votes of the term being campaigned for (the election
			// counts no others): a late vote of an earlier campaign must
			// not wipe the records of the votes that count.
			if c.voteReportTerm != m.Term {
				c.voteReports = map[string]partitions.Report{}
				c.voteAcks = map[string]*AckRecord{}
				c.voteReportTerm = m.Term
			}
			if env.Holdings != nil {
				c.voteReports[env.From] = *env.Holdings
			}
			c.voteAcks[m.From] = env.LastAck
		}
		switch m.Type {
		case election.MsgHeartbeat:
			c.hbIn = &incomingHeartbeat{from: m.From, term: m.Term, member: env.From,
				inc: env.Incarnation, tail: env.LeaderTail, bounds: env.Bounds}
			defer func() { c.hbIn = nil }()
		case election.MsgVoteRequest:
			c.votePrior = c.el.Status().Term
			c.voteFrom = env.From
			c.voteInc = env.Incarnation
			c.voteBounds = env.Bounds
		}
		c.el.Step(now, *m)
		st := c.el.Status()
		switch m.Type {
		case election.MsgHeartbeat:
			if st.Leader == m.From && st.Term == m.Term {
				c.onHeartbeat(now, env)
			}
		case election.MsgHeartbeatAck:
			if c.leader != nil && m.Term == c.leader.term {
				c.leader.onAck(now, env, c.el.IsLeader(now))
			}
		}
	}
	if env.Table != nil {
		c.onTable(now, *env.Table)
	}
	if env.Holdings != nil && env.Election == nil && c.leader != nil {
		c.leader.onReport(env, *env.Holdings)
		c.leaderDue = true // a release may let a partition move on now
	}
	if env.WantTable && c.leader != nil && c.members[env.From] != nil {
		// Only to members gossip knows: a made-up sender name must not make
		// the daemon open a connection (and a sender) for it.
		c.sendTable(env.From)
	}
	if env.Freeze != nil && c.leader != nil {
		c.leader.setFrozen(now, *env.Freeze, env.From)
	}
	if r := env.Pin; r != nil && c.leader != nil {
		c.leader.setPin(now, r.Partition, r.Member, env.From)
	}
	if r := env.Exclude; r != nil && c.leader != nil {
		c.leader.setExcluded(now, r.Member, r.On, env.From)
	}
	if env.TransferTo != "" && c.leader != nil {
		// A stale or bad request changes nothing, but the operator who made
		// it at another member should find out why in this leader's log.
		if err := c.el.Transfer(now, c.electionName(env.TransferTo)); err != nil {
			c.emit(Event{Kind: EventTransferFailed, At: now, From: env.From, To: env.TransferTo, Err: err})
		}
	}
	c.flush(now)
}

// onHeartbeat handles the lease and table fields of the current leader's
// heartbeat.
func (c *Core) onHeartbeat(now time.Time, env Envelope) {
	// A lapsed lease comes back only together with the leader's newest
	// table: while it lapsed, the leader may have given away grants that
	// our older table still lists as pending for us, and Renew would start
	// them (a paused member resuming with stale pending grants would hold
	// them next to their new owners).
	// With the lease still valid, Renew starts nothing.
	upToDate := !c.own.Table().ID.Less(env.TableID) || c.own.LeaseValid(now)
	if env.Lease != nil && *env.Lease > 0 {
		// The leader's --lease, not ours: it counts our lease out with its
		// own (a rolling change of --lease leaves members on both).
		c.leaseGiven = *env.Lease
	} else {
		c.leaseGiven = c.opt.Lease // a leader of an older version: the same settings as ours
	}
	if sent, ok := c.ackSentAt[env.Renewed]; ok && env.Renewed != 0 && upToDate {
		// The lease runs from when we asked, by our own clock: a late
		// answer never stretches it.
		c.own.Renew(now, sent.Add(c.leaseGiven))
	}
	if c.own.Table().ID.Less(env.TableID) && now.Sub(c.lastWantTable) >= c.opt.HeartbeatInterval {
		c.lastWantTable = now
		c.send(env.From, false, Envelope{WantTable: true})
	}
	if (env.KnownIncarnation != c.opt.Incarnation || env.KnownHoldings != c.own.HoldingsSeq()) &&
		now.Sub(c.lastReportAt) >= c.opt.HeartbeatInterval {
		c.sendReport(now, env.From)
	}
}

func (c *Core) onTable(now time.Time, t partitions.Table) {
	if len(t.Partitions) != c.opt.Partitions || t.ID.Term < c.el.Status().Term || t.ID.Less(c.saved.Table) {
		return // another cluster's shape, or a stale leader's table
	}
	if c.own.Apply(now, c.startable(t)) {
		c.saveConfig(t)
		c.syncElectionConfig() // a table changes no member, only the configuration
		// Tell the leader at once (flush): it waits for a majority to
		// apply a table that freed its own partitions (selfFreed), and
		// heartbeat acks would say so only a heartbeat later.
		c.reportApplied = true
	}
}

// startable returns t without the grants to this process that it must not
// start: a grant from an earlier term than the table's that it does not
// already work on (owned or releasing, same token). A new leader copies the
// entries of the newest table it has, and such an entry may be a grant that
// this member never started and that a later table, which the new leader
// never saw, replaced with a higher token: started now, it would run after
// the higher token (fencing backwards),
// or, if still pending, next to the newer owner. Left out, this member
// reports that it does not hold it and the leader grants it again with a
// token of its own term.
func (c *Core) startable(t partitions.Table) partitions.Table {
	var held map[int]partitions.Holding
	var out []partitions.Entry
	for p, e := range t.Partitions {
		if e.Owner != c.opt.Self || e.Incarnation != c.opt.Incarnation || termOf(e.Token) >= t.ID.Term {
			continue
		}
		if held == nil {
			held = map[int]partitions.Holding{}
			for _, h := range c.own.Report().Items {
				held[h.ID] = h
			}
		}
		if h, ok := held[p]; ok && h.Token == e.Token && h.State != partitions.Pending {
			continue // ours already: it continues under the new leader
		}
		if out == nil {
			out = append([]partitions.Entry(nil), t.Partitions...)
		}
		out[p] = partitions.Entry{}
	}
	if out != nil {
		t.Partitions = out
	}
	return t
}

// Tick advances time.
func (c *Core) Tick(now time.Time) {
	c.started(now)
	if c.reapMembers(now) {
		c.syncElection()
	}
	c.el.Tick(now)
	c.leaderDue = true
	c.flush(now)
}

// started notes the time of the first input: before it, this process
// acknowledged no heartbeat (see AckRecord.Age).
func (c *Core) started(now time.Time) {
	if c.acked.at.IsZero() {
		c.acked.at = now
	}
}

// incomingHeartbeat is a leader heartbeat being handled by Step.
type incomingHeartbeat struct {
	from   string // election name
	term   uint64
	member string
	inc    uint64
	tail   *time.Duration
	bounds *LeaseBounds
}

// newLeader starts this member's term as leader, won at now, from its
// newest table, what its voters reported with their votes, and what the
// votes say about the leaders before (fromVotes).
func (c *Core) newLeader(now time.Time, term uint64) *leaderState {
	reports := map[string]partitions.Report{}
	self := c.acked.record(now, c.termPrior)
	votes := []*AckRecord{&self}
	if c.voteReportTerm == term {
		for name, r := range c.voteReports {
			reports[name] = r
		}
		for _, rec := range c.voteAcks {
			votes = append(votes, rec)
		}
	}
	reports[c.opt.Self] = c.own.Report()
	pred := fromVotes(now, c.opt, votes)
	if c.forced != nil {
		pred.prevKnown = false // the votes need not intersect the majority that renewed the old leader
	}
	return newLeaderState(c.opt, c.members, c.emit, now, term, c.own.Table(), c.electionConfig(), c.forced != nil, reports, pred)
}

// flush runs after every input: election outbox, role changes, leader
// duties, lease expiry, and holdings reports.
func (c *Core) flush(now time.Time) {
	st := c.el.Status()
	if st.Term != c.termSeen {
		c.termPrior, c.termSeen = c.termSeen, st.Term
	}
	switch {
	case st.Role == election.Leader && (c.leader == nil || c.leader.term != st.Term):
		// A grant of an older term that this member never started may
		// have been given to another member, with a higher token, by a
		// leader whose table we never saw. The leader renews itself just
		// below, which would start it: let it go first (the new table
		// grants it again if it is still ours to have).
		c.own.DropPending(func(_ int, token uint64) bool { return termOf(token) < st.Term })
		c.leader = c.newLeader(now, st.Term)
		c.emit(c.leader.electedEvent(now))
	case st.Role != election.Leader && c.leader != nil:
		c.leader = nil
	}
	if st.Leader != c.lastLeader || st.Term != c.lastTerm {
		c.lastLeader, c.lastTerm = st.Leader, st.Term
		c.own.Bump()
	}
	if c.leader != nil && c.el.IsLeader(now) {
		// The leader renews itself only on a majority's acknowledgement,
		// and only for its leader lease: its lease runs LeaderLease from
		// the newest heartbeat a majority acked (a lease it got as a
		// member before runs on). So its successor need not wait a whole
		// lease for the partitions of a leader that crashed
		// (LeaderTail, handover.go).
		c.own.Renew(now, st.LeaseStart.Add(c.opt.LeaderLease))
		if c.leaderDue {
			// Planning runs on ticks and on reports, not on every ack.
			c.leaderDue = false
			c.leaderTick(now)
		}
	}
	c.own.Tick(now)
	c.wrapElection(now)
	if c.own.HoldingsSeq() != c.reportedSeq || c.reportApplied {
		c.reportApplied = false
		if c.leader != nil {
			c.leader.selfReport(now, c.own.Report(), c.el.IsLeader(now))
			c.reportedSeq = c.own.HoldingsSeq()
		} else if st.Leader != "" {
			c.sendReport(now, memberOf(st.Leader))
		}
	}
	for seq, at := range c.ackSentAt {
		if now.Sub(at) > max(c.opt.Lease, c.leaseGiven) {
			delete(c.ackSentAt, seq)
		}
	}
}

// wrapElection turns the election's messages into envelopes, adding the
// lease and holdings fields they carry.
func (c *Core) wrapElection(now time.Time) {
	for _, m := range c.el.Outbox() {
		m := m
		env := Envelope{Election: &m}
		switch m.Type {
		case election.MsgHeartbeat:
			if c.leader != nil {
				c.leader.fillHeartbeat(now, &env, memberOf(m.To))
			}
			// Were this the last heartbeat a majority acknowledges, our
			// own lease would run at most this much longer.
			tail := max(c.own.LeaseUntil().Sub(now), c.opt.LeaderLease)
			env.LeaderTail = &tail
		case election.MsgHeartbeatAck:
			if hb := c.hbIn; hb != nil && m.To == hb.from && m.Term == hb.term {
				// A real acknowledgement (not a stale leader being told
				// of a newer term): it may extend that leader's lease.
				c.acked.ackedHeartbeat(now, hb.term, hb.member, hb.inc, hb.tail, orOwn(hb.bounds, c.opt), c.opt.ownBounds())
			}
			c.ackSeq++
			c.ackSentAt[c.ackSeq] = now
			env.AckSeq = c.ackSeq
			env.HoldingsSeq = c.own.HoldingsSeq()
			env.TableID = c.own.Table().ID
		case election.MsgVoteRequest:
			// A winner's lease runs from its request: the voters keep
			// how long leases under it may run (lastAck.votedFor).
			b := c.opt.ownBounds()
			env.Bounds = &b
		case election.MsgTimeoutNow:
			// A lost hand-over costs a leader timeout: send it on the
			// reliable channel.
			c.send(memberOf(m.To), true, env)
			continue
		case election.MsgVoteResponse:
			if m.Granted {
				// Votes carry holdings so a new leader starts from what
				// is really held, and the last heartbeat acknowledged so
				// it knows how long its predecessors may hold.
				r := c.own.Report()
				env.Holdings = &r
				rec := c.acked.record(now, c.votePrior)
				env.LastAck = &rec
				// From now on our last acknowledgement is this vote: if the
				// candidate wins, its lease runs from its request.
				if memberOf(m.To) == c.voteFrom {
					c.acked.votedFor(now, m.Term, c.voteFrom, c.voteInc, orOwn(c.voteBounds, c.opt))
				}
			}
		}
		c.send(memberOf(m.To), false, env)
	}
}

func (c *Core) sendReport(now time.Time, to string) {
	r := c.own.Report()
	c.lastReportAt = now
	c.reportedSeq = r.Seq
	c.send(to, true, Envelope{Holdings: &r})
}

func (c *Core) sendTable(to string) {
	t := c.own.Table()
	if len(t.Partitions) == 0 {
		return
	}
	c.send(to, true, Envelope{Table: &t})
}

func (c *Core) send(to string, reliable bool, env Envelope) {
	env.From = c.opt.Self
	env.Incarnation = c.opt.Incarnation
	env.Identity = c.opt.Identity
	env.To = to
	c.out = append(c.out, Outgoing{To: to, Reliable: reliable, Env: env})
}

// AppAck records that the app saw the view up to index (a long-poll with
// ?index=): releases it was told about are complete.
func (c *Core) AppAck(now time.Time, index uint64) {
	if c.own.Ack(index) {
		c.leaderDue = true
		c.flush(now)
	}
}

// Release completes the release of one partition on the app's word.
func (c *Core) Release(now time.Time, id int, token uint64) error {
	if err := c.own.Release(id, token); err != nil {
		return err
	}
	c.leaderDue = true
	c.flush(now)
	return nil
}

// ErrNoLeader: there is no leader to ask right now.
var ErrNoLeader = errors.New("no leader")

// SetFrozen freezes or unfreezes the assignment (maintenance mode, see
// partitions.Table.Frozen): directly when this member leads, otherwise by
// asking the leader over the reliable channel. The change shows in the
// leader's next table.
func (c *Core) SetFrozen(now time.Time, frozen bool) error {
	return c.toLeader(now, Envelope{Freeze: &frozen}, func(l *leaderState) { l.setFrozen(now, frozen, c.opt.Self) })
}

// SetPin pins partition p to member (member "": unpins it), at the leader or
// by asking it; ErrNoLeader when there is none.
func (c *Core) SetPin(now time.Time, p int, member string) error {
	if p < 0 || p >= c.opt.Partitions {
		return fmt.Errorf("no partition %d (partitions 0..%d)", p, c.opt.Partitions-1)
	}
	return c.toLeader(now, Envelope{Pin: &PinRequest{Partition: p, Member: member}}, func(l *leaderState) {
		l.setPin(now, p, member, c.opt.Self)
	})
}

// SetExcluded keeps member from owning partitions (on) or lets it again, at
// the leader or by asking it.
func (c *Core) SetExcluded(now time.Time, member string, on bool) error {
	return c.toLeader(now, Envelope{Exclude: &ExcludeRequest{Member: member, On: on}}, func(l *leaderState) {
		l.setExcluded(now, member, on, c.opt.Self)
	})
}

// toLeader runs do at the leader, or sends env to it on the reliable
// channel.
func (c *Core) toLeader(now time.Time, env Envelope, do func(*leaderState)) error {
	st := c.el.Status()
	switch {
	case c.leader != nil && st.Role == election.Leader:
		do(c.leader)
	case st.Leader == "":
		return ErrNoLeader
	default:
		c.send(memberOf(st.Leader), true, env)
	}
	c.flush(now)
	return nil
}

// Frozen reports whether the newest table this member applied freezes the
// assignment.
func (c *Core) Frozen() bool { return c.own.Table().Frozen }

// Transfer hands leadership over to a named member: directly when this member
// leads, otherwise by asking the leader.
func (c *Core) Transfer(now time.Time, to string) error {
	st := c.el.Status()
	switch {
	case st.Role == election.Leader:
		el := c.electionName(to)
		if el == "" {
			return fmt.Errorf("%w: %q", election.ErrUnknownMember, to)
		}
		if err := c.el.Transfer(now, el); err != nil {
			return err
		}
	case st.Leader == "":
		return ErrNoLeader
	default:
		if m := c.members[to]; m == nil || !m.Alive {
			return fmt.Errorf("%w: %q", election.ErrUnknownMember, to)
		}
		c.send(memberOf(st.Leader), false, Envelope{TransferTo: to})
	}
	c.flush(now)
	return nil
}
