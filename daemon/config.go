package daemon

import (
	"os"
	"time"
)

// Config is everything a ringd member needs to run. Every field is settable
// from the command line (cmd/ringd), as RINGD_<FLAG> and from a config file.
// DefaultConfig gives LAN defaults; Validate names the first bad field of each
// kind with its bound.
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
	// BootstrapExpect is how many members must be seen before the first
	// configuration is formed. 0 means: bootstrap alone if Join is empty,
	// otherwise wait to join an existing cluster.
	BootstrapExpect int
	// Voters is how many members vote in elections and count for the
	// majority (odd: 1, 3, 5, 7 or 9). The leader keeps that many among the
	// live members, stickily; the others are members without a vote, so
	// pods coming and going never cost the majority.
	Voters int
	// GossipKeyFile holds a base64 AES key (16, 24 or 32 bytes) that encrypts
	// all gossip and peer messages.
	GossipKeyFile string
	// AdminTokenFile holds the bearer token the admin endpoints require.
	AdminTokenFile string
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
	// ReleaseTimeout bounds how long a member waits for its app to acknowledge
	// a release before it lets the partition go anyway.
	ReleaseTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown (drain, leave, stop HTTP).
	ShutdownTimeout time.Duration
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

	// GossipProfile picks memberlist's timing defaults: "lan" or "local"
	// (loopback and tests: faster failure detection).
	GossipProfile string
}

// DefaultConfig returns the LAN defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Name:              host,
		GossipAddr:        "0.0.0.0:7946",
		HTTPAddr:          "127.0.0.1:7070",
		Partitions:        271,
		Load:              1.25,
		ClusterLabel:      "ringd",
		LogLevel:          "info",
		Preempt:           true,
		HeartbeatInterval: 200 * time.Millisecond,
		LeaderTimeout:     1 * time.Second,
		ElectionTimeout:   400 * time.Millisecond,
		LeaderLease:       1 * time.Second,
		Lease:             3 * time.Second,
		Drift:             0.05,
		SafetyMargin:      200 * time.Millisecond,
		Settle:            2 * time.Second,
		ReleaseTimeout:    10 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		RejoinInterval:    5 * time.Second,
		Voters:            5,
		DeadVoterTimeout:  10 * time.Second,
		DeadMemberTimeout: time.Minute,
		GossipProfile:     "lan",
	}
}
