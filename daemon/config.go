package daemon

import (
	"crypto/tls"
	"os"
	"slices"
	"time"

	"github.com/ringd/ringd/rebalance"
)

// Config is everything a ringd member needs to run. Every field is settable
// from the command line (cmd/ringd), as RINGD_<FLAG> and from a config file.
// DefaultConfig gives LAN defaults; Resolve checks every field, naming each bad
// one with its bound, and reads the files the settings name.
type Config struct {
	// Name is this member's stable name (pod name in a StatefulSet). It must be
	// unique in the cluster.
	Name string
	// GossipAddr is the host:port memberlist binds to.
	GossipAddr string
	// AdvertiseAddr is the host:port other members use to reach us, when it
	// differs from GossipAddr (NAT, 0.0.0.0 binds).
	AdvertiseAddr string
	// HTTPAddr is the host:port of the app-facing REST API (and of the
	// admin routes).
	HTTPAddr string
	// HTTPAdvertiseAddr is the API address other members are told (shown in
	// /cluster and as a partition owner's address). Empty: derived, see
	// advertisedHTTPAddr.
	HTTPAdvertiseAddr string
	// OpsAddr, when set, is a second listener serving only GET /healthz,
	// /readyz and /metrics: what the kubelet and Prometheus reach on the pod
	// IP while the API stays on loopback.
	OpsAddr string
	// Join lists seed addresses (host or host:port). DNS names are resolved
	// again on every attempt, so a headless Service works as a seed.
	Join []string
	// Partitions is P, the fixed number of partitions 0..P-1. Every member of a
	// cluster must use the same value.
	Partitions int
	// Load is the bounded-load factor: no member owns more than
	// ceil(Load*P/members) partitions. Must be >= 1.
	Load float64
	// Priority orders the election ring: higher priority leads first.
	Priority int
	// Weight is this member's share of the partitions relative to the
	// others (rebalance.Config.Weights): with weights 1 and 2 the second
	// gets about twice as many. In [0.01, 100].
	Weight float64
	// Zone is this member's failure domain (a Kubernetes zone, a rack):
	// with members in two zones or more, each partition's standbys are in
	// other zones than its owner's. "" for none.
	Zone string
	// Standbys is how many standby owners the leader lists for each
	// partition (0 to rebalance.MaxStandbys): the members next in line,
	// which take over on a failover and whose apps may warm caches. The
	// leader's is in force.
	Standbys int
	// BootstrapExpect is how many members must be seen before the first
	// configuration is formed. 0 means: bootstrap alone if Join is empty,
	// otherwise wait to join an existing cluster.
	BootstrapExpect int
	// Voters is how many members vote in elections and count for the
	// majority (odd: 1, 3, 5, 7 or 9). The leader keeps that many among the
	// live members, stickily; the others are members without a vote, so
	// pods coming and going never cost the majority.
	Voters int
	// GossipKeyFile holds base64 AES keys (16, 24 or 32 bytes), one per
	// line, that encrypt all gossip and peer messages: the first encrypts,
	// all decrypt. With --data-dir, keys changed at run time (the admin
	// API) are kept there and win over this file at the next start.
	GossipKeyFile string
	// AdminTokenFile holds the bearer token the admin endpoints require.
	// It is read again on SIGHUP and whenever it changes.
	AdminTokenFile string
	// TLSCertFile and TLSKeyFile, both or neither, make the API listener
	// (--http-addr) serve HTTPS with this PEM certificate chain and key.
	// They are read again on SIGHUP and whenever they change.
	TLSCertFile string
	TLSKeyFile  string
	// DataDir, when set, keeps the term and vote on disk so fencing tokens and
	// votes survive a restart without relying on wall clocks.
	DataDir string
	// ClusterLabel keeps other clusters out: memberlist drops packets with a
	// different label.
	ClusterLabel string
	// LogLevel is trace, debug, info, warn or error.
	LogLevel string
	// LogJSON switches the log format to JSON lines.
	LogJSON bool

	// Preempt lets a higher-ranked member take over from a sitting leader once
	// it has been alive for Settle.
	Preempt bool

	// HeartbeatInterval is how often the leader heartbeats every member; each
	// acknowledgement renews the member's lease.
	HeartbeatInterval time.Duration
	// LeaderTimeout is how long a follower waits without a heartbeat before it
	// campaigns.
	LeaderTimeout time.Duration
	// ElectionTimeout bounds each election phase (asking higher-ranked members,
	// collecting votes).
	ElectionTimeout time.Duration
	// LeaderLease is how long a leader may act after a majority acknowledged a
	// heartbeat (counted from when it sent the heartbeat).
	LeaderLease time.Duration
	// Lease is how long a member holds its partitions after it sent a renewal
	// that the leader granted.
	Lease time.Duration
	// Drift is the assumed bound on clock rate difference (0.05 = 5%).
	Drift float64
	// SafetyMargin is added on top of the drift-scaled lease before the leader
	// gives away a silent member's partitions.
	SafetyMargin time.Duration
	// Settle is how long a membership change is batched before it changes the
	// table, and how long a new member waits before it gets partitions.
	Settle time.Duration
	// FlapHoldDown is how long a member that came back from an outage within
	// its process (a flap: dead in gossip, or silent to the leader for a
	// lease) waits before it gets partitions again, doubling with each
	// further flap (capped at 16×); 0 turns flap damping off. A restart is
	// a new process and only waits Settle.
	FlapHoldDown time.Duration
	// MoveBudget is how many partitions a rebalance may have in a handoff
	// at once (0: a tenth of Partitions, at least one); MoveCooldown how
	// long after a partition got an owner a rebalance may move it again (0:
	// at once). Drains, leaves and failovers are never held back by either
	// (core.Options).
	MoveBudget   int
	MoveCooldown time.Duration
	// ReleaseTimeout bounds how long a member waits for its app to acknowledge
	// a release before it lets the partition go anyway.
	ReleaseTimeout time.Duration
	// AppLivenessTimeout, when > 0, drains this member once its
	// application has not polled GET /partitions/mine for that long (a
	// long-poll counts until its wait ends), as Kafka's max.poll.interval
	// does: an application that hangs with its partitions loses them
	// instead of holding them up. The member takes partitions again at the
	// application's next poll. 0 (default): off.
	AppLivenessTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown (drain, leave, stop HTTP).
	ShutdownTimeout time.Duration
	// ShutdownMode is what SIGTERM does with this member's partitions:
	// ShutdownDrain moves them to other members (the default);
	// ShutdownRestart releases them and has the leader keep them, owned by
	// nobody, for RejoinGrace, for the member's next process under the
	// same name (a StatefulSet pod), which gets them back without a
	// second reshuffle.
	ShutdownMode string
	RejoinGrace  time.Duration
	// RejoinInterval is how often an isolated member tries its seeds again.
	RejoinInterval time.Duration
	// DeadVoterTimeout is how long a voter may be dead before the leader
	// replaces it with a live member (or drops it, while at least three
	// voters remain). Short: the replacement costs nothing, and a dead voter
	// is one failure less that the majority can absorb.
	DeadVoterTimeout time.Duration
	// DeadMemberTimeout is how long a dead member stays listed (table and
	// API) before it is forgotten; it bounds the lists under churn.
	DeadMemberTimeout time.Duration

	// GossipProfile picks memberlist's timing defaults: "lan"; "wan"
	// (a fifth of the gossip traffic and CPU, failure detection in tens of
	// seconds: for clusters of hundreds of members or slow links); or
	// "local" (loopback and tests: faster failure detection).
	GossipProfile string

	// TimingProfile names the set of timing settings (TimingProfiles) that
	// the command line applies to every timing nobody set: "default" or
	// "fast".
	TimingProfile string
}

// TimingProfiles are named sets of timing settings, by flag name, that
// --timing-profile applies to the settings no flag, variable or file set.
// "default" is DefaultConfig's. "fast" fails over within a second on a
// quick LAN, for more packets and a shorter deadline for the leader's
// application (docs/operations.md, "The fast profile"): a follower's
// partitions move about lease*(1+drift)+margin = 0.8 s after it crashed, a
// crashed leader's about leader-lease*(1+drift)+margin = 0.6 s after its
// last heartbeat, while the election takes leader-timeout plus a few round
// trips; the lease still outlasts a failover (300 ms + 2*100 ms + 2*50 ms).
var TimingProfiles = map[string]map[string]string{
	"default": {},
	"fast": {
		"heartbeat-interval": "50ms",
		"leader-timeout":     "300ms",
		"election-timeout":   "100ms",
		"leader-lease":       "500ms",
		"lease":              "700ms",
		"safety-margin":      "50ms",
		"settle":             "500ms",
	},
}

// Resolved is a Config that passed every check of Config.Resolve, with the
// secrets its files hold, read once. Start and Run take it and read no
// configuration file themselves, so what starts is what was checked. Only
// the secret files (admin token, TLS certificate, gossip keys) are read
// again later, on SIGHUP or when they change (daemon/secrets.go), each kept
// as it was when the new content does not read. Start refuses the zero
// value.
type Resolved struct {
	cfg         Config
	gossipKeys  [][]byte         // from --gossip-key-file, the primary first; nil without one
	adminTokens []string         // from --admin-token-file; nil without one
	tlsCert     *tls.Certificate // from --tls-cert-file and --tls-key-file; nil without
	resolved    bool             // set only by Resolve
}

// Config returns the checked settings.
func (r Resolved) Config() Config {
	c := r.cfg
	c.Join = slices.Clone(c.Join) // the caller cannot change r through it
	return c
}

// DefaultConfig returns the LAN defaults. Each carries its reason; the
// timings are in docs/operations.md ("Timing") with what they cost.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		// The pod name in a StatefulSet: unique and stable across restarts.
		Name: host,
		// memberlist's usual port, on every interface so peers reach it.
		GossipAddr: "0.0.0.0:7946",
		// Loopback: only the local application should talk to its member.
		HTTPAddr: "127.0.0.1:7070",
		// Empty: nothing to seed from, so a lone member bootstraps (development).
		Join: nil,
		// The default of buraksezer/consistent and Hazelcast: a prime, so keys an
		// app maps with PartitionOf spread evenly; tens of members get many each.
		Partitions: rebalance.DefaultPartitions,
		// buraksezer/consistent's default: at most 25% above the average per
		// member, where 1 would move more partitions on each membership change.
		Load: rebalance.DefaultLoad,
		// 0 on every member: the election order is then the names.
		Priority: 0,
		// Every member the same share.
		Weight: 1,
		// 0: with --join, join an existing cluster rather than form one.
		BootstrapExpect: 0,
		// Five voters survive two failures at once; more only slow elections.
		Voters: 5,
		// None: gossip unencrypted until the operator provides a key.
		GossipKeyFile: "",
		// None: admin routes answer only over loopback (restapi/auth.go).
		AdminTokenFile: "",
		// None: a new voter identity on every start (docs/architecture.md, "Restarts and state").
		DataDir: "",
		// Keeps other memberlist clusters' packets out even when nobody sets one.
		ClusterLabel: "ringd",
		// Ownership and leadership changes, not every message.
		LogLevel: "info",
		// Text reads well in kubectl logs; log collectors turn JSON on.
		LogJSON: false,
		// Leadership follows --priority, damped (docs/architecture.md).
		Preempt: true,
		// Renewal and table-sync latency; 15 renewals fit in one lease.
		HeartbeatInterval: 200 * time.Millisecond,
		// Five heartbeats: a follower rides out a few lost ones before it campaigns.
		LeaderTimeout: 1 * time.Second,
		// Two heartbeats per phase: a LAN round trip under load, and a failover
		// (1 s + 2*400 ms + 2*200 ms = 2.2 s) well inside the 3 s lease.
		ElectionTimeout: 400 * time.Millisecond,
		// Five heartbeats; short, since a new leader waits it out before granting.
		LeaderLease: 1 * time.Second,
		// Outlasts a failover (2.2 s): a leader change makes no member drop its partitions.
		Lease: 3 * time.Second,
		// Generous: quartz clocks and NTP slewing stay far below 1%.
		Drift: 0.05,
		// One heartbeat interval of message delay and scheduling on top of drift.
		SafetyMargin: 200 * time.Millisecond,
		// Batches a rolling restart's changes into few table changes.
		Settle: 2 * time.Second,
		// Longer than a typical flap period (link or node trouble that comes
		// back within tens of seconds): a member back from an outage waits
		// it out with its share spread over the others, rather than taking
		// its partitions back only to lose them again (two handoffs each).
		// Waiting costs balance, not coverage (docs/operations.md).
		FlapHoldDown: 30 * time.Second,
		// A big change (many joins at once) moves a tenth of the
		// partitions at a time, so most of the table keeps working; each
		// handoff takes only the applications' acknowledgements.
		MoveBudget: 0,
		// Plan keeps what it placed, so partitions do not swing back and
		// forth without one: off.
		MoveCooldown: 0,
		// Time for an app to finish in-flight work before a partition goes anyway.
		ReleaseTimeout: 10 * time.Second,
		// A drain waits up to --release-timeout, then hands over and leaves:
		// room for that, below the chart's pod grace period (45 s).
		ShutdownTimeout: 30 * time.Second,
		ShutdownMode:    ShutdownDrain,
		RejoinGrace:     time.Minute,
		// An isolated member heals within seconds without hammering its seeds.
		RejoinInterval: 5 * time.Second,
		// Short: a replacement costs nothing, a dead voter is one failure less
		// the majority can absorb.
		DeadVoterTimeout: 10 * time.Second,
		// Bounds the member lists under churn; long enough to see on /cluster.
		DeadMemberTimeout: time.Minute,
		// Pods on a network; "local" is for loopback clusters and tests.
		GossipProfile: "lan",
		// Failover in a few seconds at little cost; "fast" is opt-in.
		TimingProfile: "default",
		// None: probes and metrics share --http-addr.
		OpsAddr: "",
		// Derived from --http-addr and the gossip address (advertisedHTTPAddr).
		HTTPAdvertiseAddr: "",
		// None: --gossip-addr is what peers reach.
		AdvertiseAddr: "",
	}
}

// EffectiveMoveBudget is MoveBudget, or a tenth of Partitions (at least one)
// when it is 0.
func (c Config) EffectiveMoveBudget() int {
	if c.MoveBudget > 0 {
		return c.MoveBudget
	}
	return max(1, (c.Partitions+9)/10)
}

// The values of Config.ShutdownMode (--shutdown).
const (
	ShutdownDrain   = "drain"
	ShutdownRestart = "restart"
)
