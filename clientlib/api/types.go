// Package api holds the JSON types of ringd's app-facing REST API. It is shared by
// the server (restapi) and the Go client (clientlib) and depends on nothing else,
// so an application importing the client does not pull in the server.
package api

// Partition is one partition this member's app may work on.
type Partition struct {
	ID int `json:"id" validate:"required"`
	// Token is the fencing token of this grant: every later grant of the
	// partition has a higher one. Below 2^53 (exact in JavaScript).
	Token uint64 `json:"token" format:"int64" validate:"required"`
	// State is "owned" (work on it) or "releasing" (finish and let go).
	State string `json:"state" enums:"owned,releasing" validate:"required"`
	// LeaseRemainingMs is how long the app may still work on this
	// partition, counted from when the answer was written: the member's
	// lease, or for a releasing partition its release deadline when that
	// comes first (after it, the partition goes to its next owner). Count
	// it from when you sent the request plus HeldMs, never from when the
	// answer arrived.
	LeaseRemainingMs int64 `json:"leaseRemainingMs" format:"int64" validate:"required"`
}

// Mine is the response of GET /partitions/mine.
type Mine struct {
	Node string `json:"node" validate:"required"`
	// Incarnation names this process of the member (decimal): pass it as
	// ?incarnation= with ?index= so that a poll never acknowledges anything
	// for another process (after a restart).
	Incarnation string `json:"incarnation" validate:"required"`
	Term        uint64 `json:"term" format:"int64" validate:"required"`
	Index       uint64 `json:"index" format:"int64" validate:"required"`
	Leader      string `json:"leader" validate:"required"`
	// Draining is true while the leader moves this member's partitions away
	// and gives it none: DrainReason says why ("admin": an operator's
	// drain; "app-liveness": the application did not poll within
	// --app-liveness-timeout, lifted by this very poll once the leader
	// hears of it; "shutdown": the member is stopping).
	Draining    bool   `json:"draining" validate:"required"`
	DrainReason string `json:"drainReason,omitempty" enums:"admin,app-liveness,shutdown"`
	// HeldMs is how long the server held this request (a long-poll) before
	// it answered: a partition's deadline is send time + HeldMs +
	// LeaseRemainingMs.
	HeldMs int64 `json:"heldMs" format:"int64" validate:"required"`
	// LeaseRemainingMs is how long this member's lease still runs; 0 when it has
	// none, and then Partitions is empty.
	LeaseRemainingMs int64       `json:"leaseRemainingMs" format:"int64" validate:"required"`
	Partitions       []Partition `json:"partitions" validate:"required"`
	// Standby lists the partitions this member stands by for (--standbys):
	// it is next in line for them, so its app may warm caches, but must
	// not work on them. Absent when there are none.
	Standby []Standby `json:"standby,omitempty"`
}

// Standby is one partition a member stands by for.
type Standby struct {
	ID int `json:"id" validate:"required"`
	// Rank is the member's place in the partition's standby list: 0 is
	// next in line.
	Rank int `json:"rank" validate:"required"`
	// Owner is the partition's owner now ("" while unassigned).
	Owner string `json:"owner"`
}

// Member is one member of the cluster as GET /cluster shows it.
type Member struct {
	Name string `json:"name" validate:"required"`
	// Rank is the position in the ring order (priority desc, name asc), 0 first.
	Rank     int    `json:"rank" validate:"required"`
	Priority int    `json:"priority" validate:"required"`
	Alive    bool   `json:"alive" validate:"required"`
	Draining bool   `json:"draining" validate:"required"`
	Leader   bool   `json:"leader" validate:"required"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// InConfig is true when the member is admitted to the table's members
	// (it may get partitions).
	InConfig bool `json:"inConfig" validate:"required"`
	// Voter is true when the member votes in elections and counts for the
	// majority (a voter, or a previous voter while the voters change). The
	// leader keeps --voters of them among the live members.
	Voter bool `json:"voter" validate:"required"`
	// Owned is how many partitions the table gives this member.
	Owned int `json:"owned" validate:"required"`
	// LeaseMs, LeaderLeaseMs and Load are the member's --lease,
	// --leader-lease and --load, from its gossip (absent for a member of an
	// older ringd, or one not heard from). Members may differ while
	// a rolling update changes them; the leader's are in force.
	LeaseMs       int64   `json:"leaseMs,omitempty" format:"int64"`
	LeaderLeaseMs int64   `json:"leaderLeaseMs,omitempty" format:"int64"`
	Load          float64 `json:"load,omitempty"`
	// Weight is the member's --weight, its share of the partitions
	// relative to the others (absent from an older ringd, which weighs 1).
	Weight float64 `json:"weight,omitempty"`
	// Zone is the member's --zone (a failure domain such as a Kubernetes
	// zone), absent when not set: standbys are chosen in other zones
	// than the owner's.
	Zone string `json:"zone,omitempty"`
	// Restarting is true while the member is away for a planned restart
	// and its partitions are reserved for it (--rejoin-grace).
	Restarting bool `json:"restarting,omitempty"`
}

// Cluster is the response of GET /cluster.
type Cluster struct {
	Node         string   `json:"node" validate:"required"`
	Leader       string   `json:"leader" validate:"required"`
	Term         uint64   `json:"term" format:"int64" validate:"required"`
	TableVersion uint64   `json:"tableVersion" format:"int64" validate:"required"`
	Partitions   int      `json:"partitions" validate:"required"`
	Members      []Member `json:"members" validate:"required"`
	// ForcedVoters, when present, are the voters an operator forced on this
	// member after the majority was lost (POST /admin/recover): it elects by
	// them until the recovered leader's first table replaces them.
	ForcedVoters []string `json:"forcedVoters,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error" validate:"required"`
}

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" whenever the process answers at all.
	Status string `json:"status" validate:"required"`
}

// IndexHeader is the response header of GET /partitions/mine that carries the
// view's Index, so a poller can read it without decoding the body and pass it back
// as ?index= on its next long-poll.
const IndexHeader = "X-Ringd-Index"

// Entry is one partition's row of the table as GET /partitions and
// GET /partitions/{id} show it.
type Entry struct {
	ID int `json:"id" validate:"required"`
	// Owner is "" while the partition is unassigned (between a release
	// and the next grant).
	Owner string `json:"owner" validate:"required"`
	// OwnerHTTPAddr is the owner's API address, for apps that forward work.
	OwnerHTTPAddr string `json:"ownerHttpAddr,omitempty"`
	Token         uint64 `json:"token" format:"int64" validate:"required"`
	// State is "owned", "releasing" or "unassigned".
	State string `json:"state" enums:"owned,releasing,unassigned" validate:"required"`
	// PinnedTo is the member an operator pinned the partition to (POST
	// /admin/pin), if any: it goes there while that member may own.
	PinnedTo string `json:"pinnedTo,omitempty"`
	// Standbys are the members next in line for the partition, first
	// first (--standbys K of them, in zones other than the owner's where
	// there are): on a failover the first that may take it becomes the
	// owner. Their apps may warm caches; they must not work on it.
	Standbys []string `json:"standbys,omitempty"`
	// ReservedFor is a member that is restarting (a planned restart
	// within --rejoin-grace): the partition is owned by nobody and kept
	// for that member until it is back, or the grace ends.
	ReservedFor string `json:"reservedFor,omitempty"`
}

// Table is the response of GET /partitions: the whole assignment as this
// member knows it.
type Table struct {
	Node string `json:"node" validate:"required"`
	// Index grows whenever the table or the membership this member sees
	// changes; pass it back as ?index= to wait for the next change.
	Index        uint64   `json:"index" format:"int64" validate:"required"`
	Term         uint64   `json:"term" format:"int64" validate:"required"`
	TableVersion uint64   `json:"tableVersion" format:"int64" validate:"required"`
	Leader       string   `json:"leader" validate:"required"`
	Members      []string `json:"members" validate:"required"`
	// Voters are the voters of the configuration as name@identity: a
	// member that restarted without its state runs under a new identity, so
	// a voter whose identity no member has any more is gone for good.
	Voters []string `json:"voters" validate:"required"`
	// PrevVoters are the previous voters while a change is in flight.
	PrevVoters []string `json:"prevVoters,omitempty"`
	// Frozen: an operator froze the assignment (POST /admin/freeze): no
	// rebalancing moves until POST /admin/unfreeze.
	Frozen bool `json:"frozen,omitempty"`
	// Excluded are the members an operator keeps from owning partitions
	// (POST /admin/exclude).
	Excluded   []string `json:"excluded,omitempty"`
	Partitions []Entry  `json:"partitions" validate:"required"`
}

// PinRequest is the body of POST /admin/pin: keep partition Partition with
// member Member (POST /admin/unpin takes Member empty or absent).
type PinRequest struct {
	Partition int    `json:"partition" validate:"required"`
	Member    string `json:"member,omitempty"`
}

// MemberRequest is the body of POST /admin/exclude and /admin/include.
type MemberRequest struct {
	Member string `json:"member" validate:"required"`
}

// Locate is the response of GET /partitions/locate?key=K.
type Locate struct {
	Key       string `json:"key" validate:"required"`
	Partition int    `json:"partition" validate:"required"`
	Entry
}

// Leader is the response of GET /leader.
type Leader struct {
	Leader   string `json:"leader" validate:"required"`
	Term     uint64 `json:"term" format:"int64" validate:"required"`
	HTTPAddr string `json:"httpAddr,omitempty"`
}

// Members is the response of GET /members.
type Members struct {
	Members []Member `json:"members" validate:"required"`
}

// Version is the response of GET /version: which build of ringd answers.
type Version struct {
	// Version is the release ("v1.2.3"), the module's pseudo-version for
	// a build from a checkout, or "dev".
	Version string `json:"version" validate:"required"`
	// Commit is the VCS revision it was built from ("-dirty" with local
	// changes), or "unknown".
	Commit    string `json:"commit" validate:"required"`
	GoVersion string `json:"goVersion" validate:"required"`
}

// Ready is the body of GET /readyz.
type Ready struct {
	Ready bool `json:"ready" validate:"required"`
	// Reason says what is missing when not ready.
	Reason string `json:"reason,omitempty"`
	// Error repeats Reason when not ready (503), so that the answer has
	// the shape of every other error too.
	Error string `json:"error,omitempty"`
}

// TransferRequest is the body of POST /admin/leader/transfer.
type TransferRequest struct {
	To string `json:"to" validate:"required"`
}

// Keys is the response of GET /admin/keys: the gossip keys installed on
// this member, by fingerprint (the first 8 bytes of the key's SHA-256, in
// hex); the keys themselves are never shown.
type Keys struct {
	Node    string `json:"node" validate:"required"`
	Primary string `json:"primary" validate:"required"`
	Keys    []Key  `json:"keys" validate:"required"`
}

// Key is one installed gossip key.
type Key struct {
	Fingerprint string `json:"fingerprint" validate:"required"`
	// Primary: the key this member encrypts with (all installed keys
	// decrypt).
	Primary bool `json:"primary" validate:"required"`
}

// KeyRequest is the body of POST /admin/keys/install, /use and /remove.
type KeyRequest struct {
	// Key is the standard base64 encoding of a 16, 24 or 32 byte AES key.
	Key string `json:"key" validate:"required"`
}

// RecoverRequest is the body of POST /admin/recover.
type RecoverRequest struct {
	// Voters are the names of the members that vote from now on: the
	// surviving members, each alive.
	Voters []string `json:"voters" validate:"required"`
}

// Result is the body of successful actions.
type Result struct {
	Status string `json:"status" validate:"required"`
}

// Change is one recent event the dashboard lists.
type Change struct {
	// At is RFC 3339 with milliseconds.
	At string `json:"at" validate:"required"`
	// Kind is "cluster" (leaders, members, voters, leases, planning),
	// "admin" (an operator's drain, undrain or leader transfer, with who
	// asked) or "move" (a partition reached its new owner).
	Kind string `json:"kind" enums:"cluster,admin,move" validate:"required"`
	What string `json:"what" validate:"required"`
}

// Kinds of Change.
const (
	ChangeCluster = "cluster"
	ChangeAdmin   = "admin"
	ChangeMove    = "move"
)

// Changes is the response of GET /changes: recent events, newest last. The
// last 100 moves and the last 100 other events are kept apart, so a big
// rebalance does not push the leader changes out.
type Changes struct {
	Changes []Change `json:"changes" validate:"required"`
}
