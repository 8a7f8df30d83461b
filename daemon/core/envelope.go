package core

import (
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// ProtocolVersion is the newest version of the peer message format, the one
// a member gossips that it reads. Version 2: voters are election names
// (name@identity) and tables carry Voters. Version 3: the same envelope,
// with tables in a compact binary form (see daemon/codec.go). A member
// reads MinProtocolVersion to ProtocolVersion and writes to each peer the
// newest version both read, so a rolling upgrade from version 2 keeps the
// cluster; members of version 1 cannot talk to either (docs/operations.md).
const ProtocolVersion = 3

// MinProtocolVersion is the oldest version a member still reads and writes.
const MinProtocolVersion = 2

// Envelope is one peer message between ringd members. Which fields are set
// depends on what it carries; the daemon encodes it for the wire.
type Envelope struct {
	From        string `json:"from"`
	Incarnation uint64 `json:"inc"`
	// Identity is the sender's voter identity (Options.Identity).
	Identity uint64 `json:"id"`
	To       string `json:"to"`

	// Election is set for election messages (votes, heartbeats, acks...).
	Election *election.Message `json:"el,omitempty"`

	// On heartbeats (leader -> member):
	// Renewed is the ack sequence the leader accepted as a lease renewal
	// for the receiving member (0: none yet).
	Renewed uint64 `json:"renewed,omitempty"`
	// KnownHoldings is the holdings sequence the leader knows for the
	// receiver's incarnation; a member whose holdings differ reports them.
	KnownHoldings uint64 `json:"known,omitempty"`
	// KnownIncarnation goes with KnownHoldings.
	KnownIncarnation uint64 `json:"knownInc,omitempty"`
	// TableID is the leader's newest table (heartbeats) or the member's
	// applied one (acks).
	TableID partitions.TableID `json:"table,omitempty"`
	// LeaderTail bounds the leader's own holdings (heartbeats): they end at
	// most this long after the heartbeat was sent, by the leader's clock,
	// unless a majority acknowledges a later heartbeat. Absent from a
	// leader of an older version, which bounds nothing.
	LeaderTail *time.Duration `json:"tail,omitempty"`
	// Lease is the member lease the leader grants (heartbeats): a renewal
	// runs this long from the member's ack, whatever the member's own
	// --lease. Absent from a leader of an older version.
	Lease *time.Duration `json:"lease,omitempty"`
	// Bounds (heartbeats and vote requests) bound the leases that may
	// still run: see LeaseBounds. Absent from a member of an older version.
	Bounds *LeaseBounds `json:"bounds,omitempty"`

	// On heartbeat acks (member -> leader):
	// AckSeq numbers the renewal request this ack makes.
	AckSeq uint64 `json:"ackSeq,omitempty"`
	// HoldingsSeq is the member's current holdings sequence.
	HoldingsSeq uint64 `json:"holdingsSeq,omitempty"`

	// Table is a full table (leader -> member, reliable).
	Table *partitions.Table `json:"tbl,omitempty"`
	// LastAck is, on a granted vote, the last heartbeat the voter
	// acknowledged (see AckRecord).
	LastAck *AckRecord `json:"lastAck,omitempty"`
	// Holdings is a holdings report (member -> leader, reliable; also on
	// granted votes).
	Holdings *partitions.Report `json:"holdings,omitempty"`
	// WantTable asks the leader to send its table.
	WantTable bool `json:"wantTable,omitempty"`
	// TransferTo asks the leader to hand leadership over to this member (an
	// operator's request made at another member).
	TransferTo string `json:"transferTo,omitempty"`
	// Freeze asks the leader to freeze (true) or unfreeze (false) the
	// assignment (an operator's request made at another member; reliable).
	Freeze *bool `json:"freeze,omitempty"`
	// TableFrozen goes with a binary Table (protocol 3), which does not
	// carry Table.Frozen: the daemon's codec moves it here and back.
	TableFrozen   bool           `json:"tblFrozen,omitempty"`
	TablePins     map[int]string `json:"tblPins,omitempty"`
	TableExcluded []string       `json:"tblExcluded,omitempty"`
	// TableStandbys are Table.Standbys as indexes into Table.Members;
	// TableReserved and TableRestarting are Table.Reserved and Restarting.
	TableStandbys   [][]int              `json:"tblStandbys,omitempty"`
	TableReserved   map[int]string       `json:"tblReserved,omitempty"`
	TableRestarting map[string]time.Time `json:"tblRestarting,omitempty"`
	// Pin asks the leader to pin a partition to a member (Member "":
	// unpin); Exclude to keep a member from owning any partition or let it
	// again (operators' requests made at another member; reliable).
	Pin     *PinRequest     `json:"pin,omitempty"`
	Exclude *ExcludeRequest `json:"exclude,omitempty"`
}

// PinRequest pins Partition to Member, or unpins it when Member is "".
type PinRequest struct {
	Partition int    `json:"p"`
	Member    string `json:"m,omitempty"`
}

// ExcludeRequest keeps Member from owning partitions (On) or lets it again.
type ExcludeRequest struct {
	Member string `json:"m"`
	On     bool   `json:"on,omitempty"`
}

// Outgoing is an envelope to send. Reliable ones go over memberlist's stream
// (TCP) channel; the rest best-effort over UDP.
type Outgoing struct {
	To       string
	Reliable bool
	Env      Envelope
}
